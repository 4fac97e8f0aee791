// Package daemon is focussync's long-running side: it keeps every configured
// folder in sync for as long as the process runs. Each folder gets one worker, a
// serial loop that turns watcher events (debounced), settle timers, periodic
// rescans and verification into passes of the syncer's Engine, restarts when a
// reload changes the folder's settings, and waits while the API token is refused.
//
// All of its time comes from an injected clock (internal/clock), so tests step
// through debounces and intervals without sleeping.
//
// Other parts hook into a running Daemon through these seams:
//   - PauseFolder, ResumeFolder, SyncNow and ConfirmDeletes act on one folder for
//     a person (the control channel), and RunPass runs a pass or a dry run in the
//     folder's worker and returns its result; a pause is kept in the state db;
//   - Status is a per-folder snapshot (state, pending work, held deletes, skipped
//     and failed files with reasons), and Ready is closed once the first pass of
//     every folder has run (readiness probes, systemd READY);
//   - Options.Gate is consulted before every pass and before every write request
//     of a pass, so that at most one process writes to a task (a lease);
//   - the debounce decision lives in one function, debounceWait (debounce.go).
package daemon

import (
	"context"
	"log/slog"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/internal/clock"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/syncer"
)

// Options configure a Daemon. The zero value of each field is a sensible default.
type Options struct {
	// Log receives the daemon's messages; nil discards them.
	Log *slog.Logger
	// Version is reported by Status.
	Version string
	// Clock is where the daemon's time and timers come from; nil is the real clock.
	Clock clock.Clock
	// Debounce is the shortest quiet period after a change before the folder's
	// pass (0: 200 ms); the pass waits for the folder's settle time when that is
	// longer, so that a file is sent the moment it is ready and files dropped
	// together go up together. When the quota is scarce it waits ScarceDebounce
	// instead (0: 30 seconds), to fill bigger batches.
	Debounce       time.Duration
	ScarceDebounce time.Duration
	// RootCheck is how often a watcher checks its folder's root (0: the watcher's
	// default).
	RootCheck time.Duration
	// Gate, when set, decides whether this process may write to each folder's task
	// (see Gate). Nil means this process is the only writer of every task.
	Gate Gate
}

// Daemon keeps every configured folder in sync: one worker per folder, sharing the
// engine (and so each organization's quota budget). Events from the watcher and the
// periodic rescan only mark a folder dirty; each worker runs one pass at a time.
type Daemon struct {
	engine  *syncer.Engine
	opt     Options
	log     *slog.Logger
	clock   clock.Clock
	started time.Time

	applyMu sync.Mutex // one Apply at a time
	mu      sync.Mutex
	workers map[state.FolderKey]*worker
	wg      sync.WaitGroup
	ctx     context.Context
	paused  string        // why all work is paused (401); "" when running
	resume  chan struct{} // closed when the pause ends
	passes  Histogram     // pass durations, for /metrics

	// The folders paused by a person, with the reason; they stay paused across a
	// restart of their worker by a reload.
	held map[state.FolderKey]string

	ready     chan struct{} // closed once every folder of Start had its first pass
	readyOnce sync.Once
	waitFirst map[state.FolderKey]bool // folders of Start whose first pass has not run
}

// New returns a daemon over engine. Start or Run starts it.
func New(engine *syncer.Engine, opt Options) *Daemon {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Debounce <= 0 {
		opt.Debounce = 200 * time.Millisecond
	}
	if opt.ScarceDebounce <= 0 {
		opt.ScarceDebounce = 30 * time.Second
	}
	clk := clock.Or(opt.Clock)
	return &Daemon{
		engine:  engine,
		opt:     opt,
		log:     opt.Log,
		clock:   clk,
		started: clk.Now(),
		workers: map[state.FolderKey]*worker{},
		passes:  NewHistogram(PassBuckets),
		held:    map[state.FolderKey]string{},
		ready:   make(chan struct{}),
	}
}

// Run starts the workers for folders and blocks until ctx ends; then it stops
// taking work, lets each worker finish or abandon its request (an open intent is
// settled at the next start), and returns.
func (d *Daemon) Run(ctx context.Context, folders []config.Folder) error {
	d.Start(ctx, folders)
	<-ctx.Done()
	d.Wait()
	return nil
}

// Start starts the workers for folders; they run until ctx ends. Apply may be
// called as soon as Start returns.
func (d *Daemon) Start(ctx context.Context, folders []config.Folder) {
	d.mu.Lock()
	d.ctx = ctx
	d.waitFirst = map[state.FolderKey]bool{}
	for _, f := range folders {
		d.waitFirst[syncer.FolderKey(f)] = true
	}
	d.mu.Unlock()
	d.checkReady()
	d.Apply(folders)
}

// Wait waits for the workers to stop (after the context given to Start ended).
func (d *Daemon) Wait() { d.wg.Wait() }

// Ready returns a channel closed once the first pass of every folder given to
// Start has run (whatever its outcome), or the folder was removed by a reload
// before it could. Folders added later by a reload do not delay it.
func (d *Daemon) Ready() <-chan struct{} { return d.ready }

// firstPassDone marks a folder's first pass as run.
func (d *Daemon) firstPassDone(k state.FolderKey) {
	d.mu.Lock()
	delete(d.waitFirst, k)
	d.mu.Unlock()
	d.checkReady()
}

func (d *Daemon) checkReady() {
	d.mu.Lock()
	done := d.waitFirst != nil && len(d.waitFirst) == 0
	d.mu.Unlock()
	if done {
		d.readyOnce.Do(func() { close(d.ready) })
	}
}

// Apply makes the running workers match folders: new folders start, removed ones
// stop, and those whose settings differ in any way (config.Folder compared as a
// whole, so that a setting added later is never missed) restart with the new
// settings.
// Workers of unchanged folders go on undisturbed.
func (d *Daemon) Apply(folders []config.Folder) {
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	d.mu.Lock()
	if d.ctx == nil || d.ctx.Err() != nil {
		d.mu.Unlock()
		return
	}
	want := map[state.FolderKey]config.Folder{}
	for _, f := range folders {
		want[syncer.FolderKey(f)] = f
	}
	var stopping []*worker
	for k, w := range d.workers {
		f, ok := want[k]
		if ok && reflect.DeepEqual(f, w.f) {
			continue
		}
		stopping = append(stopping, w)
		delete(d.workers, k)
		if ok {
			d.log.Info("folder settings changed; restarting its worker", "folder", k.Path, "task", k.TaskID)
		} else {
			d.log.Info("folder removed from sync", "folder", k.Path, "task", k.TaskID)
			delete(d.waitFirst, k)
		}
	}
	d.mu.Unlock()
	d.checkReady()
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
		if _, ok := d.held[k]; !ok {
			d.loadPause(k)
		}
		w := newWorker(d, f)
		d.workers[k] = w
		ctx, cancel := context.WithCancel(d.ctx)
		w.cancel = cancel
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

// Status reports the daemon's state: a snapshot, safe to keep and to serve.
func (d *Daemon) Status() Status {
	d.mu.Lock()
	now := d.clock.Now()
	st := Status{Version: d.opt.Version, Started: d.started, Uptime: now.Sub(d.started).Round(time.Second).String(), Paused: d.paused}
	st.PassDurations = d.passes.Clone()
	orgs := map[int64]bool{}
	lr, _ := d.opt.Gate.(LeaseReporter)
	for _, w := range d.workers {
		fs := w.snapshot()
		if lr != nil {
			fs.Lease = lr.LeaseStatus(w.f)
		}
		st.Folders = append(st.Folders, fs)
		orgs[w.f.OrganizationID] = true
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
