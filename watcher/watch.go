package watcher

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/focussync/focussync/internal/fsinfo"
	"github.com/focussync/focussync/internal/scope"
)

// Watch modes, as in the folder's watch setting.
const (
	// ModeAuto watches by events, except on network and FUSE filesystems,
	// which are polled.
	ModeAuto = "auto"
	// ModeEvents always watches by filesystem events.
	ModeEvents = "events"
	// ModePoll never watches: only the periodic rescan finds changes.
	ModePoll = "poll"
)

// netReason starts the Reason of a folder polled for its filesystem.
const netReason = "network filesystem "

// DefaultRootCheck is how often a Watch checks its root when
// WatchOptions.RootCheck is zero.
const DefaultRootCheck = 5 * time.Second

// Retry delays for a folder that fell back to polling because a kernel limit
// was reached: the limit may be raised meanwhile, or other watches released.
const (
	limitRetryMin = time.Minute
	limitRetryMax = time.Hour
)

// WatchOptions configures NewWatch.
type WatchOptions struct {
	// Root is the folder's path; it is made absolute. It need not exist: a
	// missing root is watched for its return.
	Root string
	// Recursive watches every subdirectory in scope too; by default only the
	// root's own entries are watched, as Scan only looks at those.
	Recursive bool
	// Mode is ModeAuto (or ""), ModeEvents or ModePoll.
	Mode string
	// Matcher, when set, tells which paths are in scope: events for other
	// paths do not mark the folder dirty and directories out of scope are
	// not watched. Nil means everything but the names scope.IgnoredByDefault.
	Matcher *scope.Matcher
	// RootCheck is how often the root is checked (present, the same
	// directory, on the same device); 0 means DefaultRootCheck.
	RootCheck time.Duration
	// Log receives the watch's messages; nil discards them. The messages do
	// not name the folder: pass a logger that does (log.With("folder", ...)).
	Log *slog.Logger

	// addHook, when set, runs before each fsnotify Add; an error it returns
	// is taken as Add's. Tests use it to inject kernel limit errors.
	addHook func(dir string) error
	// fsType names the root's filesystem; nil means fsinfo.FSType. Tests use
	// it to pretend the root is on a network filesystem.
	fsType func(path string) (name string, network bool, err error)
	// limitRetry is the first pause before trying events again after a
	// kernel limit; 0 means a minute.
	limitRetry time.Duration
	// onEvent, when set, is called by the event loop after each event, with
	// whether it marked the folder dirty.
	onEvent func(ev fsnotify.Event, dirty bool)
}

// Watch tells a folder's worker that the folder may have changed and must be
// rescanned. It never says what changed: the worker scans the whole folder
// and the planner diffs. Lost events (a queue overflow, an unmount, a watch
// that could not be set) also mark the folder dirty, never silently pass.
//
// Create a Watch with NewWatch and stop it with Close.
type Watch struct {
	root      string
	prefix    string // root with a trailing separator
	recursive bool
	want      string // the configured mode
	inScope   *scope.Matcher
	every     time.Duration
	log       *slog.Logger
	addHook   func(string) error
	fsType    func(string) (string, bool, error)
	onEvent   func(fsnotify.Event, bool)

	dirty     chan struct{} // capacity 1: a value means "rescan"
	stop      chan struct{} // closed by Close
	done      chan struct{} // closed when the supervisor has stopped everything
	closeOnce sync.Once

	// fallback carries a kernel limit hit by a session to the supervisor;
	// unbuffered, so that a hit from a session closed meanwhile cannot
	// crowd out the current session's.
	fallback chan limitHit
	// resync asks the supervisor to rebuild the watches at the next root
	// check: the root's own watch is gone, or events were lost and with them
	// perhaps the creation of directories that now go unwatched.
	resync atomic.Bool

	mu          sync.Mutex // guards the fields below
	mode        string
	reason      string
	rootOK      bool
	lastWarn    time.Time // last overflow warning
	limitWarned bool
	netWarned   bool

	// sess is the current session, nil when polling or while the root is
	// missing. Only the supervisor changes it.
	sess atomic.Pointer[session]

	// Owned by the supervisor goroutine.
	limited    bool // polling for a kernel limit until retry fires
	retryDelay time.Duration
	retry      *time.Timer

	// Counters for tests: root checks done, sessions started.
	checks   atomic.Int64
	sessions atomic.Int64
}

// limitHit is a kernel limit error met by a session.
type limitHit struct {
	s   *session
	err error
}

// NewWatch starts watching opts.Root and returns at once; the directory
// tree is walked and its watches set in the background. Dirty delivers a
// first signal once watching is established (or at once when polling or
// when the root is missing), so a scan made on that signal misses nothing.
//
// NewWatch fails only on bad options. It never fails because of fsnotify or
// kernel limits: the folder is then polled (Mode returns ModePoll and
// Reason says why) and a warning names the limit to raise.
func NewWatch(opts WatchOptions) (*Watch, error) {
	if opts.Root == "" {
		return nil, errors.New("watch: no root")
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", opts.Root, err)
	}
	want := opts.Mode
	switch want {
	case "":
		want = ModeAuto
	case ModeAuto, ModeEvents, ModePoll:
	default:
		return nil, fmt.Errorf("watch %s: mode %q is not auto, events or poll", root, opts.Mode)
	}
	w := &Watch{
		root:      root,
		prefix:    root + string(filepath.Separator),
		recursive: opts.Recursive,
		want:      want,
		inScope:   opts.Matcher,
		every:     opts.RootCheck,
		log:       opts.Log,
		addHook:   opts.addHook,
		fsType:    opts.fsType,
		onEvent:   opts.onEvent,
		dirty:     make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		fallback:  make(chan limitHit),
	}
	if os.IsPathSeparator(root[len(root)-1]) {
		w.prefix = root
	}
	if w.inScope == nil {
		w.inScope = &scope.Matcher{}
	}
	if w.every <= 0 {
		w.every = DefaultRootCheck
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.fsType == nil {
		w.fsType = fsinfo.FSType
	}
	w.retryDelay = opts.limitRetry
	if w.retryDelay <= 0 {
		w.retryDelay = limitRetryMin
	}

	// The mode is decided here, so that Mode is meaningful at once; the
	// supervisor decides again whenever the root comes back or changes.
	rs := statRoot(root)
	w.rootOK = rs.ok
	w.setMode(w.decide())
	go w.run(rs)
	return w, nil
}

// Dirty returns the channel on which the Watch signals that the folder must
// be rescanned. It has a capacity of one and signals are coalesced: any
// number of changes before the worker receives leave one pending value.
// Receive, then scan; changes made during the scan leave a new value.
func (w *Watch) Dirty() <-chan struct{} { return w.dirty }

// Mode returns how the folder is watched now: ModeEvents or ModePoll. It may
// change over the Watch's life: auto mode decides again when the root comes
// back or changes device, and a folder that fell back to polling because of
// a kernel limit tries events again after a minute, then after doubling
// pauses up to an hour.
func (w *Watch) Mode() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mode
}

// Reason says why the folder is polled ("watch = poll", "network filesystem
// nfs", "inotify limit reached: ..."); it is "" in events mode.
func (w *Watch) Reason() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reason
}

// Close stops the watch and its goroutines and returns when they are gone.
// It may be called more than once; it always returns nil.
func (w *Watch) Close() error {
	w.closeOnce.Do(func() { close(w.stop) })
	<-w.done
	return nil
}

// markDirty leaves a pending signal on the dirty channel unless one is
// already there. It never blocks.
func (w *Watch) markDirty() {
	select {
	case w.dirty <- struct{}{}:
	default:
	}
}

// decide returns the mode the folder should be watched in now, and why it
// is polled.
func (w *Watch) decide() (mode, reason string) {
	if w.want == ModePoll {
		return ModePoll, "watch = poll"
	}
	name, network, err := w.fsType(w.root)
	if err != nil || !network {
		return ModeEvents, ""
	}
	if w.want == ModeAuto {
		return ModePoll, netReason + name
	}
	w.mu.Lock()
	warn := !w.netWarned
	w.netWarned = true
	w.mu.Unlock()
	if warn {
		w.log.Warn("folder is on a network filesystem but watch = events: changes made "+
			"by other machines may never be reported; only the periodic rescan finds them",
			"fs", name)
	}
	return ModeEvents, ""
}

// setMode records the effective mode and logs a change of it.
func (w *Watch) setMode(mode, reason string) {
	w.mu.Lock()
	changed := mode != w.mode || reason != w.reason
	first := w.mode == ""
	w.mode, w.reason = mode, reason
	w.mu.Unlock()
	if !changed {
		return
	}
	switch {
	case mode == ModeEvents && !first:
		w.log.Info("watching the folder by filesystem events again")
	case mode == ModePoll && reason == "watch = poll":
		w.log.Info("watching the folder by periodic rescan (watch = poll)")
	case mode == ModePoll && strings.HasPrefix(reason, netReason):
		// Kernel limits and fsnotify failures are warned about where they
		// are met, with the remedy.
		w.log.Info("folder is on a network filesystem (" + strings.TrimPrefix(reason, netReason) +
			"): watching by periodic rescan (the rescan interval)")
	}
}

// handleError handles an error from fsnotify's Errors channel. Lost events
// mean a rescan, never silence: every error marks the folder dirty, and a
// queue overflow also rebuilds the watches (directories created during the
// loss went unwatched).
func (w *Watch) handleError(err error) {
	w.markDirty()
	if !errors.Is(err, fsnotify.ErrEventOverflow) {
		w.log.Warn("watch error; rescanning the folder", "err", err)
		return
	}
	w.resync.Store(true)
	w.mu.Lock()
	warn := time.Since(w.lastWarn) >= 10*time.Minute
	if warn {
		w.lastWarn = time.Now()
	}
	w.mu.Unlock()
	if warn {
		w.log.Warn("filesystem events were lost (queue overflow); rescanning the folder. " + overflowHint)
	} else {
		w.log.Debug("filesystem events were lost (queue overflow); rescanning the folder")
	}
}

// relPath returns the '/'-separated path of name relative to the root, ""
// for the root itself; false when name is not under the root.
func (w *Watch) relPath(name string) (string, bool) {
	if name == w.root {
		return "", true
	}
	if len(name) <= len(w.prefix) || name[:len(w.prefix)] != w.prefix {
		return "", false
	}
	return filepath.ToSlash(name[len(w.prefix):]), true
}
