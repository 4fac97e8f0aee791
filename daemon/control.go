package daemon

import (
	"errors"
	"fmt"
	"path/filepath"
)

// ErrUnknownFolder is returned by the per-folder controls for a path that no
// running worker syncs.
var ErrUnknownFolder = errors.New("no such folder is synced")

// These controls act for a person on one folder, named by its path (as in the
// config; it is cleaned). A path synced into several tasks acts on each of them.

// PauseFolder stops the folder's passes until ResumeFolder: its worker finishes
// the pass under way, then sends nothing. The pause outlives a reload that
// restarts the worker, but not the process. reason is shown in the status.
func (d *Daemon) PauseFolder(path, reason string) error {
	if reason == "" {
		reason = "paused by a person"
	}
	ws, err := d.find(path)
	if err != nil {
		return err
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

// ResumeFolder ends a PauseFolder and runs a pass of the folder now.
func (d *Daemon) ResumeFolder(path string) error {
	ws, err := d.find(path)
	if err != nil {
		return err
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
