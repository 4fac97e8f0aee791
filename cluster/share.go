package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/focussync/focussync/internal/fsinfo"
)

// RecordName returns the base name of the lease record of task in a folder. It
// starts with a dot: the scanner never syncs dotfiles, whatever the include
// patterns say, so the record is never uploaded.
func RecordName(task int64) string {
	return ".focussync-lease-" + strconv.FormatInt(task, 10)
}

// ShareOptions configure NewShare.
type ShareOptions struct {
	// Node is the name other hosts see for this one (node_name); "" is the host name.
	Node string
	// Instance is this process's id as other contenders see it; "" picks a fresh
	// random one (NewInstanceID). Every process must have its own.
	Instance string
	// Writer identifies this process's state db (state.Store.ID): a process that
	// takes a lease whose last holder had another writer id adopts before writing.
	Writer string
	// TTL is lease_ttl: a holder silent this long loses its tasks to a standby.
	TTL time.Duration
	// Log receives lease events; nil discards them.
	Log *slog.Logger
	// FS is where the record is read and written; nil is the real file system.
	FS FS
	// CacheDelay is how late a write by another host may be seen (C below). 0
	// means TTL/6 for a folder on a network or FUSE file system and none for a
	// folder on a local one (where every process sees a rename at once).
	CacheDelay time.Duration
}

// Share is the coordinator that needs no server: each task's lease is a record in
// the folder itself, on the share that every contender sees.
//
// It is built for SMB and NFS, so it trusts neither network file locks nor the
// hosts' clocks:
//
//   - Liveness: the holder rewrites the record every TTL/8 (a new beat). A standby
//     reads it every TTL/8 and judges the holder alive as long as the bytes keep
//     changing, timed on its own monotonic clock. Timestamps inside the record are
//     shown to people, never compared.
//   - Claims: a missing record is created exclusively (O_EXCL, which the file
//     server decides: one creator wins) and read back. A standby claims a lease
//     that is released, or unchanged for TTL - W, by writing its own record
//     (temporary file, then rename: readers see the old record or the new one,
//     never half of one). It then waits W and reads the record back: only if it
//     still holds its claim is it the holder. Of contenders that claim together,
//     the last rename wins and the others see it when they read back. A claim whose
//     own write took longer than TTL/8 is abandoned (a rival's slower write could
//     land after the read-back), and the lease is contended again later. A record
//     left by a process that used this process's own state db is claimed without
//     waiting for silence: the state db's lock shows that process has ended.
//   - Renewals: the holder reads the record before each renewal and steps down at
//     once if another process's claim is there; after writing it reads the record
//     back.
//   - Caches: network file systems may show another host's write late. We assume
//     that a write is visible everywhere within C = TTL/6 (5 s with the default
//     lease_ttl of 30 s): each read opens the record anew, and NFS's close-to-open
//     consistency revalidates the file at every open (its attribute caches,
//     acregmin 3 s to acregmax 60 s, apply to stat, which is not used here); the
//     Linux SMB client caches attributes for 1 s (actimeo=1) and the Windows SMB
//     client file information for up to 10 s (FileInfoCacheLifetime). Hence W =
//     2C + TTL/8, so that a claim is read back after any rival's write has become
//     visible. A share mounted with longer caches (NFS with nocto, or actimeo
//     above 5 s) needs lease_ttl of at least six times that cache time. On a local
//     file system C is 0.
//   - Fencing: the holder may send writes until TTL - TTL/4 after the start of its
//     last successful renewal; a standby can confirm a takeover no sooner than TTL
//     after it saw that renewal. The quarter of the TTL between the two is the time
//     left for requests already in flight.
//   - A record that cannot be read (other than missing) or written pauses the
//     lease with a reason naming the file: nothing is written blindly.
//   - Release (a clean stop) rewrites the record as released: a standby claims it
//     at its next read, without waiting for the TTL.
type Share struct {
	opt      ShareOptions
	instance string
	log      *slog.Logger
	clock    *clock

	mu     sync.Mutex
	leases map[string]*shareLease // by record path
	closed bool
}

var _ Coordinator = (*Share)(nil)

// MinTTL is the shortest lease_ttl the share coordinator accepts.
const MinTTL = time.Second

// NewShare returns the share coordinator.
func NewShare(opt ShareOptions) (*Share, error) {
	if opt.TTL < MinTTL {
		return nil, fmt.Errorf("share coordinator: lease ttl %s is shorter than %s", opt.TTL, MinTTL)
	}
	if opt.Node == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("share coordinator: node name: %w", err)
		}
		opt.Node = h
	}
	if opt.FS == nil {
		opt.FS = OSFS{}
	}
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opt.Instance == "" {
		opt.Instance = NewInstanceID()
	}
	return &Share{opt: opt, instance: opt.Instance, log: log, clock: realClock(), leases: map[string]*shareLease{}}, nil
}

// Instance returns this process's random id, as other contenders see it.
func (s *Share) Instance() string { return s.instance }

// Node returns the node name of this process.
func (s *Share) Node() string { return s.opt.Node }

// Join implements Coordinator.
func (s *Share) Join(t Task, dir string) (*Lease, error) {
	if t.Task <= 0 {
		return nil, fmt.Errorf("share coordinator: invalid task %s", t)
	}
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("share coordinator: folder %q is not an absolute path", dir)
	}
	path := filepath.Join(dir, RecordName(t.Task))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("share coordinator: closed")
	}
	if _, ok := s.leases[path]; ok {
		return nil, fmt.Errorf("share coordinator: task %s is already joined for %s", t, dir)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sl := &shareLease{s: s, path: path, dir: dir, cancel: cancel, done: make(chan struct{}), looks: make(chan chan struct{}), cache: s.cacheDelay(dir),
		log: s.log.With("folder", dir, "task", t.Task)}
	sl.lease = newLease(t, s.clock)
	sl.lease.release = sl.release
	sl.lease.decideWithin = sl.settle() + s.renewEvery() + time.Second
	sl.lease.look = sl.lookNow
	sl.lease.abandon = func() {
		sl.crashed = true
		_ = sl.lease.Release(context.Background())
	}
	s.leases[path] = sl
	go func() {
		defer close(sl.done)
		sl.run(ctx)
	}()
	return sl.lease, nil
}

// Close implements Coordinator.
func (s *Share) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	var all []*shareLease
	for _, sl := range s.leases {
		all = append(all, sl)
	}
	s.mu.Unlock()
	var first error
	for _, sl := range all {
		if err := sl.lease.Release(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// The intervals, as fractions of the TTL (see Share).
func (s *Share) renewEvery() time.Duration { return s.opt.TTL / 8 }
func (s *Share) fenceFor() time.Duration   { return s.opt.TTL - s.opt.TTL/4 }

// cacheDelay is C for the folder at dir.
func (s *Share) cacheDelay(dir string) time.Duration {
	if s.opt.CacheDelay > 0 {
		return s.opt.CacheDelay
	}
	if network, _ := fsinfo.OnNetworkFS(dir); network {
		return s.opt.TTL / 6
	}
	return 0
}

func (sl *shareLease) settle() time.Duration  { return 2*sl.cache + sl.s.renewEvery() }
func (sl *shareLease) silence() time.Duration { return sl.s.opt.TTL - sl.settle() }

// shareLease is the contender of one task's lease; its run loop alone touches the
// fields below lease.
type shareLease struct {
	s      *Share
	lease  *Lease
	path   string
	dir    string
	cache  time.Duration // C for this folder
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	looks  chan chan struct{} // Lease.Recheck's requests to look now

	mine       *record   // the record this process holds; nil when not holding
	last       []byte    // the record's content as last read
	lastChange time.Time // local monotonic time the content last changed
	failing    string    // the last read or write error, for the log
	crashed    bool      // tests: stop without releasing
}

// me is this process's record for a claim of the lease held as prev.
func (sl *shareLease) me(prev *record) *record {
	r := &record{Version: recordVersion, Task: sl.lease.task.String(), Instance: sl.s.instance, Node: sl.s.opt.Node,
		Folder: sl.dir, Since: time.Now().UTC().Round(time.Millisecond), Epoch: 1, Writer: sl.s.opt.Writer, TTL: sl.s.opt.TTL.String()}
	if prev != nil {
		r.Epoch = prev.Epoch + 1
		r.Takeovers = prev.Takeovers
		if !prev.released() && prev.Instance != sl.s.instance {
			r.Takeovers++
		}
	}
	return r
}

func (sl *shareLease) run(ctx context.Context) {
	wait := time.Duration(0)
	for {
		t := time.NewTimer(wait)
		var looked chan struct{}
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case looked = <-sl.looks:
			t.Stop()
		}
		if sl.mine != nil {
			wait = sl.renew()
		} else {
			wait = sl.observe(ctx)
		}
		if looked != nil {
			close(looked)
		}
	}
}

// lookNow asks the run loop to look at the lease at once (Lease.Recheck); the
// channel is closed once it has. A loop busy with a look takes the request when
// that look ends.
func (sl *shareLease) lookNow() <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		select {
		case sl.looks <- ch:
		case <-sl.done:
			close(ch)
		}
	}()
	return ch
}

// fail pauses the lease, or, while a holder's fence still runs, only notes the
// error: a renewal that fails once is retried before the fence lapses.
func (sl *shareLease) fail(what string, err error) time.Duration {
	reason := fmt.Sprintf("cannot %s the lease record %s: %v", what, sl.path, err)
	if what == "write" && (errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)) {
		reason += " (focussync keeps its lease in the folder and needs write access there; " +
			"under systemd list the folder in ReadWritePaths=, see the README)"
	}
	if sl.mine != nil && sl.lease.Check() == nil {
		if sl.failing != reason {
			sl.log.Warn("lease renewal failed; retrying before the lease could lapse", "err", reason)
		}
		sl.failing = reason
		return sl.s.renewEvery() / 2
	}
	if sl.failing != reason {
		sl.log.Warn("folder paused: its lease cannot be used", "reason", reason)
	}
	sl.failing = reason
	sl.mine = nil
	sl.lease.setPaused(reason)
	return sl.s.renewEvery()
}

func (sl *shareLease) recovered() {
	if sl.failing != "" {
		sl.log.Info("lease record readable again")
		sl.failing = ""
	}
}

// renew rewrites the holder's record with a new beat, unless another process has
// claimed it meanwhile.
func (sl *shareLease) renew() time.Duration {
	at := sl.s.clock.stamp()
	data, err := sl.s.opt.FS.ReadFile(sl.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return sl.fail("read", err)
	}
	var cur *record
	if err == nil {
		cur, _ = parseRecord(data)
	}
	if cur == nil || cur.Instance != sl.mine.Instance || cur.Epoch != sl.mine.Epoch {
		// Claimed by another process, damaged or removed: step down at once.
		sl.mine = nil
		sl.last, sl.lastChange = data, time.Now()
		h := cur.holder()
		sl.log.Warn("lease lost: another process holds the task now", "holder", h.Node, "instance", h.Instance)
		sl.lease.setStandby(h, takeoversOf(cur), "")
		return sl.s.renewEvery()
	}
	next := *sl.mine
	next.Beat++
	if err := sl.s.opt.FS.WriteFile(sl.path, sl.s.instance, next.encode()); err != nil {
		return sl.fail("write", err)
	}
	back, err := sl.s.opt.FS.ReadFile(sl.path)
	if err != nil {
		return sl.fail("read", err)
	}
	if cur, _ := parseRecord(back); cur == nil || cur.Instance != next.Instance || cur.Epoch != next.Epoch {
		// Another claim landed between our read and our write, or just after it.
		sl.mine = nil
		sl.last, sl.lastChange = back, time.Now()
		sl.lease.setStandby(cur.holder(), takeoversOf(cur), "")
		sl.log.Warn("lease lost to a concurrent claim", "holder", cur.holder().Node)
		return sl.s.renewEvery()
	}
	sl.mine = &next
	sl.recovered()
	sl.lease.renewed(at)
	return sl.s.renewEvery()
}

// hasEntries reports whether dir holds anything besides focussync's own files;
// it reports true when it cannot tell, leaving the decision to the record's I/O.
func hasEntries(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return true
	}
	defer f.Close()
	for {
		names, err := f.Readdirnames(16)
		for _, n := range names {
			if !strings.HasPrefix(n, ".focussync-") {
				return true
			}
		}
		if err != nil {
			return false
		}
	}
}

func takeoversOf(r *record) int {
	if r == nil {
		return 0
	}
	return r.Takeovers
}

// observe reads the record as a standby and claims the lease when it is free or
// its holder has gone silent.
func (sl *shareLease) observe(ctx context.Context) time.Duration {
	at := sl.s.clock.stamp()
	data, err := sl.s.opt.FS.ReadFile(sl.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A missing record says nothing about whether one can be written: the
		// failure, if any, stays until a write succeeds.
		if !hasEntries(sl.dir) {
			// An empty folder may be the mount point of a share that is not
			// mounted: no record is made there. There is nothing to write either.
			sl.lease.setStandby(Holder{}, 0, "the folder is empty (is the share mounted?): the lease is claimed once it holds a file")
			return sl.s.renewEvery()
		}
		return sl.create()
	case err != nil:
		return sl.fail("read", err)
	}
	sl.recovered()
	cur, perr := parseRecord(data)
	now := time.Now()
	if sl.last == nil || !bytes.Equal(data, sl.last) {
		sl.last, sl.lastChange = data, now
		if perr == nil && cur.released() {
			return sl.claim(ctx, at, cur)
		}
		reason := ""
		if perr != nil {
			reason = fmt.Sprintf("the lease record %s is damaged (%v); it is claimed if it stays unchanged for %s", sl.path, perr, sl.silence())
		}
		if perr == nil && cur.Instance == sl.s.instance {
			// Our own abandoned claim: wait for silence like everyone else.
			sl.lease.setStandby(Holder{}, cur.Takeovers, "")
		} else {
			sl.lease.setStandby(cur.holder(), takeoversOf(cur), reason)
			if perr == nil && cur.Folder != "" && cur.Folder != sl.dir && cur.Node == sl.s.opt.Node {
				sl.log.Info("task's lease held by another process on this host for another path of the folder", "holder_folder", cur.Folder)
			}
		}
		return min(sl.s.renewEvery(), sl.silence())
	}
	if perr == nil && cur.released() {
		return sl.claim(ctx, at, cur)
	}
	if perr == nil && sl.s.opt.Writer != "" && cur.Writer == sl.s.opt.Writer && cur.Instance != sl.s.instance {
		// Left by a process on our own state db, which we hold locked: it ended.
		sl.log.Info("lease left by an earlier process on this state db; taking it over", "instance", cur.Instance)
		return sl.claim(ctx, at, cur)
	}
	quiet := now.Sub(sl.lastChange)
	if quiet >= sl.silence() {
		h := cur.holder()
		sl.log.Info("lease holder silent; taking over", "holder", h.Node, "instance", h.Instance, "silent_for", quiet.Round(time.Millisecond))
		if perr != nil {
			cur = nil
		}
		return sl.claim(ctx, at, cur)
	}
	return min(sl.s.renewEvery(), sl.silence()-quiet)
}

// create claims a missing record by creating it exclusively, and reads it back.
func (sl *shareLease) create() time.Duration {
	at := sl.s.clock.stamp()
	mine := sl.me(nil)
	data := mine.encode()
	err := sl.s.opt.FS.CreateFile(sl.path, data)
	if errors.Is(err, fs.ErrExist) {
		return 0 // another process created it first: read it now
	}
	if err != nil {
		return sl.fail("write", err)
	}
	sl.last, sl.lastChange = data, time.Now()
	if ok, wait := sl.readBack(mine); !ok {
		return wait
	}
	sl.mine = mine
	sl.log.Info("holding the task's lease", "node", mine.Node)
	sl.lease.setHolding(mine.holder(), at, sl.s.fenceFor(), mine.Takeovers, true)
	return 0
}

// readBack reads the record after this process wrote mine and reports whether
// mine is the one that stands. When it is not (a rival's claim landed, or the
// record is gone), the lease is left to whoever's record is there, and wait says
// when to look again.
func (sl *shareLease) readBack(mine *record) (ok bool, wait time.Duration) {
	back, err := sl.s.opt.FS.ReadFile(sl.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, sl.fail("read", err)
	}
	cur, _ := parseRecord(back)
	if err != nil || cur == nil || cur.Instance != mine.Instance || cur.Epoch != mine.Epoch {
		sl.last, sl.lastChange = back, time.Now()
		sl.lease.setStandby(cur.holder(), takeoversOf(cur), "")
		return false, sl.s.renewEvery()
	}
	return true, 0
}

// claim writes this process's record over prev (nil when there was none, or it
// was damaged), waits for rival claims to become visible, and reads it back.
func (sl *shareLease) claim(ctx context.Context, at stamp, prev *record) time.Duration {
	mine := sl.me(prev)
	data := mine.encode()
	if err := sl.s.opt.FS.WriteFile(sl.path, sl.s.instance, data); err != nil {
		return sl.fail("write", err)
	}
	sl.last, sl.lastChange = data, time.Now()
	if took := sl.s.clock.since(at); took > sl.s.renewEvery() {
		// A rival that read the lease free when we did may land its claim after
		// our read-back: do not trust this one; contend again after the silence.
		sl.log.Warn("lease claim abandoned: writing the record took too long", "took", took.Round(time.Millisecond))
		sl.lease.setStandby(Holder{}, mine.Takeovers, "")
		return sl.silence()
	}
	sl.lease.setClaiming(mine.Takeovers)
	t := time.NewTimer(sl.settle())
	select {
	case <-ctx.Done():
		t.Stop()
		return 0
	case <-t.C:
	}
	if ok, wait := sl.readBack(mine); !ok {
		return wait
	}
	sl.mine = mine
	adopt := prev == nil || prev.Writer == "" || prev.Writer != sl.s.opt.Writer
	if prev != nil && !prev.released() && prev.Instance != sl.s.instance {
		sl.log.Warn("took over the task's lease from a silent holder", "previous", prev.Node, "takeovers", mine.Takeovers)
	} else {
		sl.log.Info("holding the task's lease", "node", mine.Node)
	}
	sl.lease.setHolding(mine.holder(), at, sl.s.fenceFor(), mine.Takeovers, adopt)
	return 0 // renew at once: the fence then runs from now
}

// release stops the run loop and, when this process holds the lease, writes the
// record as released so that a standby takes over at once.
func (sl *shareLease) release(ctx context.Context) error {
	sl.cancel()
	select {
	case <-sl.done:
	case <-ctx.Done():
		return fmt.Errorf("release lease %s: %w", sl.path, ctx.Err())
	}
	sl.s.mu.Lock()
	delete(sl.s.leases, sl.path)
	sl.s.mu.Unlock()
	mine := sl.mine
	sl.mine = nil
	sl.lease.setStandby(Holder{}, sl.lease.Status().Takeovers, "released")
	if mine == nil || sl.crashed {
		return nil
	}
	data, err := sl.s.opt.FS.ReadFile(sl.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // gone (an unmounted share): nothing to release
	}
	if err != nil {
		return fmt.Errorf("release lease: %w", err)
	}
	if cur, _ := parseRecord(data); cur == nil || cur.Instance != mine.Instance || cur.Epoch != mine.Epoch {
		return nil // someone else holds it now: nothing of ours to release
	}
	rel := &record{Version: recordVersion, Task: mine.Task, Epoch: mine.Epoch, Beat: mine.Beat + 1, Takeovers: mine.Takeovers, Writer: mine.Writer}
	if err := sl.s.opt.FS.WriteFile(sl.path, sl.s.instance, rel.encode()); err != nil {
		return fmt.Errorf("release lease: %w", err)
	}
	sl.log.Info("lease released")
	return nil
}
