package daemon

import "time"

// maxDebounce bounds how long changes that keep coming can put off a pass.
const maxDebounce = time.Minute

// debounceWait is the one place that decides how long after a change the
// folder's pass runs. dirtySince is when the first change not yet passed over was
// seen, now the time of the latest one.
//
// Each change restarts the wait, so a burst is waited out and files dropped
// together go up together. With room in the quota the wait is the folder's
// settle time (Options.Debounce at least): the file that changed last is ready
// the moment the pass runs, and is sent at once instead of a settle later.
// When the organization's quota is nearly spent the wait is
// Options.ScarceDebounce, to fill bigger batches. A folder that never stops
// changing still gets a pass every maxDebounce.
func (w *worker) debounceWait(dirtySince, now time.Time) time.Duration {
	wait := max(w.f.Settle, w.d.opt.Debounce)
	q := w.d.engine.Budget(w.f.OrganizationID).Quota().State()
	if q.Known && q.Remaining < scarceRemaining {
		wait = max(wait, w.d.opt.ScarceDebounce)
	}
	if left := dirtySince.Add(maxDebounce).Sub(now); wait > left {
		wait = max(left, 0)
	}
	return wait
}

// scarceRemaining is the quota left below which the daemon gathers changes for
// ScarceDebounce.
const scarceRemaining = 5
