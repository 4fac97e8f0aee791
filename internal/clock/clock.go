// Package clock gives long-running code its time as a dependency: the real clock
// in production, and a fake one whose time tests advance by hand, so that timers,
// debounces and intervals are tested in microseconds and without sleeps.
package clock

import "time"

// Clock tells the time and makes timers.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that sends the time on its channel once d has
	// passed; d <= 0 fires at once.
	NewTimer(d time.Duration) Timer
}

// Timer is a single-shot timer of a Clock, with the semantics of time.Timer
// since Go 1.23: after Stop or Reset returns, no stale time is received.
type Timer interface {
	// C is the channel the timer fires on.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether the call stopped it.
	Stop() bool
	// Reset makes the timer fire after d (once); it reports whether the timer was
	// active.
	Reset(d time.Duration) bool
}

// Real is the system clock.
type Real struct{}

var _ Clock = Real{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// NewTimer returns a time.Timer.
func (Real) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

// Or returns c, or the real clock when c is nil.
func Or(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}
