package cluster

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/internal/testutil"
	"github.com/focussync/focussync/state"
)

var task = Task{Organization: 11, Workspace: 22, Task: 101}

func newShare(t *testing.T, node, writer string, ttl time.Duration, fsys FS) *Share {
	t.Helper()
	var cache time.Duration
	if _, stale := fsys.(*staleFS); stale {
		cache = time.Second // as a network file system's caches would
	}
	s, err := NewShare(ShareOptions{Node: node, Writer: writer, TTL: ttl, FS: fsys, CacheDelay: cache})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func join(t *testing.T, s *Share, dir string) *Lease {
	t.Helper()
	// A folder with a file: an empty one may be an unmounted share's mount point.
	if err := os.WriteFile(filepath.Join(dir, "file.txt"), []byte("x"), 0o644); err != nil && !os.IsPermission(err) {
		t.Fatal(err)
	}
	l, err := s.Join(task, dir)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func holding(l *Lease) bool { return l.Check() == nil }

// overlapWatch samples the leases and fails the test if two of them allow writes
// at the same moment.
func overlapWatch(t *testing.T, leases func() []*Lease) (stop func()) {
	t.Helper()
	var done atomic.Bool
	var wg sync.WaitGroup
	var bad atomic.Int32
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !done.Load() {
			n := 0
			for _, l := range leases() {
				if l != nil && holding(l) {
					n++
				}
			}
			if n > 1 {
				bad.Add(1)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	return func() {
		done.Store(true)
		wg.Wait()
		if n := bad.Load(); n > 0 {
			t.Errorf("two processes allowed to write at once in %d samples", n)
		}
	}
}

func TestShare_OneHolderThenReleaseHandsOver(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const ttl = 2 * time.Second
	a := newShare(t, "host-a", "db-a", ttl, nil)
	b := newShare(t, "host-b", "db-b", ttl, nil)
	la := join(t, a, dir)
	testutil.WaitUntil(t, 3*ttl, "a holds the lease", func() bool { return holding(la) })
	lb := join(t, b, dir)
	var mu sync.Mutex
	leases := []*Lease{la, lb}
	stop := overlapWatch(t, func() []*Lease { mu.Lock(); defer mu.Unlock(); return leases })

	testutil.WaitUntil(t, 3*ttl, "b sees a as the holder", func() bool {
		st := lb.Status()
		return st.Role == RoleStandby && st.Holder.Node == "host-a"
	})
	if got := lb.Status().String(); got[:len("standby, held by host-a since ")] != "standby, held by host-a since " {
		t.Errorf("standby status = %q", got)
	}
	// Stays with a while a renews: several TTLs.
	time.Sleep(2 * ttl)
	if !holding(la) || holding(lb) {
		t.Fatalf("after 2 TTLs: a holding %v, b holding %v; want a only", holding(la), holding(lb))
	}
	if err := lb.Check(); !errors.Is(err, ErrNotHolder) {
		t.Errorf("standby Check = %v, want ErrNotHolder", err)
	}

	start := time.Now()
	if err := la.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if holding(la) {
		t.Error("released lease still allows writes")
	}
	testutil.WaitUntil(t, ttl, "b takes over a released lease in less than the TTL", func() bool { return holding(lb) })
	t.Logf("takeover after release: %s (ttl %s)", time.Since(start).Round(time.Millisecond), ttl)
	if !lb.TakeAdopt() {
		t.Error("b took the lease from another writer but is not told to adopt")
	}
	if lb.TakeAdopt() {
		t.Error("TakeAdopt reported twice")
	}
	if st := lb.Status(); st.Takeovers != 0 {
		t.Errorf("takeovers after a clean release = %d, want 0", st.Takeovers)
	}
	stop()
}

func TestShare_CrashedHolderIsTakenOverWithinTTL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const ttl = 2 * time.Second
	a := newShare(t, "host-a", "db-a", ttl, nil)
	b := newShare(t, "host-b", "db-b", ttl, nil)
	la := join(t, a, dir)
	testutil.WaitUntil(t, 3*ttl, "a holds the lease", func() bool { return holding(la) })
	lb := join(t, b, dir)
	testutil.WaitUntil(t, 3*ttl, "b is a standby", func() bool { return lb.Status().Holder.Node == "host-a" })

	la.abandon() // as SIGKILL: nothing released
	killed := time.Now()
	took := testutil.WaitUntil(t, 2*ttl, "b takes over", func() bool { return holding(lb) })
	if limit := ttl + a.renewEvery() + 500*time.Millisecond; took > limit {
		t.Errorf("takeover took %s, want at most the TTL plus one renewal (%s)", took, limit)
	}
	t.Logf("takeover after a crash: %s (ttl %s)", time.Since(killed).Round(time.Millisecond), ttl)
	st := lb.Status()
	if st.Role != RoleHolder || st.Takeovers != 1 {
		t.Errorf("status after takeover = %+v, want holder with 1 takeover", st)
	}
	if !lb.TakeAdopt() {
		t.Error("takeover from another writer does not ask for adoption")
	}
}

func TestShare_RestartOfTheLastWriterNeedsNoAdoption(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const ttl = time.Second
	a := newShare(t, "host-a", "db-a", ttl, nil)
	la := join(t, a, dir)
	testutil.WaitUntil(t, 3*ttl, "a holds", func() bool { return holding(la) })
	if !la.TakeAdopt() {
		t.Error("first holder of a folder without a record must adopt (it cannot know who wrote before)")
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The same state db in a new process: a new instance, the same writer id.
	a2 := newShare(t, "host-a", "db-a", ttl, nil)
	if a2.Instance() == a.Instance() {
		t.Fatal("two processes share an instance id")
	}
	la2 := join(t, a2, dir)
	testutil.WaitUntil(t, 3*ttl, "a2 holds", func() bool { return holding(la2) })
	if la2.TakeAdopt() {
		t.Error("the last writer's own restart asks for adoption (a needless list)")
	}
}

func TestShare_RecordOfADeadProcessOnTheSameStateDBIsClaimedAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const ttl = 4 * time.Second
	a := newShare(t, "host-a", "db-a", ttl, nil)
	la := join(t, a, dir)
	testutil.WaitUntil(t, 3*ttl, "a holds", func() bool { return holding(la) })
	la.abandon() // SIGKILL; the same host restarts on the same state db
	a2 := newShare(t, "host-a", "db-a", ttl, nil)
	la2 := join(t, a2, dir)
	took := testutil.WaitUntil(t, 3*ttl, "a2 holds", func() bool { return holding(la2) })
	if took > ttl/2 {
		t.Errorf("restart after a crash took %s to hold the lease, want less than half the TTL (%s): no wait for silence", took, ttl/2)
	}
	if la2.TakeAdopt() {
		t.Error("restart on the same state db asks for adoption")
	}
	if st := la2.Status(); st.Takeovers != 1 {
		t.Errorf("takeovers = %d, want 1", st.Takeovers)
	}
}

func TestShare_ManyContendersOneHolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const ttl = 2 * time.Second
	var mu sync.Mutex
	var leases []*Lease
	stop := overlapWatch(t, func() []*Lease { mu.Lock(); defer mu.Unlock(); return append([]*Lease(nil), leases...) })
	for i := range 4 {
		s := newShare(t, "host", "db-"+string(rune('a'+i)), ttl, nil)
		l := join(t, s, dir)
		mu.Lock()
		leases = append(leases, l)
		mu.Unlock()
	}
	testutil.WaitUntil(t, 4*ttl, "one of four holds", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, l := range leases {
			if holding(l) {
				return true
			}
		}
		return false
	})
	// Crash holders one after another: each time another one takes over.
	for round := 0; round < 3; round++ {
		mu.Lock()
		var h *Lease
		for _, l := range leases {
			if holding(l) {
				h = l
			}
		}
		mu.Unlock()
		if h == nil {
			t.Fatalf("round %d: nobody holds", round)
		}
		h.abandon()
		testutil.WaitUntil(t, 3*ttl, "another contender takes over", func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, l := range leases {
				if l != h && holding(l) {
					return true
				}
			}
			return false
		})
	}
	stop()
}

// staleFS serves each read from a per-process cache for up to maxAge after it was
// filled, as an NFS or SMB client's caches may: another process's write is seen
// up to maxAge late. A process's own writes update its cache, as they do on a
// real client.
type staleFS struct {
	inner  FS
	maxAge time.Duration

	mu    sync.Mutex
	cache map[string]staleEntry
}

type staleEntry struct {
	data []byte
	err  error
	at   time.Time
}

func (f *staleFS) ReadFile(name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.cache[name]; ok && time.Since(e.at) < f.maxAge {
		return e.data, e.err
	}
	data, err := f.inner.ReadFile(name)
	f.cache[name] = staleEntry{data: data, err: err, at: time.Now()}
	return data, err
}

func (f *staleFS) CreateFile(name string, data []byte) error {
	err := f.inner.CreateFile(name, data)
	if err == nil {
		f.mu.Lock()
		f.cache[name] = staleEntry{data: append([]byte(nil), data...), at: time.Now()}
		f.mu.Unlock()
	}
	return err
}

func (f *staleFS) WriteFile(name, tag string, data []byte) error {
	err := f.inner.WriteFile(name, tag, data)
	if err == nil {
		f.mu.Lock()
		f.cache[name] = staleEntry{data: append([]byte(nil), data...), at: time.Now()}
		f.mu.Unlock()
	}
	return err
}

func TestShare_StaleCacheOfOneSecond(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const ttl = 6 * time.Second // C = ttl/6 = 1 s: the cache allowance matches the wrapper
	newFS := func() FS { return &staleFS{inner: OSFS{}, maxAge: time.Second, cache: map[string]staleEntry{}} }
	var mu sync.Mutex
	var leases []*Lease
	stop := overlapWatch(t, func() []*Lease { mu.Lock(); defer mu.Unlock(); return append([]*Lease(nil), leases...) })
	add := func(name string) *Lease {
		s := newShare(t, name, "db-"+name, ttl, newFS())
		l := join(t, s, dir)
		mu.Lock()
		leases = append(leases, l)
		mu.Unlock()
		return l
	}
	la, lb := add("a"), add("b")
	holder := func() *Lease {
		mu.Lock()
		defer mu.Unlock()
		var h *Lease
		for _, l := range leases {
			if holding(l) {
				h = l
			}
		}
		return h
	}
	testutil.WaitUntil(t, 3*ttl, "one holds", func() bool { return holder() != nil })
	// A live holder keeps the lease although the standby sees its beats late.
	first := holder()
	time.Sleep(ttl + time.Second)
	if holder() != first {
		t.Fatal("the lease changed hands while its holder was alive")
	}
	// A crash: the standby takes over; then a new contender joins and the new
	// holder is released cleanly.
	first.abandon()
	other := la
	if first == la {
		other = lb
	}
	testutil.WaitUntil(t, 2*ttl, "the standby takes over despite the stale cache", func() bool { return holding(other) })
	lc := add("c")
	testutil.WaitUntil(t, 2*ttl, "c sees the holder", func() bool { return lc.Status().Role == RoleStandby && lc.Status().Holder.Node != "" })
	if err := other.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.WaitUntil(t, 2*ttl, "c takes over the released lease", func() bool { return holding(lc) })
	stop()
}

func TestShare_UnusableRecordPausesTheFolder(t *testing.T) {
	t.Parallel()
	const ttl = time.Second
	t.Run("fifo", func(t *testing.T) {
		dir := t.TempDir()
		if err := syscall.Mkfifo(filepath.Join(dir, RecordName(task.Task)), 0o644); err != nil {
			t.Skip("no FIFOs here:", err)
		}
		s := newShare(t, "a", "db", ttl, nil)
		l := join(t, s, dir)
		testutil.WaitUntil(t, 3*ttl, "paused with a reason naming the record", func() bool {
			st := l.Status()
			return st.Role == RolePaused && filepath.Base(st.Reason) != "" && strings.Contains(st.Reason, RecordName(task.Task))
		})
		if l.Check() == nil {
			t.Error("a paused lease allows writes")
		}
	})
	t.Run("unreadable directory", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root reads any directory")
		}
		dir := t.TempDir()
		sub := filepath.Join(dir, "f")
		if err := os.Mkdir(sub, 0o000); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(sub, 0o755) })
		s := newShare(t, "a", "db", ttl, nil)
		l := join(t, s, sub)
		testutil.WaitUntil(t, 3*ttl, "paused", func() bool { return l.Status().Role == RolePaused })
	})
	t.Run("failing writes", func(t *testing.T) {
		dir := t.TempDir()
		s := newShare(t, "a", "db", ttl, failFS{})
		l := join(t, s, dir)
		testutil.WaitUntil(t, 3*ttl, "paused", func() bool { return l.Status().Role == RolePaused })
		if r := l.Status().Reason; !strings.Contains(r, "cannot write the lease record") || !strings.Contains(r, "disk full") {
			t.Errorf("reason = %q", r)
		}
	})
	t.Run("damaged record is claimed after silence", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, RecordName(task.Task)), []byte("garbage"), 0o644); err != nil {
			t.Fatal(err)
		}
		s := newShare(t, "a", "db", ttl, nil)
		l := join(t, s, dir)
		testutil.WaitUntil(t, 4*ttl, "holds after the damaged record stayed unchanged", func() bool { return holding(l) })
	})
}

type failFS struct{}

func (failFS) ReadFile(name string) ([]byte, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}
func (failFS) CreateFile(name string, data []byte) error {
	return &fs.PathError{Op: "open", Path: name, Err: errors.New("disk full")}
}
func (failFS) WriteFile(name, tag string, data []byte) error {
	return &fs.PathError{Op: "write", Path: name, Err: errors.New("disk full")}
}

func TestShare_EmptyFolderGetsNoRecord(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newShare(t, "a", "db", time.Second, nil)
	l, err := s.Join(task, dir)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitUntil(t, 3*time.Second, "standby in an empty folder", func() bool { return l.Status().Role == RoleStandby })
	time.Sleep(time.Second)
	if _, err := os.Stat(filepath.Join(dir, RecordName(task.Task))); !os.IsNotExist(err) {
		t.Fatalf("a lease record was made in an empty folder (an unmounted share's mount point?): %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "first.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.WaitUntil(t, 3*time.Second, "holds once the folder has a file", func() bool { return holding(l) })
}

func TestClock_SinceTakesTheLargestReading(t *testing.T) {
	t.Parallel()
	base := time.Now()
	now := base
	boot := 10 * time.Second
	c := &clock{now: func() time.Time { return now }, boot: func() time.Duration { return boot }}
	s := c.stamp()
	now = base.Add(time.Second)
	boot += 30 * time.Second // the machine slept: the monotonic clock did not see it
	if got := c.since(s); got != 30*time.Second {
		t.Errorf("since = %s, want 30s (the boot clock's reading)", got)
	}
}

// readOnlyFS is a folder the process may read but not write, as the systemd
// sandbox (ProtectSystem=strict) makes every folder not in ReadWritePaths=.
type readOnlyFS struct{ OSFS }

func (readOnlyFS) WriteFile(name, _ string, _ []byte) error {
	return &fs.PathError{Op: "open", Path: name, Err: syscall.EROFS}
}

func (readOnlyFS) CreateFile(name string, _ []byte) error {
	return &fs.PathError{Op: "open", Path: name, Err: syscall.EROFS}
}

func TestShare_ReadOnlyFolderIsPausedWithTheRemedy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newShare(t, "a", "db-a", 6*time.Second, readOnlyFS{})
	l := join(t, s, dir)
	testutil.WaitUntil(t, 20*time.Second, "a paused lease", func() bool { return l.Status().Role == RolePaused })
	if err := l.Check(); err == nil {
		t.Fatal("a lease that cannot be written allows writes")
	}
	if r := l.Status().Reason; !strings.Contains(r, "read-only file system") || !strings.Contains(r, "ReadWritePaths=") {
		t.Errorf("the reason does not name the error and the remedy: %q", r)
	}
}

// A folder that was empty when its lease was last looked at claims the lease at
// the first turn after a file arrives, not at the contender's next interval (a
// minute here), so the first file goes up at once.
func TestGate_FirstFileInEmptyFolderClaimsAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s := newShare(t, "a", "db", 8*time.Minute, nil)
	g := NewGate(s, store, nil, nil)
	f := config.Folder{Path: dir, TaskID: task.Task, OrganizationID: task.Organization, WorkspaceID: task.Workspace}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if turn := g.Turn(ctx, f); turn.Write {
		t.Fatal("an empty folder's turn may write: a lease record would be made in an empty mount point")
	}
	if err := os.WriteFile(filepath.Join(dir, "first.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if turn := g.Turn(ctx, f); !turn.Write {
		t.Fatalf("the first turn after a file arrived may not write; lease %s", g.LeaseStatus(f).Text)
	}
}
