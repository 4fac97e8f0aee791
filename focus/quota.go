package focus

import (
	"sync"
	"time"
)

// Quota is the shared view of one organization's hourly request quota, updated from
// the X-Toggl-Quota-Remaining and X-Toggl-Quota-Resets-In headers of every response.
// It is safe for concurrent use.
type Quota struct {
	mu        sync.Mutex
	known     bool
	remaining int
	resetAt   time.Time
	updated   time.Time
	changed   chan struct{}
}

// QuotaState is a copy of a Quota at one moment.
type QuotaState struct {
	Known     bool      // false until a response carried the headers
	Remaining int       // requests left in the window
	ResetAt   time.Time // when the window resets
	Updated   time.Time // when the headers were last seen
}

// State returns the current view.
func (q *Quota) State() QuotaState {
	q.mu.Lock()
	defer q.mu.Unlock()
	return QuotaState{Known: q.known, Remaining: q.remaining, ResetAt: q.resetAt, Updated: q.updated}
}

// Observe records the headers of one response, seen at now. A negative remaining
// means the header was absent; resetIn < 0 means its reset header was absent.
func (q *Quota) Observe(now time.Time, remaining int, resetIn time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	resetAt := q.resetAt
	if resetIn >= 0 {
		resetAt = now.Add(resetIn)
	}
	if remaining >= 0 {
		// Responses to concurrent requests may arrive out of order: within one
		// window the count only goes down, so a larger one is stale.
		sameWindow := q.known && !q.resetAt.IsZero() && absDuration(resetAt.Sub(q.resetAt)) < 2*time.Second && now.Before(q.resetAt)
		if !sameWindow || remaining < q.remaining {
			q.remaining = remaining
		}
		q.known = true
	}
	q.resetAt = resetAt
	q.updated = now
	if q.changed != nil {
		close(q.changed)
		q.changed = nil
	}
}

// Exhausted records a 402: nothing is left until now+resetIn.
func (q *Quota) Exhausted(now time.Time, resetIn time.Duration) {
	q.Observe(now, 0, resetIn)
}

// Changed returns a channel that is closed the next time the view changes.
func (q *Quota) Changed() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.changed == nil {
		q.changed = make(chan struct{})
	}
	return q.changed
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
