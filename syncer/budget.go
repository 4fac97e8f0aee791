package syncer

import (
	"context"
	"sync"
	"time"

	"github.com/focussync/focussync/focus"
)

// Priority orders the work that competes for a scarce quota (DESIGN.md section 2):
// uploads first, then deletes, renames, reorders, and verification last.
type Priority int

// The priorities, most urgent first.
const (
	PriorityUpload Priority = iota
	PriorityDelete
	PriorityRename
	PriorityReorder
	PriorityVerify
)

// Budget spends one organization's hourly quota. It is shared by every folder of the
// organization: a request is sent only when the quota view says one is left, and
// when none is, callers wait for the reset instead of collecting 402s.
// Verification lists are sent only from spare quota: when what remains exceeds the
// work other folders have announced, plus a reserve.
//
// With a SharedQuota (hosts that share a token and an organization, coordinated
// through etcd), every request also needs the shared budget's consent, after this
// host's own checks: the shared count is the one that keeps the hosts together
// within the plan, while this host's view of its own headers still orders its
// requests by priority and keeps it to one request at a time while it knows nothing.
type Budget struct {
	quota  *focus.Quota
	now    func() time.Time
	shared SharedQuota // nil: this host follows the headers on its own

	mu       sync.Mutex
	inflight int
	probing  bool        // the request in flight is the shared budget's probe of a new window
	pending  map[any]int // announced write requests by owner
	waiting  [PriorityVerify + 1]int
	release  chan struct{} // closed and replaced at each Release
}

// SharedQuota is an organization's request budget kept outside this process and
// drawn from by every host that shares the API token's user and the organization
// (cluster.EtcdQuota keeps one in etcd). Its methods are safe for concurrent use;
// each bounds its own calls in time.
type SharedQuota interface {
	// Spend takes one request from the shared budget before it is sent. local is
	// this host's own view of the quota. It returns wait > 0 when nothing may be
	// sent now (none left, or another host is learning a new window): ask again
	// after at most wait. probe is true when the request is the only one that all
	// hosts may send while the window is unknown: its headers seed the budget. An
	// error means that no decision can be had (the budget has been out of reach
	// too long): the request is not sent.
	Spend(ctx context.Context, local focus.QuotaState) (probe bool, wait time.Duration, err error)
	// Settle ends a request that Spend allowed, once its response or failure is in;
	// seen is this host's quota view after it.
	Settle(probe bool, seen focus.QuotaState)
	// Left is what the shared budget had left when last seen; false when unknown.
	Left() (int, bool)
}

// NewBudget returns a budget over the quota view q.
func NewBudget(q *focus.Quota, now func() time.Time) *Budget {
	if now == nil {
		now = time.Now
	}
	return &Budget{quota: q, now: now, pending: map[any]int{}}
}

// Share makes every later request also draw from the shared budget s; nil returns
// the budget to following this host's own headers.
func (b *Budget) Share(s SharedQuota) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.shared = s
}

func (b *Budget) sharedQuota() SharedQuota {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.shared
}

// Quota returns the quota view the budget spends.
func (b *Budget) Quota() *focus.Quota { return b.quota }

// Announce records that owner has n write requests queued; verification waits
// until the quota covers all announced work. n = 0 withdraws the announcement.
func (b *Budget) Announce(owner any, n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n <= 0 {
		delete(b.pending, owner)
		return
	}
	b.pending[owner] = n
}

// verifyReserve is what verification leaves untouched besides the announced work.
const verifyReserve = 2

// Acquire waits until a request of priority p may be sent, and reserves it. Every
// successful Acquire must be followed by Release once the response (or failure) is
// in. It returns ctx.Err() when ctx ends first.
func (b *Budget) Acquire(ctx context.Context, p Priority) error {
	b.mu.Lock()
	b.waiting[p]++
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.waiting[p]--
		b.mu.Unlock()
	}()
	for {
		changed, released := b.quota.Changed(), b.released()
		wait, ok := b.try(p)
		if ok {
			shared := b.sharedQuota()
			if shared == nil {
				return nil
			}
			probe, w, err := shared.Spend(ctx, b.quota.State())
			if err == nil && w <= 0 {
				b.mu.Lock()
				b.probing = probe
				b.mu.Unlock()
				return nil
			}
			// Withdrawn without waking the others: they would only ask the shared
			// budget the same question again.
			b.mu.Lock()
			b.inflight--
			b.mu.Unlock()
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return err
			}
			wait = w
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-changed:
		case <-released:
		case <-t.C:
		}
		t.Stop()
	}
}

// try reserves a request if one may be sent now; otherwise it says how long to wait
// at most before looking again (a quota change or a Release also wakes the caller).
func (b *Budget) try(p Priority) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.probing {
		// The shared budget's probe of a new window goes alone.
		return time.Second, false
	}
	st := b.quota.State()
	now := b.now()
	known := st.Known && (st.ResetAt.IsZero() || now.Before(st.ResetAt))
	if !known {
		// Nothing learnt yet, or the window has reset since: one request at a time
		// until a response tells us what is left.
		if b.inflight > 0 {
			return time.Second, false
		}
		b.inflight++
		return 0, true
	}
	left := st.Remaining - b.inflight
	if p == PriorityVerify {
		need := verifyReserve
		for _, n := range b.pending {
			need += n
		}
		for q := PriorityUpload; q < PriorityVerify; q++ {
			need += b.waiting[q]
		}
		if left <= need {
			return b.untilReset(st, now), false
		}
	} else {
		// A more urgent request waiting goes first.
		for q := PriorityUpload; q < p; q++ {
			if b.waiting[q] > 0 && left <= b.waiting[q] {
				return time.Second, false
			}
		}
	}
	if left <= 0 {
		return b.untilReset(st, now), false
	}
	b.inflight++
	return 0, true
}

func (b *Budget) untilReset(st focus.QuotaState, now time.Time) time.Duration {
	if st.ResetAt.IsZero() {
		return time.Minute
	}
	// A little past the reset, so the server's window has surely turned.
	d := st.ResetAt.Sub(now) + 250*time.Millisecond
	if d < 50*time.Millisecond {
		d = 50 * time.Millisecond
	}
	return d
}

// released returns a channel closed at the next Release.
func (b *Budget) released() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.release == nil {
		b.release = make(chan struct{})
	}
	return b.release
}

// Release ends a request reserved by Acquire. With a shared budget, the headers of
// its response go to the shared budget before any other request of this host is let
// through.
func (b *Budget) Release() {
	b.mu.Lock()
	shared, probe := b.shared, b.probing
	b.mu.Unlock()
	if shared != nil {
		shared.Settle(probe, b.quota.State())
	}
	b.end()
}

// end frees the reservation of a request and wakes the callers that wait.
func (b *Budget) end() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inflight > 0 {
		b.inflight--
	}
	b.probing = false
	if b.release != nil {
		close(b.release)
		b.release = nil
	}
}

// Spare reports whether a verification list could be sent now without taking
// quota from announced work.
func (b *Budget) Spare() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	need := verifyReserve
	for _, n := range b.pending {
		need += n
	}
	st := b.quota.State()
	left, known := st.Remaining-b.inflight, st.Known && (st.ResetAt.IsZero() || b.now().Before(st.ResetAt))
	if b.shared != nil {
		// Other hosts spend from the same quota: what they left counts.
		if n, ok := b.shared.Left(); ok {
			if !known || n < left {
				left = n
			}
			known = true
		}
	}
	return !known || left > need
}
