package cluster

import (
	"context"
	"log/slog"
	"sync"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/daemon"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/syncer"
)

// Gate makes a Coordinator the daemon's gate (daemon.Gate): before each pass a
// folder's worker learns from its task's lease whether it may write, and the pass
// checks the lease again before every write request. A folder's lease is joined at
// its first pass and released when the folder leaves the configuration, when the
// coordinator changes, or at Close.
//
// When this process becomes a task's holder after another process may have
// written to it, the folder's records are dropped (they may describe attachments
// that the other writer renamed, replaced or deleted since) and the pass lists the
// task and adopts what is there: a takeover costs one list and no upload.
type Gate struct {
	store *state.Store
	wake  func(path string) // runs a pass of the folder now
	log   *slog.Logger

	mu     sync.Mutex
	coord  Coordinator // nil: no coordination, every task is written
	leases map[state.FolderKey]*gateLease
}

type gateLease struct {
	lease *Lease
	hw    *handoverWriter // used by the folder's worker only
	stop  chan struct{}
	watch sync.Once // starts watch, at the end of the first turn's wait

	failing string // the last handover error logged
}

var (
	_ daemon.Gate          = (*Gate)(nil)
	_ daemon.LeaseReporter = (*Gate)(nil)
)

// NewGate returns a gate over coord (nil: this process writes every task). store
// is the state db whose records a takeover drops; wake, when set, is called with a
// folder's path when its lease changes hands, to run a pass at once.
func NewGate(coord Coordinator, store *state.Store, wake func(path string), log *slog.Logger) *Gate {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Gate{coord: coord, store: store, wake: wake, log: log, leases: map[state.FolderKey]*gateLease{}}
}

// Turn implements daemon.Gate.
func (g *Gate) Turn(ctx context.Context, f config.Folder) daemon.Turn {
	l := g.lease(f)
	if l == nil {
		g.mu.Lock()
		none := g.coord == nil
		g.mu.Unlock()
		if none {
			return daemon.Turn{Write: true}
		}
		return daemon.Turn{Paused: "the task's lease could not be joined (see the log)"}
	}
	// The first pass waits until this process knows whether it holds the lease,
	// so that it is a real pass when it does (readiness waits for it).
	l.Await(ctx, l.decideWithin)
	// Nobody holds the lease (released, or the folder was empty at the last
	// look): look again now, so that a first file is sent at once.
	l.Recheck(ctx, l.decideWithin)
	if gl := g.gateLease(f); gl != nil {
		// From now on a change of hands wakes the worker. The changes met while
		// joining and deciding are this turn's own: they must not start a
		// second pass right after the first.
		ch := l.Changed()
		gl.watch.Do(func() { go g.watch(f.Path, gl, ch) })
	}
	if err := l.Check(); err != nil {
		if st := l.Status(); st.Role == RolePaused {
			return daemon.Turn{Paused: st.Reason}
		}
		return daemon.Turn{}
	}
	gl := g.gateLease(f)
	if gl == nil {
		return daemon.Turn{} // released meanwhile (a reload)
	}
	t := daemon.Turn{Write: true, MayWrite: func(context.Context) error { return l.Check() },
		Done: func() { g.handOver(f, gl) }}
	if l.TakeAdopt() {
		if err := g.takeOver(f, gl); err != nil {
			g.log.Error("cannot reset the folder's records for a takeover; not writing", "folder", f.Path, "err", err)
			return daemon.Turn{Paused: "cannot reset the folder's records for a takeover: " + err.Error()}
		}
		t.ListFirst = true
	}
	return t
}

// takeOver replaces the folder's records, which may be stale (another process
// wrote to the task since this one did), by those the last holder handed over,
// or drops them when there are none: the pass then lists the task and plans
// from those records and the listing, adopting what matches by name and size.
func (g *Gate) takeOver(f config.Folder, gl *gateLease) error {
	key := syncer.FolderKey(f)
	if cur, err := g.store.Load(key); err == nil && len(cur.Files) == 0 {
		// A new or recreated state db: adopt from the listing, as a first run does.
		if err := g.store.DropFolder(key); err != nil {
			return err
		}
		g.log.Info("new holder of the task: listing it and adopting what is there", "folder", f.Path, "task", f.TaskID)
		return nil
	}
	h, err := gl.hw.load(gl.lease.Task())
	if err != nil {
		g.log.Warn("the last holder's records cannot be read; adopting from a listing alone", "folder", f.Path, "err", err)
		h = nil
	}
	if err := g.store.DropFolder(key); err != nil {
		return err
	}
	if h == nil || len(h.Records) == 0 {
		g.log.Info("new holder of the task: listing it and adopting what is there", "folder", f.Path, "task", f.TaskID)
		return nil
	}
	if err := g.store.Commit(key, state.Change{Put: h.Records}); err != nil {
		return err
	}
	g.log.Info("new holder of the task: listing it, with the records the last holder left", "folder", f.Path, "task", f.TaskID, "records", len(h.Records))
	return nil
}

// handOver writes the folder's records beside the lease, after a pass of the
// holder, for whoever takes over.
func (g *Gate) handOver(f config.Folder, gl *gateLease) {
	if gl == nil || gl.lease.Check() != nil || !hasEntries(f.Path) {
		return // not the holder, or an empty folder (an unmounted share?)
	}
	key := syncer.FolderKey(f)
	id, _ := g.store.ID()
	data, err := encodeHandover(gl.lease.Task(), id, func(fn func(state.FileRecord) error) error {
		return g.store.EachRecord(key, fn)
	})
	if err != nil {
		return
	}
	if err := gl.hw.save(data, NewInstanceID()[:8]); err != nil && gl.failing != err.Error() {
		g.log.Warn("cannot leave the folder's records for a takeover; a new holder would adopt from a listing alone", "folder", f.Path, "err", err)
		gl.failing = err.Error()
	}
}

// gateLease returns the folder's joined lease entry, or nil.
func (g *Gate) gateLease(f config.Folder) *gateLease {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.leases[syncer.FolderKey(f)]
}

// lease returns the folder's lease, joining it at the first call; nil without a
// coordinator or when joining failed.
func (g *Gate) lease(f config.Folder) *Lease {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.coord == nil {
		return nil
	}
	k := syncer.FolderKey(f)
	if gl, ok := g.leases[k]; ok {
		return gl.lease
	}
	t := Task{Organization: f.OrganizationID, Workspace: f.WorkspaceID, Task: f.TaskID}
	l, err := g.coord.Join(t, f.Path)
	if err != nil {
		g.log.Error("cannot join the task's lease; not writing to it", "folder", f.Path, "task", t.Task, "err", err)
		return nil
	}
	gl := &gateLease{lease: l, hw: newHandoverWriter(nil, f.Path, f.TaskID), stop: make(chan struct{})}
	g.leases[k] = gl
	return l
}

// watch wakes the folder's worker whenever its lease changes hands, from the
// moment ch (the lease's Changed channel) was taken.
func (g *Gate) watch(path string, gl *gateLease, ch <-chan struct{}) {
	for {
		select {
		case <-gl.stop:
			return
		case <-ch:
		}
		if g.wake != nil {
			g.wake(path)
		}
		ch = gl.lease.Changed()
	}
}

// LeaseStatus implements daemon.LeaseReporter.
func (g *Gate) LeaseStatus(f config.Folder) *daemon.LeaseStatus {
	g.mu.Lock()
	gl, ok := g.leases[syncer.FolderKey(f)]
	g.mu.Unlock()
	if !ok {
		return nil
	}
	st := gl.lease.Status()
	return &daemon.LeaseStatus{Role: string(st.Role), Holder: st.Holder.Node, Since: st.Holder.Since,
		AgeSeconds: st.Age.Seconds(), Takeovers: st.Takeovers, Reason: st.Reason, Text: st.String()}
}

// Keep releases the leases of folders not in keep (removed by a reload).
func (g *Gate) Keep(ctx context.Context, keep []config.Folder) {
	want := map[state.FolderKey]bool{}
	for _, f := range keep {
		want[syncer.FolderKey(f)] = true
	}
	g.mu.Lock()
	var drop []*gateLease
	for k, gl := range g.leases {
		if !want[k] {
			drop = append(drop, gl)
			delete(g.leases, k)
		}
	}
	g.mu.Unlock()
	g.releaseAll(ctx, drop)
}

// SetCoordinator replaces the coordinator (a reload changed [cluster]): every
// lease of the old one is released, and each folder joins the new one at its next
// pass. The old coordinator is closed.
func (g *Gate) SetCoordinator(ctx context.Context, coord Coordinator) error {
	g.mu.Lock()
	old := g.coord
	var drop []*gateLease
	for k, gl := range g.leases {
		drop = append(drop, gl)
		delete(g.leases, k)
	}
	g.coord = coord
	g.mu.Unlock()
	g.releaseAll(ctx, drop)
	if old != nil {
		return old.Close(ctx)
	}
	return nil
}

// Close releases every lease and closes the coordinator. Call it after the
// workers have stopped: a released lease allows no more writes.
func (g *Gate) Close(ctx context.Context) error {
	return g.SetCoordinator(ctx, nil)
}

func (g *Gate) releaseAll(ctx context.Context, gls []*gateLease) {
	for _, gl := range gls {
		close(gl.stop)
		if err := gl.lease.Release(ctx); err != nil {
			g.log.Warn("cannot release a task's lease; a standby takes over after lease_ttl", "task", gl.lease.Task().Task, "err", err)
		}
	}
}
