package daemon

import (
	"time"

	"github.com/focussync/focussync/syncer"
)

// failureSummaryEvery is how often files that keep failing are summarised in the
// log; each failure is logged in full when it first appears.
const failureSummaryEvery = time.Hour

// reportFailures logs files that started or stopped failing since the last pass,
// and, at most once an hour, how many keep failing: a file that fails at every pass
// does not fill the log.
func (w *worker) reportFailures(now []syncer.Failure) {
	w.mu.Lock()
	prev := w.status.Failures
	w.mu.Unlock()
	t := w.d.clock.Now()
	before := map[string]bool{}
	for _, f := range prev {
		before[f.Path] = true
	}
	if len(before) == 0 && len(now) > 0 {
		w.summarised = t
	}
	after := map[string]bool{}
	for _, f := range now {
		after[f.Path] = true
		if !before[f.Path] {
			w.log.Warn("file not synced", "file", f.Path, "reason", f.Reason)
		}
	}
	for _, f := range prev {
		if !after[f.Path] {
			w.log.Info("file no longer failing", "file", f.Path)
		}
	}
	if len(now) > 0 && len(before) > 0 && t.Sub(w.summarised) >= failureSummaryEvery {
		w.log.Warn("files still not synced", "count", len(now), "e.g.", now[0].Path, "reason", now[0].Reason)
		w.summarised = t
	}
}

// reportSkipped logs each file left alone for a lasting reason (too large,
// unreadable, refused) once, when it is first seen; files still settling are not
// worth a line.
func (w *worker) reportSkipped(now []syncer.Skip) {
	seen := map[string]bool{}
	for _, sk := range now {
		if sk.Settling() {
			continue
		}
		seen[sk.Path] = true
		if !w.skipped[sk.Path] {
			syncer.LogSkipped(w.log, sk)
		}
	}
	w.skipped = seen
}

// reportHeld logs a pause or held deletes when they start and when they end, not
// at every pass.
func (w *worker) reportHeld(res *syncer.Result) {
	w.mu.Lock()
	prevPaused, prevHeld := w.status.Paused, w.status.Held
	w.mu.Unlock()
	switch {
	case res.Paused != "" && res.Paused != prevPaused:
		w.log.Warn("folder paused", "reason", res.Paused)
	case res.Paused == "" && prevPaused != "":
		w.log.Info("folder resumed")
	}
	switch {
	case res.Held != "" && res.Held != prevHeld:
		w.log.Warn("deletes held back", "reason", res.Held)
	case res.Held == "" && prevHeld != "":
		w.log.Info("deletes no longer held")
	}
}
