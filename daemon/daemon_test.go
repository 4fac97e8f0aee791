package daemon

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
	"github.com/focussync/focussync/internal/clock"
	"github.com/focussync/focussync/internal/testutil"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/syncer"
)

// wait bounds every wait for a real event (a pass over real files, an fsnotify
// event); the fake clock makes everything else instant.
const wait = 20 * time.Second

// env is a daemon on a fake clock over a real state db, real folders and the
// emulator. The fake time runs an hour ahead of the real one, so that files
// written by the test (whose ctime the system sets) are settled unless a folder's
// settle time is longer than that.
type env struct {
	t      *testing.T
	srv    *focustest.Server
	client *focus.Client
	engine *syncer.Engine
	clock  *clock.Fake
	d      *Daemon
	cancel context.CancelFunc
	// noQuiesce makes start return at once (workers that block on a pause are
	// never idle).
	noQuiesce bool
	logs      *logBuffer // what the daemon and its engine logged (text)
}

func newEnv(t *testing.T, opts focustest.Options) *env {
	t.Helper()
	opts.Token = "tok"
	srv := focustest.NewServer(opts)
	t.Cleanup(srv.Close)
	c, err := focus.New(focus.Options{BaseURL: srv.URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := clock.NewFake(time.Now().Add(time.Hour).Truncate(time.Second))
	eng := syncer.NewEngine(c, st, nil)
	eng.Now = clk.Now
	eng.RetryInitial = time.Millisecond
	eng.MaxRetries = 0
	logs := &logBuffer{}
	var out io.Writer = logs
	if testing.Verbose() {
		out = io.MultiWriter(logs, t.Output())
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eng.Log = log
	d := New(eng, Options{Clock: clk, Log: log, Debounce: time.Second, ScarceDebounce: 30 * time.Second})
	return &env{t: t, srv: srv, client: c, engine: eng, clock: clk, d: d, logs: logs}
}

// logBuffer holds the daemon's log for the test to read.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// folder returns a new empty folder mapped to task, with test settings.
func (e *env) folder(task int64) config.Folder {
	return config.Folder{
		Path: e.t.TempDir(), OrganizationID: 1, WorkspaceID: 2, TaskID: task,
		Settle: time.Millisecond, Order: "name", DeleteRemote: true, MaxDelete: config.Limit{Percent: 50},
		Watch: "events", Rescan: 24 * time.Hour,
	}
}

// start runs the daemon over folders, waits for the first pass of each, and lets
// the watchers' first signal (sent once their watches are set) pass over.
func (e *env) start(folders ...config.Folder) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.t.Cleanup(func() { cancel(); e.d.Wait() })
	e.d.Start(ctx, folders)
	if e.noQuiesce {
		return
	}
	e.quiesce()
	select {
	case <-e.d.Ready():
	default:
		e.t.Fatal("the first passes did not run")
	}
}

// quiesce waits until every worker has had its watcher's first signal and is
// idle, advancing the clock over the debounce that signal starts.
func (e *env) quiesce() {
	e.t.Helper()
	testutil.WaitUntil(e.t, wait, "idle workers", func() bool {
		e.d.mu.Lock()
		defer e.d.mu.Unlock()
		for _, w := range e.d.workers {
			if w.dirtySeen.Load() == 0 || !w.idle() {
				return false
			}
		}
		now := e.clock.Now()
		for _, w := range e.d.workers {
			if d := w.debounceWait(now, now); e.clock.Armed(d) {
				e.clock.Advance(d)
				return false
			}
		}
		return true
	})
}

// status returns the status of the folder at path.
func (e *env) status(path string) FolderStatus {
	for _, f := range e.d.Status().Folders {
		if f.Path == path {
			return f
		}
	}
	e.t.Fatalf("no status for %s", path)
	return FolderStatus{}
}

// passes returns how many passes the folder at path has run.
func (e *env) passes(path string) int { return e.status(path).Passes }

// waitPasses waits until the folder at path has run n passes.
func (e *env) waitPasses(path string, n int) {
	e.t.Helper()
	testutil.WaitUntil(e.t, wait, "pass "+strconv.Itoa(n), func() bool { return e.passes(path) >= n })
}

// waitArmed waits until a timer is armed to fire after d.
func (e *env) waitArmed(d time.Duration) {
	e.t.Helper()
	testutil.WaitUntil(e.t, wait, "a timer at +"+d.String(), func() bool {
		return e.clock.Armed(d)
	})
}

// names returns the names of the task's attachments.
func (e *env) names(task int64) map[string]bool {
	out := map[string]bool{}
	for _, a := range e.srv.Attachments(task) {
		out[a.Name] = true
	}
	return out
}

// requests counts the requests to endpoint ep.
func (e *env) requests(ep focus.Endpoint) int {
	n := 0
	for _, r := range e.srv.Requests() {
		if r.Endpoint == ep {
			n++
		}
	}
	return n
}

// arrive brings a file into dir by one rename, so the watcher sees one event: a
// file written in place gives two (create, then write), and the second may be
// handled after the test has moved the clock, starting the debounce over.
func arrive(t *testing.T, dir, name, content string) {
	t.Helper()
	tmp := t.TempDir()
	testutil.WriteFile(t, tmp, name, content)
	if err := os.Rename(filepath.Join(tmp, name), filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func TestWorker_DebounceWaitsForTheBurstToEnd(t *testing.T) {
	e := newEnv(t, focustest.Options{})
	f := e.folder(1)
	e.start(f)
	p0 := e.passes(f.Path)

	arrive(t, f.Path, "a.txt", "a")
	e.waitArmed(time.Second) // the watcher saw it; the debounce runs
	e.clock.Advance(500 * time.Millisecond)
	arrive(t, f.Path, "b.txt", "b") // the burst goes on: the wait starts over
	e.waitArmed(time.Second)
	e.clock.Advance(999 * time.Millisecond)
	if got := e.passes(f.Path); got != p0 {
		t.Fatalf("passes before the debounce ended = %d, want 1", got)
	}
	e.clock.Advance(time.Millisecond)
	e.waitPasses(f.Path, p0+1)
	if got := e.names(1); !got["a.txt"] || !got["b.txt"] {
		t.Fatalf("attachments after the debounced pass = %v, want a.txt and b.txt", got)
	}
	if got := e.requests(focus.EndpointBulk); got != 1 {
		t.Errorf("bulk creates = %d, want 1 (the burst goes up together)", got)
	}
}

func TestDebounceWait(t *testing.T) {
	e := newEnv(t, focustest.Options{})
	w := newWorker(e.d, e.folder(1))
	t0 := e.clock.Now()
	for _, tc := range []struct {
		name       string
		since, now time.Time
		want       time.Duration
	}{
		{"first change", t0, t0, time.Second},
		{"burst under way", t0, t0.Add(30 * time.Second), time.Second},
		{"a pass is due within the cap", t0, t0.Add(maxDebounce - 300*time.Millisecond), 300 * time.Millisecond},
		{"past the cap", t0, t0.Add(2 * maxDebounce), 0},
	} {
		if got := w.debounceWait(tc.since, tc.now); got != tc.want {
			t.Errorf("%s: debounceWait = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestDebounceWait_SettleLongerThanDebounce(t *testing.T) {
	e := newEnv(t, focustest.Options{})
	f := e.folder(1)
	f.Settle = 3 * time.Second
	w := newWorker(e.d, f)
	now := e.clock.Now()
	if got := w.debounceWait(now, now); got != f.Settle {
		t.Errorf("debounceWait with settle %s = %s, want the settle time", f.Settle, got)
	}
}

func TestWorker_UploadsTheMomentTheFileSettles(t *testing.T) {
	e := newEnv(t, focustest.Options{})
	f := e.folder(1)
	f.Settle = 5 * time.Second
	e.start(f)
	p0 := e.passes(f.Path)
	// The fake clock stands still while the file is written: its real mtime
	// lies behind the fake now, so give it the fake now.
	arrive(t, f.Path, "ready.txt", "ready")
	if err := os.Chtimes(filepath.Join(f.Path, "ready.txt"), e.clock.Now(), e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.waitArmed(f.Settle) // the pass waits for the settle time, not a fixed debounce
	e.clock.Advance(f.Settle - time.Millisecond)
	if got := e.passes(f.Path); got != p0 {
		t.Fatalf("passes before the file settled = %d, want %d", got, p0)
	}
	e.clock.Advance(time.Millisecond)
	e.waitPasses(f.Path, p0+1)
	if !e.names(1)["ready.txt"] {
		t.Fatalf("ready.txt not uploaded by the pass at its settle time; attachments %v", e.names(1))
	}
	if got := e.passes(f.Path); got != p0+1 {
		t.Errorf("passes = %d, want one more (no second pass a settle later)", got-p0)
	}
}

func TestDebounceWait_ScarceQuotaWaitsLonger(t *testing.T) {
	e := newEnv(t, focustest.Options{Quota: 4})
	f := e.folder(1)
	e.start(f) // the first pass lists the task: 3 requests left
	w := newWorker(e.d, f)
	now := e.clock.Now()
	if got := w.debounceWait(now, now); got != 30*time.Second {
		t.Errorf("debounceWait with 3 requests left = %s, want the scarce 30s", got)
	}
}

func TestWorker_SettleTimeThenUpload(t *testing.T) {
	e := newEnv(t, focustest.Options{})
	f := e.folder(1)
	f.Settle = 2 * time.Hour // files written now settle an hour after the fake now
	f.Watch = "poll"
	arrive(t, f.Path, "fresh.txt", "fresh")
	e.start(f)
	p0 := e.passes(f.Path)
	st := e.status(f.Path)
	if len(st.Skipped) != 1 || !st.Skipped[0].Settling() {
		t.Fatalf("skipped after the first pass = %+v, want fresh.txt settling", st.Skipped)
	}
	e.waitArmed(f.Settle) // the worker looks again after the settle time
	e.clock.Advance(f.Settle - time.Second)
	if got := e.passes(f.Path); got != p0 {
		t.Fatalf("passes before the settle time = %d, want 1", got)
	}
	e.clock.Advance(time.Second)
	e.waitPasses(f.Path, p0+1)
	if !e.names(1)["fresh.txt"] {
		t.Fatal("fresh.txt not uploaded once settled")
	}
}

func TestWorker_RescanInterval(t *testing.T) {
	e := newEnv(t, focustest.Options{})
	f := e.folder(1)
	f.Watch = "poll" // no events: only the rescan finds the file
	f.Rescan = 10 * time.Minute
	f.Verify = 0
	e.start(f)
	p0 := e.passes(f.Path)
	arrive(t, f.Path, "late.txt", "late")
	// The rescan interval runs from the worker's start, and the start-up may have
	// moved the clock over a debounce: go to a second before the rescan is due.
	untilRescan := f.Rescan
	for _, at := range e.clock.Deadlines() {
		if d := at.Sub(e.clock.Now()); d > 0 && d <= f.Rescan {
			untilRescan = d
		}
	}
	e.clock.Advance(untilRescan - time.Second)
	if got := e.passes(f.Path); got != p0 {
		t.Fatalf("passes before the rescan = %d, want 1", got)
	}
	e.clock.Advance(time.Second)
	e.waitPasses(f.Path, p0+1)
	if !e.names(1)["late.txt"] {
		t.Fatal("late.txt not uploaded by the rescan")
	}
	// The interval starts over: the next rescan comes 10 minutes later.
	e.waitArmed(f.Rescan)
	e.clock.Advance(f.Rescan)
	e.waitPasses(f.Path, p0+2)
}

func TestWorker_VerifyInterval(t *testing.T) {
	e := newEnv(t, focustest.Options{})
	f := e.folder(1)
	f.Watch = "poll"
	f.Rescan = 24 * time.Hour
	f.Verify = time.Hour // shorter than the rescan: a pass comes for it
	arrive(t, f.Path, "a.txt", "a")
	e.start(f)
	p0 := e.passes(f.Path)
	lists := e.requests(focus.EndpointList) // the first run's listing
	e.clock.Advance(59 * time.Minute)
	if got := e.requests(focus.EndpointList); got != lists {
		t.Fatalf("lists before the verify interval = %d, want %d", got, lists)
	}
	e.clock.Advance(time.Minute)
	e.waitPasses(f.Path, p0+1)
	if got := e.requests(focus.EndpointList); got != lists+1 {
		t.Fatalf("lists after the verify interval = %d, want %d", got, lists+1)
	}
	if got := e.requests(focus.EndpointCreate) + e.requests(focus.EndpointBulk); got != 1 {
		t.Errorf("uploads = %d, want 1 (verification uploads nothing)", got)
	}
}

func TestDaemon_ReloadRestartsExactlyTheChangedWorkers(t *testing.T) {
	e := newEnv(t, focustest.Options{})
	same, changed, rescan, removed := e.folder(1), e.folder(2), e.folder(3), e.folder(4)
	e.start(same, changed, rescan, removed)
	workerOf := func(f config.Folder) *worker {
		e.d.mu.Lock()
		defer e.d.mu.Unlock()
		return e.d.workers[syncer.FolderKey(f)]
	}
	before := map[int64]*worker{1: workerOf(same), 2: workerOf(changed), 3: workerOf(rescan)}

	changed.Exclude = []string{"*.tmp"}
	rescan.Rescan = time.Hour // any field counts, not only the ones the engine sees
	added := e.folder(5)
	e.d.Apply([]config.Folder{same, changed, rescan, added})

	if workerOf(same) != before[1] {
		t.Error("the unchanged folder's worker was restarted")
	}
	if w := workerOf(changed); w == nil || w == before[2] || w.f.Exclude[0] != "*.tmp" {
		t.Error("the folder with a new exclude was not restarted with it")
	}
	if w := workerOf(rescan); w == nil || w == before[3] || w.f.Rescan != time.Hour {
		t.Error("the folder with a new rescan interval was not restarted with it")
	}
	if workerOf(removed) != nil {
		t.Error("the removed folder's worker still runs")
	}
	if workerOf(added) == nil {
		t.Error("the added folder has no worker")
	}
	e.quiesce()
	for _, f := range []config.Folder{added, changed, rescan} {
		if e.passes(f.Path) == 0 {
			t.Errorf("the new worker of %s ran no pass", f.Path)
		}
	}
}

func TestDaemon_401PausesEverythingUntilResume(t *testing.T) {
	e := newEnv(t, focustest.Options{})
	a, b := e.folder(1), e.folder(2)
	testutil.WriteFile(t, a.Path, "a.txt", "a")
	testutil.WriteFile(t, b.Path, "b.txt", "b")
	e.client.SetToken("wrong")
	e.noQuiesce = true
	e.start(a, b)
	testutil.WaitUntil(t, wait, "the pause", func() bool { return e.d.Status().Paused != "" })
	// Every worker stops at its next pass instead of sending more refused requests.
	e.d.Kick()
	testutil.WaitUntil(t, wait, "both folders paused", func() bool {
		return e.status(a.Path).State == "paused" && e.status(b.Path).State == "paused"
	})
	refused := len(e.srv.Requests())
	e.clock.Advance(48 * time.Hour)
	e.d.Kick()
	if got := len(e.srv.Requests()); got != refused {
		t.Fatalf("requests while paused: %d more", got-refused)
	}

	e.client.SetToken("tok")
	e.d.Resume()
	testutil.WaitUntil(t, wait, "both files after the resume", func() bool {
		return e.names(1)["a.txt"] && e.names(2)["b.txt"]
	})
	if got := e.d.Status().Paused; got != "" {
		t.Errorf("Paused after Resume = %q, want empty", got)
	}
}

func TestWorker_RetryBacksOff(t *testing.T) {
	e := newEnv(t, focustest.Options{})
	f := e.folder(1)
	e.start(f)
	p0 := e.passes(f.Path)
	e.srv.SetFaults(focustest.Faults{ServerErrorRate: 1, Endpoints: []focus.Endpoint{focus.EndpointCreate}})
	// A second event handled after the failed pass would start a debounce in
	// place of the retry.
	arrive(t, f.Path, "a.txt", "a")
	e.waitArmed(time.Second)
	e.clock.Advance(time.Second)
	e.waitPasses(f.Path, p0+1)
	if e.names(1)["a.txt"] {
		t.Fatal("a.txt uploaded despite the injected failure")
	}
	e.waitArmed(retryMin) // the first retry a minute later
	e.srv.SetFaults(focustest.Faults{})
	e.clock.Advance(retryMin)
	e.waitPasses(f.Path, p0+2)
	if !e.names(1)["a.txt"] {
		t.Fatal("a.txt not uploaded by the retry")
	}
}

func TestDaemon_PauseResumeSyncNowForOneFolder(t *testing.T) {
	e := newEnv(t, focustest.Options{})
	f := e.folder(1)
	f.Watch = "poll"
	e.start(f)
	p0 := e.passes(f.Path)
	if err := e.d.PauseFolder(f.Path, ""); err != nil {
		t.Fatal(err)
	}
	testutil.WaitUntil(t, wait, "the pause in the status", func() bool { return e.status(f.Path).State == "paused" })
	arrive(t, f.Path, "a.txt", "a")
	if err := e.d.SyncNow(f.Path); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(48 * time.Hour) // rescans come and go
	testutil.WaitUntil(t, wait, "the paused status", func() bool { return e.status(f.Path).Paused == "paused by a person" })
	if e.names(1)["a.txt"] || e.passes(f.Path) != p0 {
		t.Fatal("a paused folder ran a pass")
	}
	if err := e.d.ResumeFolder(f.Path); err != nil {
		t.Fatal(err)
	}
	e.waitPasses(f.Path, p0+1)
	if !e.names(1)["a.txt"] {
		t.Fatal("a.txt not uploaded after the resume")
	}
	arrive(t, f.Path, "b.txt", "b")
	if err := e.d.SyncNow(f.Path); err != nil {
		t.Fatal(err)
	}
	testutil.WaitUntil(t, wait, "b.txt uploaded by SyncNow", func() bool { return e.names(1)["b.txt"] })
	if err := e.d.SyncNow("/no/such/folder"); err == nil {
		t.Error("SyncNow of an unknown folder: no error")
	}
}

func TestDaemon_ConfirmDeletesSendsTheHeldDeletes(t *testing.T) {
	e := newEnv(t, focustest.Options{})
	f := e.folder(1)
	f.Watch = "poll"
	f.MaxDelete = config.Limit{Count: 1}
	for _, n := range []string{"a", "b", "c"} {
		arrive(t, f.Path, n+".txt", n)
	}
	e.start(f)
	p0 := e.passes(f.Path)
	for _, n := range []string{"a", "b"} {
		if err := removeFile(f.Path, n+".txt"); err != nil {
			t.Fatal(err)
		}
	}
	e.d.SyncNow(f.Path)
	e.waitPasses(f.Path, p0+1)
	st := e.status(f.Path)
	if st.Held == "" || st.HeldDeletes != 2 || len(e.names(1)) != 3 {
		t.Fatalf("held = %q (%d deletes), attachments %v: want 2 deletes held", st.Held, st.HeldDeletes, e.names(1))
	}
	if err := e.d.ConfirmDeletes(f.Path); err != nil {
		t.Fatal(err)
	}
	e.waitPasses(f.Path, p0+2)
	if got := e.names(1); len(got) != 1 || !got["c.txt"] {
		t.Fatalf("attachments after the confirmation = %v, want c.txt alone", got)
	}
	if st := e.status(f.Path); st.Held != "" || st.HeldDeletes != 0 {
		t.Errorf("still held after the confirmation: %q", st.Held)
	}
}

// gate is a Gate whose answer the test sets.
type gate struct{ turn func() Turn }

func (g gate) Turn(context.Context, config.Folder) Turn { return g.turn() }

func TestDaemon_GateStandbyAndTakeover(t *testing.T) {
	e := newEnv(t, focustest.Options{})
	writer := false
	e.d.opt.Gate = gate{func() Turn { return Turn{Write: writer, ListFirst: writer} }}
	f := e.folder(1)
	f.Watch = "poll"
	arrive(t, f.Path, "mine.txt", "mine")
	arrive(t, f.Path, "theirs.txt", "theirs")
	// Another host uploaded theirs.txt already, and its records are not ours.
	e.srv.Put(1, 2, 1, "theirs.txt", []byte("theirs"), 1024)
	e.start(f)
	p0 := e.passes(f.Path)
	if st := e.status(f.Path); st.State != "standby" || st.Pending == 0 {
		t.Fatalf("standby status = %+v, want standby with work pending", st)
	}
	if got := e.requests(focus.EndpointCreate) + e.requests(focus.EndpointBulk); got != 0 {
		t.Fatalf("a standby sent %d uploads", got)
	}
	writer = true
	e.d.SyncNow(f.Path)
	e.waitPasses(f.Path, p0+1)
	if got := e.requests(focus.EndpointCreate) + e.requests(focus.EndpointBulk); got != 1 {
		t.Errorf("uploads after the takeover = %d, want 1 (theirs.txt adopted)", got)
	}
	if got := e.names(1); len(got) != 2 {
		t.Errorf("attachments = %v, want mine.txt and theirs.txt once each", got)
	}
}

func removeFile(dir, name string) error { return os.Remove(filepath.Join(dir, name)) }

// A file left alone for a lasting reason (here: over max_file_size) is logged
// once, saying why, not at every pass; it is never uploaded.
func TestWorker_SkippedFileLoggedOnce(t *testing.T) {
	e := newEnv(t, focustest.Options{})
	f := e.folder(1)
	f.MaxFileSize = 16
	testutil.WriteFile(t, f.Path, "big.bin", "more than sixteen bytes of content")
	e.start(f)
	// More passes: each file brought in is one.
	for _, n := range []string{"a.txt", "b.txt", "c.txt"} {
		p := e.passes(f.Path)
		arrive(t, f.Path, n, "small")
		e.waitArmed(time.Second)
		e.clock.Advance(time.Second)
		e.waitPasses(f.Path, p+1)
		if !e.names(1)[n] {
			t.Fatalf("%s not uploaded by its pass; attachments %v", n, e.names(1))
		}
	}
	log := e.logs.String()
	if n := strings.Count(log, "file skipped"); n != 1 {
		t.Errorf("the too-large file was logged %d times over %d passes, want once:\n%s", n, e.passes(f.Path), log)
	}
	if !strings.Contains(log, "larger than max_file_size") {
		t.Errorf("the skip does not say why:\n%s", log)
	}
	if e.names(1)["big.bin"] {
		t.Errorf("a file over max_file_size was uploaded")
	}
}
