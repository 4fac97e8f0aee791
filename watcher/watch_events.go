package watcher

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"

	"github.com/fsnotify/fsnotify"

	"github.com/focussync/focussync/internal/safefs"
)

// maxPendingDirOps bounds the directory operations waiting for the adder.
// Past it they are dropped and the watches are rebuilt from a fresh walk at
// the next root check: a burst that large is cheaper to redo than to queue.
const maxPendingDirOps = 4096

// errStopped ends a walk when the session is being closed.
var errStopped = errors.New("watch session stopped")

// session is one fsnotify watcher over the folder, with two goroutines:
//
//   - loop drains Events and Errors in one select. It does no I/O: it only
//     marks the folder dirty and queues directory operations, so fsnotify's
//     reader, which blocks on the unbuffered Events channel, is never held
//     up and the kernel queue does not overflow because of us.
//   - adder owns the watch list. It walks the tree at the start, and then
//     applies the queued operations in order: a created directory is
//     stat'ed, walked and added (walking a tree moved in can take long,
//     which is why it is not done in loop); a removed or renamed directory
//     has its watches, and those below it, removed. One goroutine in event
//     order matters for a renamed directory: inotify keeps its watch on the
//     inode, so the old name's watches must go before the new name is added,
//     or fsnotify would keep them under the old name.
//
// Add and Remove must never be called from loop: fsnotify's reader may hold
// the lock they take while it waits to send on Errors, which only loop
// receives. For the same reason loop keeps draining until fsnotify closes
// its channels, after the adder has stopped.
//
// After adding a directory the adder marks the folder dirty again: files
// may have appeared in it before its watch existed, and a scan started
// after that mark sees them.
//
// A session is started and closed by the supervisor only.
type session struct {
	w    *Watch
	fw   *fsnotify.Watcher
	quit chan struct{} // closed to stop the adder and mute loop

	loopDone  chan struct{}
	adderDone chan struct{}

	mu      sync.Mutex // guards queue
	queue   []dirOp
	dropped bool          // the queue overflowed and was cleared
	wake    chan struct{} // capacity 1: the queue has work

	dirsMu sync.Mutex          // guards dirs; only the adder writes
	dirs   map[string]struct{} // the directories this session watches
	ready  bool                // the first walk is done; guarded by dirsMu
}

// dirOp is a directory operation queued for the adder.
type dirOp struct {
	path   string
	remove bool // remove the watches at and below path, instead of adding
}

// newSession returns a session over fw; start starts its goroutines.
func newSession(w *Watch, fw *fsnotify.Watcher) *session {
	return &session{
		w:         w,
		fw:        fw,
		quit:      make(chan struct{}),
		loopDone:  make(chan struct{}),
		adderDone: make(chan struct{}),
		wake:      make(chan struct{}, 1),
		dirs:      make(map[string]struct{}),
	}
}

func (s *session) start() {
	go s.loop()
	go s.adder()
}

// close stops the session and returns when its goroutines are gone. The
// adder stops first, so that no Add races with fsnotify's Close (which
// closes the descriptor Add uses); loop drains meanwhile, so that an Add
// waiting on fsnotify's reader can finish.
func (s *session) close() {
	close(s.quit)
	<-s.adderDone
	_ = s.fw.Close()
	<-s.loopDone
}

func (s *session) stopping() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}

// loop is the only goroutine receiving from fsnotify's channels. It ends
// when fsnotify closes them; once the session is stopping it only drains.
func (s *session) loop() {
	defer close(s.loopDone)
	for {
		select {
		case ev, ok := <-s.fw.Events:
			if !ok {
				return
			}
			if !s.stopping() {
				s.handleEvent(ev)
			}
		case err, ok := <-s.fw.Errors:
			if !ok {
				return
			}
			if !s.stopping() {
				s.w.handleError(err)
			}
		}
	}
}

// handleEvent marks the folder dirty when ev concerns a path in scope and
// queues the directory work it implies.
func (s *session) handleEvent(ev fsnotify.Event) {
	a := s.w.classify(ev)
	if a.dirty {
		s.w.markDirty()
	}
	if a.rootLost {
		s.w.resync.Store(true)
	}
	if a.removeDir {
		s.enqueue(dirOp{path: ev.Name, remove: true})
	}
	if a.addDir {
		s.enqueue(dirOp{path: ev.Name})
	}
	if s.w.onEvent != nil {
		s.w.onEvent(ev, a.dirty)
	}
}

// eventAction is what an event calls for.
type eventAction struct {
	dirty     bool // a path in scope may have changed
	addDir    bool // the path may be a new directory to watch
	removeDir bool // the path may be a watched directory that went away
	rootLost  bool // the root itself was removed or renamed
}

// classify decides what an event calls for, from its path and kind alone
// (no I/O). Whether the path is a directory is unknown for a removal, so a
// removal in scope as either a file or a directory marks the folder dirty:
// a spurious rescan costs a scan, a missed one costs a change. The same goes
// for a created directory excluded by a directory-only pattern ("build/"):
// as a file it would be in scope.
func (w *Watch) classify(ev fsnotify.Event) eventAction {
	var a eventAction
	created := ev.Has(fsnotify.Create)
	removed := ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)
	written := ev.Has(fsnotify.Write)
	if !created && !removed && !written {
		return a // Chmod alone: indexers, antivirus and touch; never content
	}
	rel, ok := w.relPath(ev.Name)
	if !ok {
		return a
	}
	if rel == "" {
		a.rootLost = removed
		a.dirty = removed
		return a
	}
	file := w.inScope.Match(rel, false)
	dir := w.recursive && w.inScope.Match(rel, true)
	a.dirty = file || (removed && dir)
	a.addDir = created && dir
	a.removeDir = removed && dir
	return a
}

// enqueue hands a directory operation to the adder without blocking.
func (s *session) enqueue(op dirOp) {
	s.mu.Lock()
	if s.dropped {
		s.mu.Unlock()
		return
	}
	if len(s.queue) >= maxPendingDirOps {
		s.queue, s.dropped = nil, true
		s.mu.Unlock()
		s.w.resync.Store(true)
		s.w.markDirty()
		return
	}
	s.queue = append(s.queue, op)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *session) take() []dirOp {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue
	s.queue = nil
	return q
}

// adder owns the watch list: see session.
func (s *session) adder() {
	defer close(s.adderDone)
	if err := s.addTree(s.w.root, ""); err != nil {
		s.failed(err)
		return
	}
	s.dirsMu.Lock()
	s.ready = true
	s.dirsMu.Unlock()
	s.w.markDirty()
	for {
		select {
		case <-s.quit:
			return
		case <-s.wake:
		}
		for _, op := range s.take() {
			if s.stopping() {
				return
			}
			if op.remove {
				s.removeTree(op.path)
				continue
			}
			if err := s.addNew(op.path); err != nil {
				s.failed(err)
				return
			}
		}
	}
}

// failed handles an error that ended the adder's work.
func (s *session) failed(err error) {
	if errors.Is(err, errStopped) || errors.Is(err, fsnotify.ErrClosed) {
		return
	}
	if _, _, ok := limitReason(err); ok {
		// Blocking: the supervisor either takes the hit or closes the
		// session. A hit dropped here would leave a session that adds no
		// more watches while the folder claims events mode.
		select {
		case s.w.fallback <- limitHit{s: s, err: err}:
		case <-s.quit:
		}
		return
	}
	// The root could not be watched (it vanished or is unreadable): the
	// scan reports why, and the next root check tries again.
	s.w.log.Debug("cannot watch the folder root", "err", err)
	s.w.resync.Store(true)
	s.w.markDirty()
}

// addNew watches the directory at full, created or moved in after the walk,
// with everything below it, and marks the folder dirty once it is watched.
func (s *session) addNew(full string) error {
	rel, ok := s.w.relPath(full)
	if !ok || rel == "" {
		return nil
	}
	fi, err := os.Lstat(full)
	if err != nil || !fi.IsDir() {
		return nil // a file, or gone already (its removal is queued)
	}
	if err := s.addTree(full, rel); err != nil {
		return err
	}
	s.w.markDirty()
	return nil
}

// addTree watches the directory full (rel from the root) and, in a
// recursive watch, every directory in scope below it, as Scan would walk
// them: symlinks are not followed. It returns errStopped, fsnotify's
// ErrClosed or a kernel limit error, which end the adder's work, or the
// root's own failure; other failures below the root skip that directory
// (the scan reports directories it cannot list).
func (s *session) addTree(full, rel string) error {
	if s.stopping() {
		return errStopped
	}
	if err := s.add(full); err != nil {
		if _, _, limit := limitReason(err); limit || rel == "" || errors.Is(err, fsnotify.ErrClosed) {
			return err
		}
		s.w.log.Debug("cannot watch directory", "dir", rel, "err", err)
		return nil
	}
	s.dirsMu.Lock()
	s.dirs[full] = struct{}{}
	s.dirsMu.Unlock()
	if !s.w.recursive {
		return nil
	}
	// Listed beneath the root without following symlinks: a directory swapped
	// for a symlink since its parent was listed does not lead the watch outside.
	entries, err := readDirBeneath(s.w.root, rel)
	if err != nil {
		s.w.log.Debug("cannot list directory to watch it", "dir", rel, "err", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		crel := e.Name()
		if rel != "" {
			crel = rel + "/" + crel
		}
		if !s.w.inScope.Match(crel, true) {
			continue
		}
		if err := s.addTree(full+string(os.PathSeparator)+e.Name(), crel); err != nil {
			return err
		}
	}
	return nil
}

func (s *session) add(dir string) error {
	if s.w.addHook != nil {
		if err := s.w.addHook(dir); err != nil {
			return err
		}
	}
	return s.fw.Add(dir)
}

// removeTree drops the watches at and below full. The kernel has usually
// dropped them already for a removed directory (fsnotify then reports
// ErrNonExistentWatch, ignored here), but not for a renamed one.
func (s *session) removeTree(full string) {
	s.dirsMu.Lock()
	if _, ok := s.dirs[full]; !ok {
		s.dirsMu.Unlock()
		return
	}
	var gone []string
	below := full + string(os.PathSeparator)
	for d := range s.dirs {
		if d == full || strings.HasPrefix(d, below) {
			gone = append(gone, d)
			delete(s.dirs, d)
		}
	}
	s.dirsMu.Unlock()
	for _, d := range gone {
		_ = s.fw.Remove(d)
	}
}

// readDirBeneath lists the directory rel beneath root, following no symlink.
func readDirBeneath(root, rel string) ([]fs.DirEntry, error) {
	d, err := safefs.OpenDir(root, rel)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.ReadDir(-1)
}
