package watcher

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/focussync/focussync/internal/testutil"
)

func TestWatch_PollMode(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	w, _, _ := startTestWatch(t, WatchOptions{Root: root, Mode: ModePoll, RootCheck: 20 * time.Millisecond})
	if got, want := w.Mode(), ModePoll; got != want {
		t.Fatalf("Mode() = %q, want %q", got, want)
	}
	if got, want := w.Reason(), "watch = poll"; got != want {
		t.Fatalf("Reason() = %q, want %q", got, want)
	}
	writeFile(t, filepath.Join(root, "a.pdf"), "x")
	// No fsnotify at all: no session was ever started. After two root
	// checks, nothing has marked the folder dirty either.
	n := w.checks.Load()
	testutil.WaitUntil(t, waitFor, "two root checks", func() bool { return w.checks.Load() >= n+2 })
	if got := w.sessions.Load(); got != 0 {
		t.Fatalf("%d fsnotify sessions started in poll mode", got)
	}
	if pending(w) {
		t.Fatal("a signal is pending in poll mode after a file change")
	}
}

func TestWatch_AutoOnNetworkFilesystem(t *testing.T) {
	t.Parallel()
	nfs := func(string) (string, bool, error) { return "nfs", true, nil }
	local := func(string) (string, bool, error) { return "ext4", false, nil }
	unknown := func(string) (string, bool, error) { return "", false, errors.ErrUnsupported }
	cases := []struct {
		name       string
		mode       string
		fsType     func(string) (string, bool, error)
		wantMode   string
		wantReason string
		wantLog    string
	}{
		{"auto on nfs", ModeAuto, nfs, ModePoll, "network filesystem nfs",
			"folder is on a network filesystem (nfs): watching by periodic rescan"},
		{"default on nfs", "", nfs, ModePoll, "network filesystem nfs", "(nfs)"},
		{"auto on ext4", ModeAuto, local, ModeEvents, "", ""},
		{"auto when unknown", ModeAuto, unknown, ModeEvents, "", ""},
		{"events on nfs", ModeEvents, nfs, ModeEvents, "", "may never be reported"},
		{"poll on ext4", ModePoll, local, ModePoll, "watch = poll", "watch = poll"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w, _, logs := startTestWatch(t, WatchOptions{Root: t.TempDir(), Mode: c.mode, fsType: c.fsType})
			if got := w.Mode(); got != c.wantMode {
				t.Errorf("Mode() = %q, want %q", got, c.wantMode)
			}
			if got := w.Reason(); got != c.wantReason {
				t.Errorf("Reason() = %q, want %q", got, c.wantReason)
			}
			if got := strings.Count(logs.String(), c.wantLog); c.wantLog != "" && got != 1 {
				t.Errorf("log has %q %d times, want once:\n%s", c.wantLog, got, logs)
			}
			if started := w.sessions.Load() > 0; started != (c.wantMode == ModeEvents) {
				t.Errorf("fsnotify session started: %v, want %v", started, c.wantMode == ModeEvents)
			}
		})
	}
}

func TestWatch_RootRenamedAwayAndBack(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	root := filepath.Join(parent, "folder")
	away := filepath.Join(parent, "away")
	mkdir(t, root)
	w, rec, logs := startTestWatch(t, WatchOptions{Root: root, RootCheck: 50 * time.Millisecond})

	rename(t, root, away)
	waitDirty(t, w, waitFor)
	testutil.WaitUntil(t, waitFor, "the root check to see the root gone", func() bool { return !w.rootPresent() })
	testutil.WaitUntil(t, waitFor, "the session to stop", func() bool { return w.sess.Load() == nil })
	pending(w)

	rename(t, away, root)
	waitDirty(t, w, waitFor)
	testutil.WaitUntil(t, waitFor, "the root to be watched again", func() bool { return w.isWatching(root) })
	rec.reset()
	p := filepath.Join(root, "after.txt")
	writeFile(t, p, "x")
	expectDirtyEvent(t, w, rec, p, fsnotify.Create)
	for _, want := range []string{"folder root is gone", "folder root is back"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestWatch_RootReplaced(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	root := filepath.Join(parent, "folder")
	mkdir(t, root)
	// A long root check: the replacement happens between two checks, and
	// the root's lost watch is what triggers the rebuild.
	w, rec, _ := startTestWatch(t, WatchOptions{Root: root, RootCheck: 100 * time.Millisecond})
	first := w.sess.Load()
	rename(t, root, filepath.Join(parent, "old"))
	mkdir(t, root)
	waitDirty(t, w, waitFor)
	testutil.WaitUntil(t, waitFor, "a new session watching the new root", func() bool {
		s := w.sess.Load()
		return s != nil && s != first && w.isWatching(root)
	})
	rec.reset()
	p := filepath.Join(root, "new.txt")
	writeFile(t, p, "x")
	expectDirtyEvent(t, w, rec, p, fsnotify.Create)
}

func TestWatch_RootMissingAtStart(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "later")
	// The first signal arrives at once: the worker's scan reports the
	// missing root.
	w, rec, _ := startTestWatch(t, WatchOptions{Root: root, RootCheck: 20 * time.Millisecond})
	if w.sess.Load() != nil {
		t.Fatal("a session runs without a root")
	}
	mkdir(t, root)
	waitDirty(t, w, waitFor)
	testutil.WaitUntil(t, waitFor, "the new root to be watched", func() bool { return w.isWatching(root) })
	rec.reset()
	p := filepath.Join(root, "a.txt")
	writeFile(t, p, "x")
	expectDirtyEvent(t, w, rec, p, fsnotify.Create)
}

func TestWatch_Overflow(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	w, rec, logs := startTestWatch(t, WatchOptions{Root: root, RootCheck: 20 * time.Millisecond})
	before := w.sessions.Load()
	for _, err := range []error{fsnotify.ErrEventOverflow, fmt.Errorf("read: %w", fsnotify.ErrEventOverflow)} {
		w.handleError(err)
		if !pending(w) {
			t.Fatalf("handleError(%v) left no signal", err)
		}
	}
	if got := strings.Count(logs.String(), "sysctl fs.inotify.max_queued_events"); got != 1 {
		t.Errorf("the sysctl is named %d times in the log, want once (rate-limited):\n%s", got, logs)
	}
	// Events lost may include the creation of directories: the watches are
	// rebuilt, and events work afterwards.
	testutil.WaitUntil(t, waitFor, "the watches to be rebuilt", func() bool {
		return w.sessions.Load() > before && w.isWatching(root)
	})
	rec.reset()
	p := filepath.Join(root, "a.txt")
	writeFile(t, p, "x")
	expectDirtyEvent(t, w, rec, p, fsnotify.Create)

	w.handleError(errors.New("some read error"))
	if !pending(w) {
		t.Fatal("another watch error left no signal")
	}
}

func TestWatch_KernelLimitFallsBackToPoll(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		errno syscall.Errno
		limit string
	}{
		{"max_user_watches", syscall.ENOSPC, "max_user_watches"},
		{"max_user_instances", syscall.EMFILE, "max_user_instances"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			sub := filepath.Join(root, "sub")
			mkdir(t, sub)
			var mu sync.Mutex
			fail := true
			hook := func(dir string) error {
				mu.Lock()
				defer mu.Unlock()
				if fail && dir == sub {
					return fmt.Errorf("inotify_add_watch: %w", c.errno)
				}
				return nil
			}
			w, _, logs := startTestWatch(t, WatchOptions{
				Root: root, Recursive: true, RootCheck: 20 * time.Millisecond,
				addHook: hook, limitRetry: 20 * time.Millisecond,
			})
			testutil.WaitUntil(t, waitFor, "the fallback to poll", func() bool { return w.Mode() == ModePoll })
			if got := w.Reason(); !strings.Contains(got, c.limit) {
				t.Fatalf("Reason() = %q, want it to name %s", got, c.limit)
			}
			testutil.WaitUntil(t, waitFor, "the session to stop", func() bool { return w.sess.Load() == nil })
			// Retries meet the limit again: still polling, warned once.
			n := w.sessions.Load()
			testutil.WaitUntil(t, waitFor, "two retries", func() bool { return w.sessions.Load() >= n+2 })
			if got := strings.Count(logs.String(), "sysctl fs.inotify."+c.limit); got != 1 {
				t.Errorf("the remedy is logged %d times, want once:\n%s", got, logs)
			}
			// The limit raised, a retry watches by events again.
			mu.Lock()
			fail = false
			mu.Unlock()
			testutil.WaitUntil(t, waitFor, "events mode again", func() bool {
				return w.Mode() == ModeEvents && w.isWatching(sub)
			})
			if got := w.Reason(); got != "" {
				t.Fatalf("Reason() = %q in events mode, want \"\"", got)
			}
		})
	}
}

func TestWatch_LimitAtStartNamesTheSysctl(t *testing.T) {
	t.Parallel()
	hook := func(string) error { return fmt.Errorf("inotify_add_watch: %w", syscall.ENOSPC) }
	w, _, logs := startTestWatch(t, WatchOptions{Root: t.TempDir(), addHook: hook})
	// The first signal may come before the fallback is recorded.
	testutil.WaitUntil(t, waitFor, "the fallback to poll", func() bool { return w.Mode() == ModePoll })
	if got := w.Reason(); !strings.Contains(got, "max_user_watches") {
		t.Fatalf("Reason() = %q, want it to mention max_user_watches", got)
	}
	testutil.WaitUntil(t, waitFor, "the warning", func() bool {
		return strings.Contains(logs.String(), "sysctl fs.inotify.max_user_watches=524288")
	})
}

func TestWatch_Close(t *testing.T) {
	// Not parallel: it counts the process's goroutines.
	before := runtime.NumGoroutine()
	root := t.TempDir()
	mkdir(t, filepath.Join(root, "sub"))
	for _, mode := range []string{ModeEvents, ModePoll} {
		w, err := NewWatch(WatchOptions{Root: root, Recursive: true, Mode: mode, RootCheck: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		waitDirty(t, w, waitFor)
		writeFile(t, filepath.Join(root, "sub", "x"), mode)
		if err := w.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		select {
		case <-w.done:
		default:
			t.Fatal("Close returned before the supervisor stopped")
		}
	}
	// Goroutines ending after Close (timers' and the runtime's) may take a
	// moment to be counted out.
	testutil.WaitUntil(t, waitFor, "the goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

func TestNewWatch_BadOptions(t *testing.T) {
	t.Parallel()
	for _, opts := range []WatchOptions{
		{},
		{Root: t.TempDir(), Mode: "inotify"},
	} {
		if w, err := NewWatch(opts); err == nil {
			_ = w.Close()
			t.Errorf("NewWatch(%+v) succeeded, want an error", opts)
		}
	}
}

func TestWatch_AutoDecidesAgainWhenTheRootComesBack(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "mnt")
	// A share mounted on the root once it exists: the mode follows.
	fsType := func(path string) (string, bool, error) {
		if _, err := os.Stat(path); err != nil {
			return "", false, err
		}
		return "cifs", true, nil
	}
	w, _, logs := startTestWatch(t, WatchOptions{Root: root, RootCheck: 20 * time.Millisecond, fsType: fsType})
	if got := w.Mode(); got != ModeEvents {
		t.Fatalf("Mode() = %q with no root, want %q", got, ModeEvents)
	}
	mkdir(t, root)
	waitDirty(t, w, waitFor)
	testutil.WaitUntil(t, waitFor, "poll mode", func() bool { return w.Mode() == ModePoll })
	if got, want := w.Reason(), "network filesystem cifs"; got != want {
		t.Fatalf("Reason() = %q, want %q", got, want)
	}
	if w.sess.Load() != nil {
		t.Fatal("an fsnotify session runs on a network filesystem in auto mode")
	}
	testutil.WaitUntil(t, waitFor, "a message naming the filesystem", func() bool {
		return strings.Contains(logs.String(), "network filesystem (cifs)")
	})
}
