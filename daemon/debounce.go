package daemon

import "time"

// maxDebounce bounds how long changes that keep coming can put off a pass.
const maxDebounce = time.Minute

// debounceWait is the one place that decides how long after a change the
// folder's pass runs. dirtySince is when the first change not yet passed over was
// seen, now the time of the latest one.
//
// A burst of changes is waited out (each change restarts the wait), so that files
// dropped together go up together: Options.Debounce normally, and
// Options.ScarceDebounce when the organization's quota is nearly spent, to fill
// bigger batches. A folder that never stops changing still gets a pass every
// maxDebounce.
func (w *worker) debounceWait(dirtySince, now time.Time) time.Duration {
	wait := w.d.opt.Debounce
	q := w.d.engine.Budget(w.f.Task.OrganizationID).Quota().State()
	if q.Known && q.Remaining < 5 {
		wait = w.d.opt.ScarceDebounce
	}
	if left := dirtySince.Add(maxDebounce).Sub(now); wait > left {
		wait = max(left, 0)
	}
	return wait
}
