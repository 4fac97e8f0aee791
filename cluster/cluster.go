// Package cluster decides who may write to which task: however many hosts or
// processes see a folder, at most one of them sends writes for its task at any
// moment (DESIGN.md §3, rule 8). Each process contends for a per-task lease; the
// holder writes, the others are standbys that watch and scan but send nothing, and
// a standby takes the lease over when the holder goes silent.
//
// A Coordinator hands out the leases. NewShare keeps each lease in a small record
// on the share itself, in the folder (no server needed); see share.go for how it
// stays safe on SMB and NFS.
//
// Fencing: a Lease says writes may be sent only while this process is sure that it
// still holds the lease, by a margin that leaves in-flight requests time to finish
// before any other process could take the lease over. Elapsed time is measured on
// the monotonic clock and, where the system has one, on a clock that keeps running
// while the machine is suspended, so that a frozen process or a paused VM never
// wakes up believing it still holds a lease that has lapsed.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Task identifies a Focus task across hosts: the lease is keyed by it, not by any
// local path, because hosts mount one share at different paths.
type Task struct {
	Organization int64
	Workspace    int64
	Task         int64
}

// String renders the task as "organization/workspace/task".
func (t Task) String() string {
	return fmt.Sprintf("%d/%d/%d", t.Organization, t.Workspace, t.Task)
}

// Role is what this process is for a task.
type Role string

// The roles.
const (
	// RoleStarting: the lease has not been looked at yet.
	RoleStarting Role = "starting"
	// RoleHolder: this process holds the lease and may write.
	RoleHolder Role = "holder"
	// RoleStandby: another process holds the lease, or it is being contended.
	RoleStandby Role = "standby"
	// RolePaused: the lease cannot be read or written; nothing is sent.
	RolePaused Role = "paused"
)

// Holder describes the process that holds a lease, as it announced itself.
type Holder struct {
	Node     string    `json:"node"`     // node_name of its host
	Instance string    `json:"instance"` // random id of the process
	Folder   string    `json:"folder"`   // the folder's path on its host
	Since    time.Time `json:"since"`    // when it took the lease, by its own clock
}

// Status is a snapshot of one lease, for status pages and metrics.
type Status struct {
	Role Role `json:"role"`
	// Holder is the current holder (this process when Role is RoleHolder); zero
	// when nobody holds the lease.
	Holder Holder `json:"holder,omitzero"`
	// Age is how long the current holder has held the lease, as seen from here.
	Age time.Duration `json:"age"`
	// Takeovers counts how often the task's lease passed from a holder that had not
	// released it to another process.
	Takeovers int `json:"takeovers"`
	// Reason says why the lease is paused, or names a conflict.
	Reason string `json:"reason,omitempty"`
}

// String renders the status as status pages show it, e.g. "standby, held by
// ws-12 since 2026-12-02 09:14:03 UTC".
func (s Status) String() string {
	switch s.Role {
	case RoleHolder:
		return fmt.Sprintf("holder since %s", s.Holder.Since.UTC().Format("2006-01-02 15:04:05 MST"))
	case RoleStandby:
		if s.Holder.Node == "" && s.Holder.Instance == "" {
			return "standby, contending for the lease"
		}
		return fmt.Sprintf("standby, held by %s since %s", s.Holder.Node, s.Holder.Since.UTC().Format("2006-01-02 15:04:05 MST"))
	case RolePaused:
		return "paused: " + s.Reason
	default:
		return string(s.Role)
	}
}

// ErrNotHolder is wrapped by the errors of Lease.Check: this process may not send
// writes for the task now.
var ErrNotHolder = errors.New("not the holder of the task's lease")

// Coordinator hands out per-task leases to this process.
type Coordinator interface {
	// Join starts contending for the lease of task t, for the folder at dir. The
	// lease is contended in the background until it is released; Join fails only
	// when the lease cannot be set up at all (an invalid task or folder). Joining a
	// task twice without releasing it is an error.
	Join(t Task, dir string) (*Lease, error)
	// Close releases every lease that is still joined (the holder's, so that a
	// standby takes over at once) and stops contending. It returns the first error
	// met, after trying every lease.
	Close(ctx context.Context) error
}

// Lease is one task's lease as this process sees it. Its methods are safe for
// concurrent use.
type Lease struct {
	task    Task
	clock   *clock
	release func(ctx context.Context) error // stops the contender and releases
	abandon func()                          // stops the contender as a crash would (tests)
	// decideWithin bounds how long the first look at the lease, or a claim, takes.
	decideWithin time.Duration
	// look, when set, asks the contender to look at the lease now rather than at
	// its next interval; the channel it returns is closed once it has looked.
	look func() <-chan struct{}

	mu       sync.Mutex
	role     Role
	holder   Holder
	heldAt   time.Time // local monotonic time the current holder was first seen holding
	fence    stamp     // writes allowed until fence + fenceFor (this process holds)
	fenceFor time.Duration
	take     int
	reason   string
	adopt    bool          // the next writing pass must list and adopt first
	claiming bool          // a claim of this process awaits its read-back
	changed  chan struct{} // closed at the next change of role or holder
	released bool
}

func newLease(t Task, c *clock) *Lease {
	return &Lease{task: t, clock: c, role: RoleStarting, changed: make(chan struct{})}
}

// Task returns the task the lease is for.
func (l *Lease) Task() Task { return l.task }

// Check returns nil when this process may send a write for the task now, and
// otherwise an error wrapping ErrNotHolder that says why. It must be called
// before every write request; the answer holds until Deadline.
func (l *Lease) Check() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch l.role {
	case RoleHolder:
		if l.clock.since(l.fence) < l.fenceFor {
			return nil
		}
		return fmt.Errorf("task %s: %w: its last renewal is too old to be sure it is still held", l.task, ErrNotHolder)
	case RolePaused:
		return fmt.Errorf("task %s: %w: %s", l.task, ErrNotHolder, l.reason)
	case RoleStandby:
		if l.holder.Node != "" {
			return fmt.Errorf("task %s: %w: held by %s", l.task, ErrNotHolder, l.holder.Node)
		}
		return fmt.Errorf("task %s: %w", l.task, ErrNotHolder)
	default:
		return fmt.Errorf("task %s: %w: not contended yet", l.task, ErrNotHolder)
	}
}

// Deadline returns the local time after which a write may no longer be sent
// unless the lease is renewed meanwhile, and false when no write may be sent now.
// A request's body should be handed over entirely before it.
func (l *Lease) Deadline() (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.role != RoleHolder {
		return time.Time{}, false
	}
	left := l.fenceFor - l.clock.since(l.fence)
	if left <= 0 {
		return time.Time{}, false
	}
	return l.clock.now().Add(left), true
}

// Await waits until this process knows whether it holds the lease: past the
// first look at it and past a claim of its own that awaits its read-back. It
// returns early when ctx ends or max has passed.
func (l *Lease) Await(ctx context.Context, max time.Duration) {
	t := time.NewTimer(max)
	defer t.Stop()
	for {
		l.mu.Lock()
		undecided := l.role == RoleStarting || l.claiming
		ch := l.changed
		l.mu.Unlock()
		if !undecided {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			return
		case <-ch:
		}
	}
}

// Recheck makes the contender look at the lease now, when nobody holds it as far
// as this process knows (a released lease, or a folder that was empty at the last
// look), and waits until it has looked or max has passed: a folder that has just
// received its first file claims its lease at once, instead of at the
// contender's next interval. It does nothing while a holder is known.
func (l *Lease) Recheck(ctx context.Context, max time.Duration) {
	l.mu.Lock()
	idle := l.role == RoleStandby && !l.claiming && l.holder == (Holder{})
	l.mu.Unlock()
	if !idle || l.look == nil {
		return
	}
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-l.look():
	}
}

// Changed returns a channel that is closed at the next change of role or holder.
func (l *Lease) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

// TakeAdopt reports whether this process has become the holder after another
// process may have written to the task, and clears the mark: the caller's next
// pass must list the task and adopt what is there before planning from its own
// records, which may be stale. It reports false while this process does not hold
// the lease.
func (l *Lease) TakeAdopt() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.role != RoleHolder || !l.adopt {
		return false
	}
	l.adopt = false
	return true
}

// Status returns a snapshot of the lease.
func (l *Lease) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := Status{Role: l.role, Holder: l.holder, Takeovers: l.take, Reason: l.reason}
	if !l.heldAt.IsZero() && (l.holder.Instance != "" || l.holder.Node != "") {
		st.Age = l.clock.now().Sub(l.heldAt)
	}
	return st
}

// Release stops contending and, when this process holds the lease, gives it up so
// that a standby can take over at once. After Release the lease allows no write.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return nil
	}
	l.released = true
	l.mu.Unlock()
	return l.release(ctx)
}

// notify wakes the watchers of Changed; l.mu is held.
func (l *Lease) notify() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// setClaiming records that this process has claimed the lease and awaits the
// read-back: a standby for now, with no known holder.
func (l *Lease) setClaiming(takeovers int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.take, l.reason = takeovers, ""
	l.role, l.holder, l.adopt, l.claiming = RoleStandby, Holder{}, false, true
	l.notify()
}

// setHolding records that this process holds the lease, renewed as of at: writes
// may be sent until at+fenceFor. adopt marks a takeover after another writer.
func (l *Lease) setHolding(me Holder, at stamp, fenceFor time.Duration, takeovers int, adopt bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fence, l.fenceFor, l.take = at, fenceFor, takeovers
	if adopt {
		l.adopt = true
	}
	changed := l.claiming
	l.claiming = false
	if l.role != RoleHolder || l.holder.Instance != me.Instance {
		l.role, l.holder, l.reason = RoleHolder, me, ""
		l.heldAt = l.clock.now()
		changed = true
	}
	if changed {
		l.notify()
	}
}

// renewed extends the fence of a holder.
func (l *Lease) renewed(at stamp) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.role == RoleHolder {
		l.fence = at
	}
}

// setStandby records that another process holds the lease (h is zero while
// nobody does).
func (l *Lease) setStandby(h Holder, takeovers int, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.take, l.reason = takeovers, reason
	changed := l.claiming
	l.claiming = false
	if l.role != RoleStandby || l.holder.Instance != h.Instance || l.holder.Node != h.Node {
		if l.holder.Instance != h.Instance || l.heldAt.IsZero() {
			l.heldAt = l.clock.now()
		}
		l.role, l.holder = RoleStandby, h
		l.adopt = false
		changed = true
	}
	if changed {
		l.notify()
	}
}

// setPaused records that the lease cannot be read or written.
func (l *Lease) setPaused(reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	changed := l.role != RolePaused || l.claiming
	l.claiming = false
	l.role, l.reason = RolePaused, reason
	l.adopt = false
	if changed {
		l.notify()
	}
}

// stamp is a moment on the local clocks: the monotonic clock (inside mono) and,
// where the system has one, a clock that keeps running while the machine sleeps.
type stamp struct {
	mono time.Time
	boot time.Duration // 0 when there is no such clock
}

// clock measures elapsed time for fencing. Tests replace now.
type clock struct {
	now  func() time.Time
	boot func() time.Duration // nil: none
}

func realClock() *clock { return &clock{now: time.Now, boot: bootTime} }

func (c *clock) stamp() stamp {
	s := stamp{mono: c.now()}
	if c.boot != nil {
		s.boot = c.boot()
	}
	return s
}

// since returns the time elapsed since s by the most pessimistic of the clocks:
// the monotonic clock stops while a machine is suspended, and the wall clock may
// be stepped, so the largest reading wins.
func (c *clock) since(s stamp) time.Duration {
	now := c.now()
	d := now.Sub(s.mono)
	if w := now.Round(0).Sub(s.mono.Round(0)); w > d {
		d = w
	}
	if c.boot != nil && s.boot != 0 {
		if b := c.boot() - s.boot; b > d {
			d = b
		}
	}
	return d
}
