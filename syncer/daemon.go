package syncer

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/watcher"
)

// DaemonFolder is a folder as the daemon runs it: the engine's settings plus how it
// is watched.
type DaemonFolder struct {
	Folder
	Watch  string        // auto | events | poll
	Rescan time.Duration // full rescan interval
}

// Daemon keeps every configured folder in sync: one worker per folder, sharing the
// engine (and so each organization's quota budget). Events from the watcher and the
// periodic rescan only mark a folder dirty; each worker runs one pass at a time.
type Daemon struct {
	engine  *Engine
	log     *slog.Logger
	version string
	started time.Time

	// Debounce is how long a worker waits after a change before its pass, so that
	// files dropped together go up together. When the quota is scarce it waits
	// ScarceDebounce instead, to fill bigger batches.
	Debounce       time.Duration
	ScarceDebounce time.Duration
	// RootCheck is how often a watcher checks its folder's root.
	RootCheck time.Duration

	applyMu sync.Mutex // one Apply at a time
	mu      sync.Mutex
	workers map[state.FolderKey]*worker
	wg      sync.WaitGroup
	ctx     context.Context
	paused  string        // why all work is paused (401); "" when running
	resume  chan struct{} // closed when the pause ends
	passes  Histogram     // pass durations, for /metrics
}

// NewDaemon returns a daemon over engine.
func NewDaemon(engine *Engine, log *slog.Logger, version string) *Daemon {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Daemon{
		engine:         engine,
		log:            log,
		version:        version,
		started:        time.Now(),
		Debounce:       time.Second,
		ScarceDebounce: 30 * time.Second,
		RootCheck:      5 * time.Second,
		workers:        map[state.FolderKey]*worker{},
		passes:         NewHistogram(PassBuckets),
	}
}

// Run starts the workers for folders and blocks until ctx ends; then it stops
// taking work, lets each worker finish or abandon its request (an open intent is
// settled at the next start), and returns.
func (d *Daemon) Run(ctx context.Context, folders []DaemonFolder) error {
	d.Start(ctx, folders)
	<-ctx.Done()
	d.Wait()
	return nil
}

// Start starts the workers for folders; they run until ctx ends. Apply may be
// called as soon as Start returns.
func (d *Daemon) Start(ctx context.Context, folders []DaemonFolder) {
	d.mu.Lock()
	d.ctx = ctx
	d.mu.Unlock()
	d.Apply(folders)
}

// Wait waits for the workers to stop (after the context given to Start ended).
func (d *Daemon) Wait() { d.wg.Wait() }

// Apply makes the running workers match folders: new folders start, removed ones
// stop, changed ones restart with their new settings.
func (d *Daemon) Apply(folders []DaemonFolder) {
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	d.mu.Lock()
	if d.ctx == nil || d.ctx.Err() != nil {
		d.mu.Unlock()
		return
	}
	want := map[state.FolderKey]DaemonFolder{}
	for _, f := range folders {
		want[f.Key()] = f
	}
	var stopping []*worker
	for k, w := range d.workers {
		f, ok := want[k]
		if ok && sameFolder(f, w.f) {
			continue
		}
		stopping = append(stopping, w)
		delete(d.workers, k)
		if ok {
			d.log.Info("folder settings changed; restarting its worker", "folder", k.Path, "task", k.TaskID)
		} else {
			d.log.Info("folder removed from sync", "folder", k.Path, "task", k.TaskID)
		}
	}
	d.mu.Unlock()
	// Outside d.mu: a worker may need it to end its pass. An old worker stops before
	// its replacement starts, so one folder never has two.
	for _, w := range stopping {
		w.stop()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx.Err() != nil {
		return // stopping: no new workers
	}
	for k, f := range want {
		if _, ok := d.workers[k]; ok {
			continue
		}
		ctx, cancel := context.WithCancel(d.ctx)
		w := &worker{d: d, f: f, cancel: cancel, done: make(chan struct{}), kick: make(chan struct{}, 1),
			log: d.log.With("folder", f.Path, "task", f.Task.TaskID), status: FolderStatus{Path: f.Path, Task: f.Task.TaskID, State: "starting"}}
		d.workers[k] = w
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer close(w.done)
			w.run(ctx)
		}()
	}
}

// Kick asks every worker for a pass now (after a token reload, say).
func (d *Daemon) Kick() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range d.workers {
		w.poke()
	}
}

// PauseAll stops all work until Resume: the API refused the token.
func (d *Daemon) PauseAll(reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.paused != "" {
		return
	}
	d.paused = reason
	d.resume = make(chan struct{})
	d.log.Error("all folders paused: "+reason, "remedy", "put a valid API token in FOCUS_API_TOKEN or [api] token_file and reload (systemctl reload focussync, or kill -HUP)")
}

// Resume ends a PauseAll (a new token was loaded) and starts a pass everywhere.
func (d *Daemon) Resume() {
	d.mu.Lock()
	if d.paused != "" {
		d.paused = ""
		close(d.resume)
		d.log.Info("work resumed")
	}
	d.mu.Unlock()
	d.Kick()
}

// pausedCh returns a channel closed when the pause ends, or nil when not paused.
func (d *Daemon) pausedCh() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.paused == "" {
		return nil
	}
	return d.resume
}

// Status reports the daemon's state.
func (d *Daemon) Status() Status {
	d.mu.Lock()
	st := Status{Version: d.version, Started: d.started, Uptime: time.Since(d.started).Round(time.Second).String(), Paused: d.paused}
	st.PassDurations = d.passes.Clone()
	orgs := map[int64]bool{}
	for _, w := range d.workers {
		w.mu.Lock()
		fs := w.status
		fs.Failures = append([]Failure(nil), fs.Failures...)
		w.mu.Unlock()
		st.Folders = append(st.Folders, fs)
		orgs[w.f.Task.OrganizationID] = true
	}
	d.mu.Unlock()
	sort.Slice(st.Folders, func(i, j int) bool { return st.Folders[i].Path < st.Folders[j].Path })
	for org := range orgs {
		q := d.engine.Budget(org).Quota().State()
		st.Quota = append(st.Quota, QuotaStatus{Organization: org, Known: q.Known, Remaining: q.Remaining, ResetAt: q.ResetAt})
	}
	sort.Slice(st.Quota, func(i, j int) bool { return st.Quota[i].Organization < st.Quota[j].Organization })
	if d.engine.Metrics != nil {
		st.Metrics = d.engine.Metrics.Snapshot()
	}
	return st
}

func (d *Daemon) recordPass(dur time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.passes.Observe(dur.Seconds())
}

func sameFolder(a, b DaemonFolder) bool {
	return a.Path == b.Path && a.Task == b.Task && a.Recursive == b.Recursive &&
		equalStrings(a.Include, b.Include) && equalStrings(a.Exclude, b.Exclude) &&
		a.Settle == b.Settle && a.MaxFileSize == b.MaxFileSize && a.Marker == b.Marker &&
		a.Order == b.Order && a.DeleteRemote == b.DeleteRemote && a.MaxDeleteCount == b.MaxDeleteCount &&
		a.MaxDeletePercent == b.MaxDeletePercent && a.Verify == b.Verify && a.Watch == b.Watch && a.Rescan == b.Rescan
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// worker is one folder's serial loop: dirty marks, the rescan timer, retries and
// the verification timer all lead to one pass at a time.
type worker struct {
	d      *Daemon
	f      DaemonFolder
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	kick   chan struct{}

	mu     sync.Mutex
	status FolderStatus

	summarised time.Time       // when persisting failures were last summarised
	skipped    map[string]bool // files skipped at the last pass, already logged
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

func (w *worker) run(ctx context.Context) {
	var m *watcher.Matcher
	if mm, err := watcher.NewMatcher(w.f.Include, w.f.Exclude); err == nil {
		m = mm
	}
	wt, err := watcher.NewWatch(watcher.WatchOptions{Root: w.f.Path, Recursive: w.f.Recursive, Mode: w.f.Watch, Matcher: m, RootCheck: w.d.RootCheck, Log: w.log})
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
	if err == nil && wt.Reason() != "" {
		w.log.Info("watching folder", "watch", mode, "why", wt.Reason(), "rescan", w.f.Rescan.String())
	} else {
		w.log.Info("watching folder", "watch", mode, "rescan", w.f.Rescan.String())
	}

	rescan := w.f.Rescan
	if rescan <= 0 {
		rescan = 10 * time.Minute
	}
	if w.f.Verify > 0 && w.f.Verify < rescan {
		// A pass verifies when verification is due: make sure one comes.
		rescan = w.f.Verify
	}
	next := time.NewTimer(0) // the first pass at once
	defer next.Stop()
	rescanT := time.NewTicker(rescan)
	defer rescanT.Stop()
	retry := time.Duration(0)
	var dirtySince time.Time // the first change not yet passed over
	for {
		select {
		case <-ctx.Done():
			return
		case <-dirty:
			// Wait for the burst to end, but not for ever: a folder that never stops
			// changing still gets a pass every maxDebounce.
			now := time.Now()
			if dirtySince.IsZero() {
				dirtySince = now
			}
			wait := w.debounce()
			if left := dirtySince.Add(maxDebounce).Sub(now); wait > left {
				wait = max(left, 0)
			}
			resetTimer(next, wait)
			continue
		case <-w.kick:
		case <-rescanT.C:
		case <-next.C:
		}
		dirtySince = time.Time{}
		if ch := w.d.pausedCh(); ch != nil {
			w.setStatus(func(s *FolderStatus) { s.State = "paused"; s.Paused = "API token refused" })
			select {
			case <-ctx.Done():
				return
			case <-ch:
			}
		}
		if wt != nil {
			// The mode changes after an inotify limit or a remount.
			w.setStatus(func(s *FolderStatus) { s.Watch = wt.Mode() })
		}
		after := w.pass(ctx)
		if ctx.Err() != nil {
			return
		}
		switch {
		case after.retry:
			// Something failed for a reason a later try may fix: back off, up to
			// an hour, and start over when a pass succeeds.
			retry = min(max(2*retry, time.Minute), time.Hour)
			resetTimer(next, retry)
		case after.settling > 0:
			retry = 0
			resetTimer(next, after.settling)
		default:
			retry = 0
		}
	}
}

// maxDebounce bounds how long changes that keep coming can put off a pass.
const maxDebounce = time.Minute

// debounce is the wait after a change before the pass.
func (w *worker) debounce() time.Duration {
	q := w.d.engine.Budget(w.f.Task.OrganizationID).Quota().State()
	if q.Known && q.Remaining < 5 && w.d.ScarceDebounce > 0 {
		return w.d.ScarceDebounce
	}
	return w.d.Debounce
}

// passOutcome says when the worker should look again.
type passOutcome struct {
	retry    bool          // failures a retry may fix
	settling time.Duration // files are settling: look again after this
}

// pass runs one sync of the folder and records its status.
func (w *worker) pass(ctx context.Context) passOutcome {
	w.setStatus(func(s *FolderStatus) { s.State = "syncing" })
	start := time.Now()
	res, err := w.d.engine.Sync(ctx, w.f.Folder, PassOptions{QuietFailures: true})
	dur := time.Since(start)
	w.d.recordPass(dur)
	var out passOutcome
	if res != nil && res.Settling {
		out.settling = w.f.Settle
		if out.settling <= 0 {
			out.settling = time.Second
		}
	}
	if res != nil {
		w.reportHeld(res)
		w.reportFailures(res.Failed)
		w.reportSkipped(res.Skipped)
	}
	stats, _ := w.d.engine.Store.Stats(w.f.Key())
	w.setStatus(func(s *FolderStatus) {
		s.Files = stats.Managed
		s.LastPass = time.Now()
		s.State = "idle"
		s.Paused, s.Held, s.LastError = "", "", ""
		s.Failures = nil
		s.Pending = 0
		if res != nil {
			s.Failures = res.Failed
			s.Held = res.Held
			s.Paused = res.Paused
			if res.Plan != nil {
				s.Pending = res.Plan.Cost()
			}
			if res.Paused != "" {
				s.State = "paused"
			}
			if res.Converged() {
				s.Pending = 0
			}
		}
		if err != nil {
			s.State = "error"
			s.LastError = err.Error()
		}
	})
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return out
	case errors.Is(err, ErrFatal) && focus.KindOf(err) == focus.KindAuth:
		w.d.PauseAll(err.Error())
		return out
	default:
		w.log.Error("sync pass failed", "err", err)
		out.retry = true
		return out
	}
	if res.Converged() {
		if res.Uploaded+res.Deleted+res.Renamed+res.Reordered+res.Replaced+res.Adopted > 0 {
			w.log.Info("folder in sync", "uploaded", res.Uploaded, "renamed", res.Renamed, "reordered", res.Reordered,
				"deleted", res.Deleted, "replaced", res.Replaced, "adopted", res.Adopted, "requests", res.RequestsSent(), "took", dur.Round(time.Millisecond))
		}
		return out
	}
	if res.Paused == "" && res.Held == "" {
		for _, f := range res.Failed {
			// A refused file waits for a change, not for a timer.
			if !f.Refused {
				out.retry = true
			}
		}
	}
	return out
}

// failureSummaryEvery is how often files that keep failing are summarised in the
// log; each failure is logged in full when it first appears.
const failureSummaryEvery = time.Hour

// reportFailures logs files that started or stopped failing since the last pass,
// and, at most once an hour, how many keep failing: a file that fails at every pass
// does not fill the log.
func (w *worker) reportFailures(now []Failure) {
	w.mu.Lock()
	prev := w.status.Failures
	w.mu.Unlock()
	before := map[string]bool{}
	for _, f := range prev {
		before[f.Path] = true
	}
	if len(before) == 0 && len(now) > 0 {
		w.summarised = time.Now()
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
	if len(now) > 0 && len(before) > 0 && time.Since(w.summarised) >= failureSummaryEvery {
		w.log.Warn("files still not synced", "count", len(now), "e.g.", now[0].Path, "reason", now[0].Reason)
		w.summarised = time.Now()
	}
}

// reportSkipped logs each file left alone for a lasting reason (too large,
// unreadable, refused) once, when it is first seen; files still settling are not
// worth a line.
func (w *worker) reportSkipped(now []Skip) {
	seen := map[string]bool{}
	for _, sk := range now {
		if settlingReason(sk.Reason) {
			continue
		}
		seen[sk.Path] = true
		if !w.skipped[sk.Path] {
			w.log.Warn("file skipped", "file", sk.Path, "reason", sk.Reason)
		}
	}
	w.skipped = seen
}

// reportHeld logs a pause or held deletes when they start and when they end, not
// at every pass.
func (w *worker) reportHeld(res *Result) {
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

func resetTimer(t *time.Timer, d time.Duration) {
	t.Stop()
	select {
	case <-t.C:
	default:
	}
	t.Reset(d)
}
