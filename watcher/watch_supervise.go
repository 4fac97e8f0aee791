package watcher

import (
	"fmt"
	"os"
	"time"

	"github.com/fsnotify/fsnotify"
)

// rootState is what a root check found.
type rootState struct {
	ok  bool // the root is a directory that could be examined
	fi  os.FileInfo
	dev uint64
	err error
}

func statRoot(root string) rootState {
	fi, err := os.Stat(root)
	if err != nil {
		return rootState{err: err}
	}
	if !fi.IsDir() {
		return rootState{err: fmt.Errorf("%s: %w", root, ErrRootNotDir)}
	}
	dev, err := DeviceOf(root)
	if err != nil {
		return rootState{err: err}
	}
	return rootState{ok: true, fi: fi, dev: dev}
}

// run is the supervisor: the only goroutine that starts and stops sessions
// and changes the mode. It checks the root every w.every, because an
// unmount drops inotify watches without any event, and a root that is
// renamed away or replaced leaves the watches on the old directory.
func (w *Watch) run(cur rootState) {
	defer close(w.done)
	defer w.stopSession()
	tick := time.NewTicker(w.every)
	defer tick.Stop()
	defer func() {
		if w.retry != nil {
			w.retry.Stop()
		}
	}()

	if cur.ok {
		w.startSession()
	} else {
		w.markDirty() // the worker's scan reports the missing root
	}
	for {
		var retryC <-chan time.Time
		if w.limited {
			retryC = w.retry.C
		}
		select {
		case <-w.stop:
			return
		case hit := <-w.fallback:
			if hit.s != nil && hit.s == w.sess.Load() {
				w.fallBack(hit.err)
			}
		case <-retryC:
			w.limited = false
			if cur.ok {
				w.startSession()
			}
		case <-tick.C:
			cur = w.checkRoot(cur)
		}
	}
}

// checkRoot compares the root with what the last check found, marks the
// folder dirty on any change and rebuilds the watches where needed. It
// returns what it found.
func (w *Watch) checkRoot(prev rootState) rootState {
	defer w.checks.Add(1)
	now := statRoot(w.root)
	resync := w.resync.Swap(false)
	w.mu.Lock()
	w.rootOK = now.ok
	w.mu.Unlock()
	switch {
	case prev.ok && !now.ok:
		w.log.Warn("folder root is gone or unreadable: the folder is paused until it returns",
			"err", now.err)
		w.markDirty()
		w.stopSession()
	case !prev.ok && now.ok:
		w.log.Info("folder root is back")
		w.markDirty()
		w.startSession()
	case !now.ok:
		// Still missing: nothing to watch.
	case prev.dev != now.dev:
		w.log.Warn("folder root changed device (a filesystem was mounted or unmounted)",
			"device_was", prev.dev, "device", now.dev)
		w.markDirty()
		w.startSession()
	case !os.SameFile(prev.fi, now.fi):
		w.log.Warn("folder root was replaced by another directory")
		w.markDirty()
		w.startSession()
	case resync:
		w.log.Debug("rebuilding the folder's watches")
		w.markDirty()
		w.startSession()
	}
	return now
}

// startSession decides the mode and, in events mode, replaces the current
// session with a fresh one. A session marks the folder dirty once its
// watches are set; in poll mode the folder is marked dirty at once.
func (w *Watch) startSession() {
	w.stopSession()
	if w.limited {
		w.markDirty()
		return
	}
	mode, reason := w.decide()
	if mode == ModePoll {
		w.setMode(mode, reason)
		w.markDirty()
		return
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		// inotify_init1 fails with EMFILE at max_user_instances; on a system
		// without a backend fsnotify fails the same way every time.
		w.fallBack(err)
		return
	}
	w.setMode(ModeEvents, "")
	w.sessions.Add(1)
	s := newSession(w, fw)
	w.sess.Store(s) // before it runs: its signals may mean "s is ready"
	s.start()
}

func (w *Watch) stopSession() {
	if s := w.sess.Swap(nil); s != nil {
		s.close()
	}
}

// fallBack switches the folder to polling after err, met while setting up
// watches, and arms the retry.
func (w *Watch) fallBack(err error) {
	w.stopSession()
	w.markDirty() // changes may have been missed before and while failing
	reason, hint, isLimit := limitReason(err)
	msg := "cannot watch the folder by events, watching by periodic rescan instead"
	if isLimit {
		msg += ": " + hint
	} else {
		reason = "fsnotify failed: " + err.Error()
	}
	w.mu.Lock()
	warn := !w.limitWarned
	w.limitWarned = true
	w.mu.Unlock()
	if warn {
		w.log.Warn(msg, "err", err)
	} else {
		w.log.Debug("still cannot watch the folder by events", "err", err)
	}
	w.setMode(ModePoll, reason)
	w.limited = true
	if w.retry == nil {
		w.retry = time.NewTimer(w.retryDelay)
	} else {
		w.retry.Reset(w.retryDelay)
	}
	w.retryDelay = min(2*w.retryDelay, limitRetryMax)
}
