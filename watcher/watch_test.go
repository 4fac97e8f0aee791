package watcher

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/focussync/focussync/internal/scope"
	"github.com/focussync/focussync/internal/testutil"
)

// waitFor is how long a test waits for something that should happen; it is
// generous because the machine may be busy. Nothing waits this long when
// the code works.
const waitFor = 10 * time.Second

// eventRecord is one event handled by a Watch's event loop.
type eventRecord struct {
	ev    fsnotify.Event
	dirty bool
}

// eventRecorder collects the events a Watch handled, in order.
type eventRecorder struct {
	mu  sync.Mutex
	evs []eventRecord
}

func (r *eventRecorder) record(ev fsnotify.Event, dirty bool) {
	r.mu.Lock()
	r.evs = append(r.evs, eventRecord{ev, dirty})
	r.mu.Unlock()
}

func (r *eventRecorder) snapshot() []eventRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]eventRecord(nil), r.evs...)
}

// find returns the first recorded event for name that has op, and whether
// there is one.
func (r *eventRecorder) find(name string, op fsnotify.Op) (eventRecord, bool) {
	for _, e := range r.snapshot() {
		if e.ev.Name == name && e.ev.Has(op) {
			return e, true
		}
	}
	return eventRecord{}, false
}

// reset forgets the events recorded so far.
func (r *eventRecorder) reset() {
	r.mu.Lock()
	r.evs = nil
	r.mu.Unlock()
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startTestWatch starts a Watch that records its events and logs into a
// buffer, closes it at the end of the test and consumes the first signal,
// which arrives once watching is established.
func startTestWatch(t *testing.T, opts WatchOptions) (*Watch, *eventRecorder, *syncBuffer) {
	t.Helper()
	rec := &eventRecorder{}
	logs := &syncBuffer{}
	opts.onEvent = rec.record
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	w, err := NewWatch(opts)
	if err != nil {
		t.Fatalf("NewWatch: %v", err)
	}
	t.Cleanup(func() { _ = w.Close() })
	waitDirty(t, w, waitFor)
	return w, rec, logs
}

// waitDirty waits for a signal on w.Dirty and fails the test after timeout.
func waitDirty(t *testing.T, w *Watch, timeout time.Duration) {
	t.Helper()
	select {
	case <-w.Dirty():
	case <-time.After(timeout):
		t.Fatalf("no dirty signal within %v", timeout)
	}
}

// pending reports whether a dirty signal is pending, consuming it.
func pending(w *Watch) bool {
	select {
	case <-w.Dirty():
		return true
	default:
		return false
	}
}

// expectDirtyEvent waits until the event loop has handled an event with op
// for name, checks that it marked the folder dirty, and that a signal is
// pending (the handler marks dirty before it records). It consumes the
// signal.
func expectDirtyEvent(t *testing.T, w *Watch, rec *eventRecorder, name string, op fsnotify.Op) {
	t.Helper()
	var e eventRecord
	testutil.WaitUntil(t, waitFor, fmt.Sprintf("a %v event for %s", op, name), func() bool {
		var ok bool
		e, ok = rec.find(name, op)
		return ok
	})
	if !e.dirty {
		t.Fatalf("%v: did not mark the folder dirty", e.ev)
	}
	if !pending(w) {
		t.Fatalf("%v marked the folder dirty but no signal is pending", e.ev)
	}
	rec.reset()
}

// watching reports whether the Watch's current session has finished its
// first walk and whether it watches the directory full.
func (w *Watch) watching(full string) (ready, ok bool) {
	s := w.sess.Load()
	if s == nil {
		return false, false
	}
	s.dirsMu.Lock()
	defer s.dirsMu.Unlock()
	_, ok = s.dirs[full]
	return s.ready, ok
}

func (w *Watch) isWatching(full string) bool {
	ready, ok := w.watching(full)
	return ready && ok
}

func (w *Watch) rootPresent() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rootOK
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestWatch_FileChanges(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	outside := t.TempDir()
	w, rec, _ := startTestWatch(t, WatchOptions{Root: root, Mode: ModeEvents})
	if got := w.Mode(); got != ModeEvents {
		t.Fatalf("Mode() = %q, want %q", got, ModeEvents)
	}
	if got := w.Reason(); got != "" {
		t.Fatalf("Reason() = %q, want \"\"", got)
	}
	a := filepath.Join(root, "a.pdf")
	b := filepath.Join(root, "b.pdf")

	t.Run("create", func(t *testing.T) {
		f, err := os.Create(a)
		if err != nil {
			t.Fatal(err)
		}
		expectDirtyEvent(t, w, rec, a, fsnotify.Create)
		t.Run("write", func(t *testing.T) {
			if _, err := f.WriteString("hello"); err != nil {
				t.Fatal(err)
			}
			expectDirtyEvent(t, w, rec, a, fsnotify.Write)
		})
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("rename within", func(t *testing.T) {
		rename(t, a, b)
		expectDirtyEvent(t, w, rec, b, fsnotify.Create)
	})
	t.Run("delete", func(t *testing.T) {
		if err := os.Remove(b); err != nil {
			t.Fatal(err)
		}
		expectDirtyEvent(t, w, rec, b, fsnotify.Remove)
	})
	t.Run("move in from outside", func(t *testing.T) {
		src := filepath.Join(outside, "c.pdf")
		writeFile(t, src, "c")
		c := filepath.Join(root, "c.pdf")
		rename(t, src, c)
		expectDirtyEvent(t, w, rec, c, fsnotify.Create)
	})
	t.Run("move out", func(t *testing.T) {
		c := filepath.Join(root, "c.pdf")
		rename(t, c, filepath.Join(outside, "c.pdf"))
		expectDirtyEvent(t, w, rec, c, fsnotify.Rename)
	})
}

func TestWatch_NewSubdirectory(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	w, rec, _ := startTestWatch(t, WatchOptions{Root: root, Recursive: true})
	sub := filepath.Join(root, "sub")
	mkdir(t, sub)
	// The adder marks the folder dirty once the new directory is watched,
	// so a scan made on that signal sees files created before the watch.
	testutil.WaitUntil(t, waitFor, "the new directory to be watched", func() bool { return w.isWatching(sub) })
	if !pending(w) {
		t.Fatal("no signal pending after a new directory was watched")
	}
	rec.reset()
	for _, name := range []string{"one.txt", "two.txt"} {
		p := filepath.Join(sub, name)
		writeFile(t, p, name)
		expectDirtyEvent(t, w, rec, p, fsnotify.Create)
	}
}

func TestWatch_NestedTreeCreatedAtOnce(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	w, _, _ := startTestWatch(t, WatchOptions{Root: root, Recursive: true})
	deep := filepath.Join(root, "n1", "n2", "n3")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	// Whether n2 and n3 exist when n1's watch is added or appear after it,
	// every level ends up watched.
	for _, d := range []string{"n1", "n1/n2", "n1/n2/n3"} {
		full := filepath.Join(root, filepath.FromSlash(d))
		testutil.WaitUntil(t, waitFor, d+" to be watched", func() bool { return w.isWatching(full) })
	}
	// A tree moved in from outside is walked and watched too.
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(outside, "m1", "m2"), 0o755); err != nil {
		t.Fatal(err)
	}
	rename(t, filepath.Join(outside, "m1"), filepath.Join(root, "m1"))
	m2 := filepath.Join(root, "m1", "m2")
	testutil.WaitUntil(t, waitFor, "a moved-in subtree to be watched", func() bool { return w.isWatching(m2) })
}

func TestWatch_RenamedSubdirectory(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	old := filepath.Join(root, "old")
	if err := os.MkdirAll(filepath.Join(old, "inner"), 0o755); err != nil {
		t.Fatal(err)
	}
	w, rec, _ := startTestWatch(t, WatchOptions{Root: root, Recursive: true})
	for _, d := range []string{old, filepath.Join(old, "inner")} {
		if !w.isWatching(d) {
			t.Fatalf("%s is not watched after the first walk", d)
		}
	}
	renamed := filepath.Join(root, "new")
	rename(t, old, renamed)
	inner := filepath.Join(renamed, "inner")
	testutil.WaitUntil(t, waitFor, "the renamed directory to be watched under its new name", func() bool {
		return w.isWatching(renamed) && w.isWatching(inner) &&
			!w.isWatching(old) && !w.isWatching(filepath.Join(old, "inner"))
	})
	rec.reset()
	for _, p := range []string{filepath.Join(renamed, "f.txt"), filepath.Join(inner, "g.txt")} {
		writeFile(t, p, "x")
		expectDirtyEvent(t, w, rec, p, fsnotify.Create)
	}
	// Renamed back, the directory is watched under its first name again.
	rename(t, renamed, old)
	testutil.WaitUntil(t, waitFor, "the directory to be watched under its first name", func() bool {
		return w.isWatching(old) && w.isWatching(filepath.Join(old, "inner")) &&
			!w.isWatching(renamed) && !w.isWatching(inner)
	})
	rec.reset()
	p := filepath.Join(old, "inner", "h.txt")
	writeFile(t, p, "x")
	expectDirtyEvent(t, w, rec, p, fsnotify.Create)
}

func TestWatch_IgnoredNames(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	m, err := scope.NewMatcher(nil, []string{"*.log", "build"})
	if err != nil {
		t.Fatal(err)
	}
	w, rec, _ := startTestWatch(t, WatchOptions{Root: root, Recursive: true, Matcher: m})
	for _, d := range []string{".git", "build"} {
		mkdir(t, filepath.Join(root, d))
	}
	for _, name := range []string{"~$x.docx", ".hidden", "a.tmp", "debug.log", "Thumbs.db"} {
		writeFile(t, filepath.Join(root, name), "ignored")
	}
	// Events are handled in order: once the last one is handled, all the
	// ignored ones before it have been, and none may have marked the folder.
	sentinel := filepath.Join(root, "zz.partial")
	writeFile(t, sentinel, "ignored")
	testutil.WaitUntil(t, waitFor, "the sentinel's event", func() bool {
		_, ok := rec.find(sentinel, fsnotify.Create)
		return ok
	})
	for _, e := range rec.snapshot() {
		if e.dirty {
			t.Errorf("%v marked the folder dirty", e.ev)
		}
	}
	if pending(w) {
		t.Fatal("a signal is pending after ignored changes only")
	}
	for _, d := range []string{".git", "build"} {
		if _, ok := w.watching(filepath.Join(root, d)); ok {
			t.Errorf("directory %s out of scope is watched", d)
		}
	}
	// The positive control: a change in scope is seen.
	rec.reset()
	real := filepath.Join(root, "report.pdf")
	writeFile(t, real, "real")
	expectDirtyEvent(t, w, rec, real, fsnotify.Create)
}

func TestWatch_NotRecursive(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	sub := filepath.Join(root, "sub")
	mkdir(t, sub)
	w, rec, logs := startTestWatch(t, WatchOptions{Root: root})
	if _, ok := w.watching(sub); ok {
		t.Fatal("a subdirectory is watched without Recursive")
	}
	if !w.isWatching(root) {
		t.Fatalf("the root is not watched (mode %q, reason %q); log:\n%s", w.Mode(), w.Reason(), logs)
	}
	p := filepath.Join(root, "top.txt")
	writeFile(t, p, "x")
	expectDirtyEvent(t, w, rec, p, fsnotify.Create)
}

func TestWatch_BurstIsCoalesced(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	w, rec, _ := startTestWatch(t, WatchOptions{Root: root, Recursive: true})
	const n = 200
	var last string
	for i := range n {
		last = filepath.Join(root, fmt.Sprintf("f%03d.txt", i))
		writeFile(t, last, "x")
	}
	testutil.WaitUntil(t, waitFor, "the last file's event", func() bool {
		_, ok := rec.find(last, fsnotify.Write)
		return ok
	})
	dirtied := 0
	for _, e := range rec.snapshot() {
		if e.dirty {
			dirtied++
		}
	}
	if dirtied < n {
		t.Fatalf("%d events marked the folder dirty, want at least %d", dirtied, n)
	}
	signals := 0
	for pending(w) {
		signals++
	}
	if signals != 1 {
		t.Fatalf("%d signals pending after a burst of %d files, want 1", signals, n)
	}
}

func TestWatch_Classify(t *testing.T) {
	t.Parallel()
	m, err := scope.NewMatcher([]string{"*.pdf"}, []string{"private/"})
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.FromSlash("/srv/share")
	w := &Watch{root: root, prefix: root + string(filepath.Separator), recursive: true, inScope: m}
	p := func(rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }
	cases := []struct {
		name string
		ev   fsnotify.Event
		want eventAction
	}{
		{"chmod only", fsnotify.Event{Name: p("a.pdf"), Op: fsnotify.Chmod}, eventAction{}},
		{"create in scope", fsnotify.Event{Name: p("a.pdf"), Op: fsnotify.Create},
			eventAction{dirty: true, addDir: true}},
		{"write in scope", fsnotify.Event{Name: p("a.pdf"), Op: fsnotify.Write}, eventAction{dirty: true}},
		{"write with chmod", fsnotify.Event{Name: p("a.pdf"), Op: fsnotify.Write | fsnotify.Chmod},
			eventAction{dirty: true}},
		{"write not included", fsnotify.Event{Name: p("a.txt"), Op: fsnotify.Write}, eventAction{}},
		{"create maybe a dir", fsnotify.Event{Name: p("docs"), Op: fsnotify.Create}, eventAction{addDir: true}},
		{"remove maybe a dir", fsnotify.Event{Name: p("docs"), Op: fsnotify.Remove},
			eventAction{dirty: true, removeDir: true}},
		{"rename in scope", fsnotify.Event{Name: p("d/a.pdf"), Op: fsnotify.Rename},
			eventAction{dirty: true, removeDir: true}},
		{"excluded dir", fsnotify.Event{Name: p("private"), Op: fsnotify.Create}, eventAction{}},
		{"office owner file", fsnotify.Event{Name: p("~$a.pdf"), Op: fsnotify.Create}, eventAction{}},
		{"dot dir", fsnotify.Event{Name: p(".git"), Op: fsnotify.Remove}, eventAction{}},
		{"root removed", fsnotify.Event{Name: root, Op: fsnotify.Remove}, eventAction{dirty: true, rootLost: true}},
		{"root renamed", fsnotify.Event{Name: root, Op: fsnotify.Rename}, eventAction{dirty: true, rootLost: true}},
		{"root chmod", fsnotify.Event{Name: root, Op: fsnotify.Chmod}, eventAction{}},
		{"outside the root", fsnotify.Event{Name: root + "x/a.pdf", Op: fsnotify.Create}, eventAction{}},
	}
	for _, c := range cases {
		if got := w.classify(c.ev); got != c.want {
			t.Errorf("%s: classify(%v) = %+v, want %+v", c.name, c.ev, got, c.want)
		}
	}
}
