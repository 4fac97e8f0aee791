package daemon

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/internal/clock"
	"github.com/focussync/focussync/internal/scope"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/syncer"
	"github.com/focussync/focussync/watcher"
)

// worker is one folder's serial loop: dirty marks, the rescan timer, retries and
// the verification timer all lead to one pass at a time. Its goroutine alone runs
// passes and touches the timers; other goroutines reach it through kick and the
// fields under mu.
type worker struct {
	d      *Daemon
	f      config.Folder
	key    state.FolderKey
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	kick   chan struct{}
	reqs   chan passRequest // passes asked for by a person (RunPass)

	mu        sync.Mutex
	status    FolderStatus
	confirmed bool // a person confirmed the held deletes: the next pass may send them

	summarised time.Time       // when persisting failures were last summarised
	skipped    map[string]bool // files skipped at the last pass, already logged

	// For idle: the loop's channels, set before waiting is first set.
	waiting     atomic.Bool // the loop is blocked in its select
	dirtySeen   atomic.Int64
	dirtyC      <-chan struct{}
	nextT, resT clock.Timer
}

// idle reports whether the loop is blocked with nothing to receive: no pass runs
// or is about to. Tests use it to know that the worker has caught up.
func (w *worker) idle() bool {
	if !w.waiting.Load() {
		return false
	}
	return len(w.kick) == 0 && len(w.dirtyC) == 0 && len(w.nextT.C()) == 0 && len(w.resT.C()) == 0
}

func newWorker(d *Daemon, f config.Folder) *worker {
	return &worker{d: d, f: f, key: syncer.FolderKey(f), done: make(chan struct{}), kick: make(chan struct{}, 1), reqs: make(chan passRequest),
		log:    d.log.With("folder", f.Path, "task", f.TaskID),
		status: FolderStatus{Path: f.Path, Task: f.TaskID, Organization: f.OrganizationID, State: "starting"}}
}

func (w *worker) stop() {
	w.cancel()
	<-w.done
}

func (w *worker) poke() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *worker) setStatus(fn func(*FolderStatus)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fn(&w.status)
}

// snapshot returns a copy of the folder's status that shares nothing with it.
func (w *worker) snapshot() FolderStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	fs := w.status
	fs.Failures = append([]syncer.Failure(nil), fs.Failures...)
	fs.Skipped = append([]syncer.Skip(nil), fs.Skipped...)
	return fs
}

// rescanEvery is the folder's rescan interval; it is shortened to the verify
// interval when that is shorter, since a pass verifies only when verification is
// due: this makes sure one comes.
func (w *worker) rescanEvery() time.Duration {
	rescan := w.f.Rescan
	if rescan <= 0 {
		rescan = config.DefaultRescan
	}
	if w.f.Verify > 0 && w.f.Verify < rescan {
		rescan = w.f.Verify
	}
	return rescan
}

// Retry back-off of a folder whose pass failed for a reason a later try may fix.
const (
	retryMin = time.Minute
	retryMax = time.Hour
)

func (w *worker) run(ctx context.Context) {
	// The patterns were checked when the config was loaded, with this very
	// matcher; one that fails here stops nothing: the scan reports it.
	var m *scope.Matcher
	if mm, err := scope.NewMatcher(w.f.Include, w.f.Exclude); err == nil {
		m = mm
	}
	wt, err := watcher.NewWatch(watcher.WatchOptions{Root: w.f.Path, Recursive: w.f.Recursive, Mode: w.f.Watch, Matcher: m, RootCheck: w.d.opt.RootCheck, Log: w.log})
	var dirty <-chan struct{}
	mode := "poll"
	if err != nil {
		w.log.Warn("cannot watch folder; relying on the periodic rescan", "err", err)
	} else {
		defer wt.Close()
		dirty = wt.Dirty()
		mode = wt.Mode()
	}
	w.setStatus(func(s *FolderStatus) { s.Watch = mode })
	rescan := w.rescanEvery()
	if err == nil && wt.Reason() != "" {
		w.log.Info("watching folder", "watch", mode, "why", wt.Reason(), "rescan", w.f.Rescan)
	} else {
		w.log.Info("watching folder", "watch", mode, "rescan", w.f.Rescan)
	}

	clk := w.d.clock
	// With a watch, the first pass waits for its first signal, sent once the
	// watches are set (at once when polling or when the root is missing): a
	// scan made then misses nothing, and the signal does not start a second
	// full pass right after the first. Without one, the first pass is at once.
	awaitWatch := dirty != nil
	next := clk.NewTimer(0)
	if awaitWatch {
		next.Stop()
	}
	defer next.Stop()
	rescanT := clk.NewTimer(rescan)
	defer rescanT.Stop()
	retry := time.Duration(0)
	var dirtySince time.Time // the first change not yet passed over
	first := true
	w.dirtyC, w.nextT, w.resT = dirty, next, rescanT
	for {
		var rq *passRequest // a pass a person asked for, waiting for its result
		w.waiting.Store(true)
		select {
		case <-ctx.Done():
			return
		case r := <-w.reqs:
			if r.DryRun {
				// A dry run sends nothing and changes no record: it does not count
				// as the folder's pass.
				w.waiting.Store(false)
				r.reply <- w.dryRun(ctx, r.PassRequest)
				continue
			}
			rq = &r
		case <-dirty:
			w.waiting.Store(false)
			w.dirtySeen.Add(1)
			if awaitWatch {
				awaitWatch = false
				break // the watches are set: the first pass, now
			}
			// Wait for the burst to end (debounce.go decides how long).
			now := clk.Now()
			if dirtySince.IsZero() {
				dirtySince = now
			}
			next.Reset(w.debounceWait(dirtySince, now))
			continue
		case <-w.kick:
		case <-rescanT.C():
			rescanT.Reset(rescan)
		case <-next.C():
		}
		w.waiting.Store(false)
		dirtySince = time.Time{}
		if ch := w.d.pausedCh(); ch != nil {
			w.setStatus(func(s *FolderStatus) { s.State = "paused"; s.Paused = "API token refused" })
			if rq != nil {
				rq.reply <- passReply{err: errAllPaused}
				rq = nil
			}
			select {
			case <-ctx.Done():
				return
			case <-ch:
			}
		}
		if reason := w.d.holdReason(w); reason != "" {
			// A person paused the folder: no pass until ResumeFolder pokes us.
			w.setStatus(func(s *FolderStatus) { s.State = "paused"; s.Paused = reason })
			if rq != nil {
				rq.reply <- passReply{res: &syncer.Result{Folder: w.f.Path, Task: w.f.TaskID, Paused: reason}}
			}
			if first {
				first = false
				w.d.firstPassDone(w.key)
			}
			continue
		}
		if wt != nil {
			// The mode changes after an inotify limit or a remount.
			w.setStatus(func(s *FolderStatus) { s.Watch = wt.Mode() })
		}
		var asked PassRequest
		if rq != nil {
			asked = rq.PassRequest
		}
		after, res, err := w.pass(ctx, asked)
		if rq != nil {
			rq.reply <- passReply{res: res, err: err}
		}
		if ctx.Err() != nil {
			return
		}
		if first {
			first = false
			w.d.firstPassDone(w.key)
		}
		switch {
		case after.retry:
			// Something failed for a reason a later try may fix: back off, up to
			// an hour, and start over when a pass succeeds.
			retry = min(max(2*retry, retryMin), retryMax)
			next.Reset(retry)
		case after.settling > 0:
			retry = 0
			next.Reset(after.settling)
		default:
			retry = 0
		}
	}
}

// releaseAfterFiles is the folder size (in records) from which a pass returns the
// memory it used to the operating system when it ends.
const releaseAfterFiles = 10_000

// passOutcome says when the worker should look again.
type passOutcome struct {
	retry    bool          // failures a retry may fix
	settling time.Duration // files are settling: look again after this
}

// pass runs one sync of the folder, with what a person asked for, and records its
// status. It returns the engine's result and error for the person who asked.
func (w *worker) pass(ctx context.Context, asked PassRequest) (passOutcome, *syncer.Result, error) {
	turn := w.turn(ctx)
	w.mu.Lock()
	confirmed := w.confirmed || asked.AllowMassDelete
	w.confirmed = false
	w.mu.Unlock()
	w.setStatus(func(s *FolderStatus) { s.State = "syncing" })
	clk := w.d.clock
	start := clk.Now()
	opt := syncer.PassOptions{QuietFailures: true, AllowMassDelete: confirmed && turn.Write,
		DryRun: !turn.Write, Offline: !turn.Write, ListFirst: turn.ListFirst || asked.Relist, MayWrite: turn.MayWrite}
	res, err := w.d.engine.Sync(ctx, w.f, opt)
	if turn.Done != nil {
		turn.Done()
	}
	dur := clk.Now().Sub(start)
	w.d.recordPass(dur)
	var out passOutcome
	if res != nil && res.Settling {
		out.settling = w.f.Settle
		if out.settling <= 0 {
			out.settling = time.Second
		}
	}
	if res != nil && turn.Write {
		w.reportHeld(res)
		w.reportFailures(res.Failed)
		w.reportSkipped(res.Skipped)
	}
	stats, _ := w.d.engine.Store.Stats(w.key)
	if stats.Files >= releaseAfterFiles {
		// The pass's records, snapshot and plan are garbage now. Without this
		// the heap they took stays with the process until the runtime's next
		// forced collection minutes later, and an idle daemon over a big
		// folder shows the pass's peak as its size. The same goes for the
		// pages of the state db that the pass read through its memory map.
		debug.FreeOSMemory()
		w.d.engine.Store.ReleaseMemory()
	}
	w.setStatus(func(s *FolderStatus) {
		s.Passes++
		s.Files, s.Unconfirmed, s.Refused = stats.Managed, stats.OpenIntents, stats.Refused
		s.LastPass = clk.Now()
		s.State = "idle"
		s.Paused, s.Held, s.LastError = "", "", ""
		s.HeldDeletes = 0
		s.Failures, s.Skipped = nil, nil
		s.Pending = 0
		if res != nil {
			s.Failures = res.Failed
			s.Skipped = res.Skipped
			s.Held = res.Held
			s.Paused = res.Paused
			if res.Plan != nil {
				// Held deletes are pending work too: they wait for a person.
				s.Pending = res.Plan.Cost() + res.Plan.HeldDeletes
				s.HeldDeletes = res.Plan.HeldDeletes
			}
			if res.Paused != "" {
				s.State = "paused"
			}
			if res.Converged() && turn.Write {
				s.Pending = 0
			}
		}
		if !turn.Write {
			s.State = "standby"
			if turn.Paused != "" {
				s.State, s.Paused = "paused", turn.Paused
			}
		}
		if err != nil {
			s.State = "error"
			s.LastError = err.Error()
		} else if turn.Write && res != nil && res.Converged() {
			s.LastSuccess = s.LastPass
		}
	})
	if res != nil && turn.Write && w.d.engine.Metrics != nil {
		w.d.engine.Metrics.CountOperations(res)
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return out, res, err
	case errors.Is(err, syncer.ErrUnauthorized):
		w.d.PauseAll(err.Error())
		return out, res, err
	case errors.Is(err, syncer.ErrWriteRefused):
		// The gate withdrew this process's right to write mid-pass: wait for the
		// next event or timer, when the gate is asked again.
		w.log.Info("stopped writing to the task: another process may write to it now", "err", err)
		return out, res, err
	default:
		w.log.Error("sync pass failed", "err", err)
		out.retry = true
		return out, res, err
	}
	if !turn.Write {
		return out, res, err
	}
	if res.Converged() {
		if res.Uploaded+res.Deleted+res.Renamed+res.Reordered+res.Replaced+res.Adopted > 0 {
			w.log.Info("folder in sync", "uploaded", res.Uploaded, "renamed", res.Renamed, "reordered", res.Reordered,
				"deleted", res.Deleted, "replaced", res.Replaced, "adopted", res.Adopted, "requests", res.RequestsSent(), "took", dur.Round(time.Millisecond))
		}
		return out, res, err
	}
	if res.Paused == "" && res.Held == "" {
		for _, f := range res.Failed {
			// A refused file waits for a change, not for a timer.
			if !f.Refused {
				out.retry = true
			}
		}
	}
	return out, res, err
}
