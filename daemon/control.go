package daemon

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/syncer"
)

// ErrUnknownFolder is returned by the per-folder controls for a path that no
// running worker syncs.
var ErrUnknownFolder = errors.New("no such folder is synced")

// These controls act for a person on one folder, named by its path (as in the
// config; it is cleaned). A path synced into several tasks acts on each of them.

// PauseFolder stops the folder's passes until ResumeFolder: its worker finishes
// the pass under way, then sends nothing. The pause is kept in the state db: it
// outlives a reload and a restart (a worker starts paused when the db says so).
// reason is shown in the status.
func (d *Daemon) PauseFolder(path, reason string) error {
	if reason == "" {
		reason = "paused by a person"
	}
	ws, err := d.find(path)
	if err != nil {
		return err
	}
	for _, w := range ws {
		if err := d.engine.Store.SetPause(w.key, &state.Pause{Reason: reason, Since: d.clock.Now()}); err != nil {
			return err
		}
	}
	d.mu.Lock()
	for _, w := range ws {
		d.held[w.key] = reason
	}
	d.mu.Unlock()
	for _, w := range ws {
		w.poke() // a worker waiting for its next timer shows the pause at once
	}
	return nil
}

// ResumeFolder ends a PauseFolder (also one kept in the state db from an earlier
// run) and runs a pass of the folder now.
func (d *Daemon) ResumeFolder(path string) error {
	ws, err := d.find(path)
	if err != nil {
		return err
	}
	for _, w := range ws {
		if err := d.engine.Store.SetPause(w.key, nil); err != nil {
			return err
		}
	}
	d.mu.Lock()
	for _, w := range ws {
		delete(d.held, w.key)
	}
	d.mu.Unlock()
	for _, w := range ws {
		w.poke()
	}
	return nil
}

// SyncNow runs a pass of the folder now (after the pass under way, if any),
// without waiting for the debounce or the next rescan.
func (d *Daemon) SyncNow(path string) error {
	ws, err := d.find(path)
	if err != nil {
		return err
	}
	for _, w := range ws {
		w.poke()
	}
	return nil
}

// ConfirmDeletes lets the folder's next pass send the deletes that the
// mass-delete guard or an emptied folder holds back (as `focussync sync
// --allow-mass-delete` does), and runs that pass now. The confirmation is used
// by one pass only: deletes held later need a new one.
func (d *Daemon) ConfirmDeletes(path string) error {
	ws, err := d.find(path)
	if err != nil {
		return err
	}
	for _, w := range ws {
		w.mu.Lock()
		w.confirmed = true
		w.mu.Unlock()
		w.poke()
	}
	return nil
}

// loadPause makes a new worker's folder paused when the state db says a person
// paused it. Called with d.mu held.
func (d *Daemon) loadPause(k state.FolderKey) {
	p, err := d.engine.Store.Paused(k)
	switch {
	case err != nil:
		d.log.Warn("cannot read whether the folder is paused; running it", "folder", k.Path, "task", k.TaskID, "err", err)
	case p != nil:
		d.held[k] = p.Reason
		d.log.Info("folder paused by a person; not syncing it until it is resumed", "folder", k.Path, "task", k.TaskID, "reason", p.Reason)
	}
}

// holdReason returns why a person paused the folder, or "".
func (d *Daemon) holdReason(w *worker) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.held[w.key]
}

// find returns the workers of the folder at path.
func (d *Daemon) find(path string) ([]*worker, error) {
	clean := filepath.Clean(path)
	d.mu.Lock()
	defer d.mu.Unlock()
	var ws []*worker
	for k, w := range d.workers {
		if k.Path == clean {
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrUnknownFolder, path)
	}
	return ws, nil
}

// PassRequest is a pass a person asks for through RunPass.
type PassRequest struct {
	// DryRun plans the pass and sends nothing: the plan is the result's Plan. It
	// runs in the folder's worker, between its passes, and is not one of them.
	DryRun bool `json:"dry_run,omitempty"`
	// AllowMassDelete lets the pass send the deletes that the mass-delete guard or
	// an emptied folder holds back (as ConfirmDeletes does).
	AllowMassDelete bool `json:"allow_mass_delete,omitempty"`
	// Relist makes the pass list the task first and adopt the attachments that
	// match local files by name and size, as a first run does (one list request).
	Relist bool `json:"relist,omitempty"`
}

// passRequest is a PassRequest on its way to a worker.
type passRequest struct {
	PassRequest
	reply chan passReply // buffered: the worker never waits for the asker
}

type passReply struct {
	res *syncer.Result
	err error
}

// errAllPaused answers a pass asked for while the API token is refused.
var errAllPaused = errors.New("all work is paused because the API token was refused: fix the token and reload first")

// RunPass runs a pass of the folder at path now, in its worker (after the pass
// under way, if any), and returns its result: one per task the path is synced
// into, or one per folder when path is "". A folder a person paused runs no pass:
// its result says so in Paused (a dry run still plans it). The pass counts as the
// folder's own: its outcome shows in Status and sets the worker's timers. When
// ctx ends first, RunPass returns ctx.Err() and the passes still run.
func (d *Daemon) RunPass(ctx context.Context, path string, rq PassRequest) ([]*syncer.Result, error) {
	var ws []*worker
	if path == "" {
		d.mu.Lock()
		for _, w := range d.workers {
			ws = append(ws, w)
		}
		d.mu.Unlock()
		sort.Slice(ws, func(i, j int) bool {
			if ws[i].key.Path != ws[j].key.Path {
				return ws[i].key.Path < ws[j].key.Path
			}
			return ws[i].key.TaskID < ws[j].key.TaskID
		})
	} else {
		var err error
		if ws, err = d.find(path); err != nil {
			return nil, err
		}
	}
	replies := make([]chan passReply, len(ws))
	for i, w := range ws {
		replies[i] = make(chan passReply, 1)
		select {
		case w.reqs <- passRequest{PassRequest: rq, reply: replies[i]}:
		case <-w.done:
			replies[i] <- passReply{err: fmt.Errorf("folder %s (task %d) stopped: the daemon is stopping or reloading", w.f.Path, w.f.TaskID)}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	out := make([]*syncer.Result, 0, len(ws))
	var errs []error
	for i, w := range ws {
		select {
		case r := <-replies[i]:
			if r.err != nil {
				errs = append(errs, fmt.Errorf("folder %s (task %d): %w", w.f.Path, w.f.TaskID, r.err))
			}
			if r.res != nil {
				out = append(out, r.res)
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return out, errors.Join(errs...)
}

// dryRun plans a pass of the folder without sending anything or changing a record.
func (w *worker) dryRun(ctx context.Context, rq PassRequest) passReply {
	if w.d.pausedCh() != nil {
		return passReply{err: errAllPaused}
	}
	res, err := w.d.engine.Sync(ctx, w.f, syncer.PassOptions{DryRun: true, ListFirst: rq.Relist,
		AllowMassDelete: rq.AllowMassDelete, QuietFailures: true})
	if res != nil {
		if reason := w.d.holdReason(w); reason != "" && res.Paused == "" {
			res.Paused = reason
		}
	}
	return passReply{res: res, err: err}
}
