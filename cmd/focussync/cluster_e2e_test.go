package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/focussync/focussync/cluster"
	"github.com/focussync/focussync/daemon"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
	"github.com/focussync/focussync/internal/scope"
	"github.com/focussync/focussync/internal/testutil"
)

// host is one of several daemons on one folder: its own config, state db and
// node name, the emulator and the folder of the env (seen through path).
type host struct {
	e    *env // a copy of the scene's env with this host's config and state
	name string
	d    *daemonProc
}

// newHost makes a host named name that sees the scene's folder at path.
func newHost(e *env, name, path, ttl string) *host {
	e.t.Helper()
	h := *e
	h.cfg = filepath.Join(e.dir, name+".toml")
	h.state = filepath.Join(e.dir, name, "state.db")
	h.folder = path
	h.extra = e.extra + fmt.Sprintf("\n[cluster]\nlease_ttl = %q\nnode_name = %q\n", ttl, name)
	if err := os.MkdirAll(filepath.Dir(h.state), 0o755); err != nil {
		e.t.Fatal(err)
	}
	h.writeConfig()
	return &host{e: &h, name: name}
}

func (h *host) start()        { h.d = h.e.startDaemon() }
func (h *host) log() string   { return h.d.stderr.String() }
func (h *host) running() bool { return h.d != nil && !h.d.exited() }
func (h *host) holding() bool { return h.running() && strings.Count(h.log(), "lease lost") < h.holds() }
func (h *host) holds() int    { return len(holdRE.FindAllStringIndex(h.log(), -1)) }
func (h *host) kill()         { h.d.cmd.Process.Signal(syscall.SIGKILL); <-h.d.done }
func (h *host) instance() string {
	m := instanceRE.FindStringSubmatch(h.log())
	if m == nil {
		h.e.t.Fatalf("host %s logged no instance id:\n%s", h.name, h.log())
	}
	return m[1]
}

var (
	holdRE     = regexp.MustCompile(`"msg":"(holding the task's lease|took over the task's lease from a silent holder|lease left by an earlier process)`)
	instanceRE = regexp.MustCompile(`"instance":"([0-9a-f]{16})"`)
)

func (d *daemonProc) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// mirrorProblem returns what keeps the task from holding exactly one attachment
// per file of the folder, with the file's content, or "".
func (e *env) mirrorProblem() string {
	want := map[string]string{}
	entries, err := os.ReadDir(e.folder)
	if err != nil {
		return err.Error()
	}
	for _, de := range entries {
		if de.IsDir() || scope.IgnoredByDefault(de.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(e.folder, de.Name()))
		if err != nil {
			return err.Error()
		}
		sum := sha256.Sum256(b)
		want[de.Name()] = hex.EncodeToString(sum[:])
	}
	got := map[string]string{}
	for _, a := range e.attachments() {
		if _, dup := got[a.Name]; dup {
			return "duplicate attachment " + a.Name
		}
		got[a.Name] = a.SHA256
	}
	for name, h := range want {
		if got[name] != h {
			return "file " + name + " not mirrored"
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			return "attachment " + name + " has no file"
		}
	}
	return ""
}

// waitMirrored waits until the task mirrors the folder, and fails the test with
// the last problem seen otherwise.
func (e *env) waitMirrored(timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		p := e.mirrorProblem()
		if p == "" {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("after %s the task does not mirror the folder: %s\nattachments: %v", timeout, p, e.names())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRecordsLeft waits until the holder's handover file (written after each
// pass) holds a record for exactly the folder's files: a holder killed after
// that leaves nothing for the next one to send again.
func (e *env) waitRecordsLeft(timeout time.Duration) {
	e.t.Helper()
	testutil.WaitUntil(e.t, timeout, "the holder's records in the folder", func() bool {
		b, err := os.ReadFile(filepath.Join(e.folder, cluster.HandoverName(e.task)))
		if err != nil {
			return false
		}
		var h struct{ Records []struct{ Path string } }
		if json.Unmarshal(b, &h) != nil {
			return false
		}
		entries, err := os.ReadDir(e.folder)
		if err != nil {
			return false
		}
		files := map[string]bool{}
		for _, de := range entries {
			if !de.IsDir() && !scope.IgnoredByDefault(de.Name()) {
				files[de.Name()] = true
			}
		}
		if len(h.Records) != len(files) {
			return false
		}
		for _, r := range h.Records {
			if !files[r.Path] {
				return false
			}
		}
		return true
	})
}

// waitQuiet waits until no request has come for d.
func (e *env) waitQuiet(d time.Duration) {
	e.t.Helper()
	n, since := e.mark(), time.Now()
	for time.Since(since) < d {
		time.Sleep(20 * time.Millisecond)
		if m := e.mark(); m != n {
			n, since = m, time.Now()
		}
	}
}

// writersInTurn checks that the writes the emulator received came from one
// process at a time: the sequence of writers changes at most maxSwitches times,
// and no write of one process was handled while another's was in flight.
func writersInTurn(t *testing.T, reqs []focustest.Request, maxSwitches int) {
	t.Helper()
	var ws []focustest.Request
	for _, r := range reqs {
		if r.Endpoint.Write() && r.Status != 0 {
			ws = append(ws, r)
		}
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].Time.Before(ws[j].Time) })
	switches := 0
	for i := 1; i < len(ws); i++ {
		a, b := ws[i-1], ws[i]
		if writerOf(a) == writerOf(b) {
			continue
		}
		switches++
		if b.Time.Before(a.Handled) {
			t.Errorf("write %s %s by %s arrived at %s, before the write of %s handled at %s",
				b.Method, b.Path, writerOf(b), b.Time.Format(time.StampMicro), writerOf(a), a.Handled.Format(time.StampMicro))
		}
	}
	if switches > maxSwitches {
		t.Errorf("the writer changed %d times, want at most %d (one per change of lease holder)", switches, maxSwitches)
	}
}

func writerOf(r focustest.Request) string {
	if i := strings.Index(r.UserAgent, "instance "); i >= 0 {
		return strings.TrimSuffix(r.UserAgent[i+len("instance "):], ")")
	}
	return r.UserAgent
}

// TestCluster_TwoDaemonsOneFolder runs two daemons, each with its own state db,
// on one folder (the second through a symlink, as another host's mount path
// would be) with a short lease_ttl: adds, renames and deletes go up exactly once,
// and after a SIGKILL of the holder (each in turn) the other takes over within
// lease_ttl plus one pass, at a cost of one list and no upload.
func TestCluster_TwoDaemonsOneFolder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	link := filepath.Join(e.dir, "mnt-b")
	if err := os.Symlink(e.folder, link); err != nil {
		t.Fatal(err)
	}
	const ttl = 3 * time.Second
	a := newHost(e, "host-a", e.folder, ttl.String())
	b := newHost(e, "host-b", link, ttl.String())
	e.writeN(5, "a")

	a.start()
	testutil.WaitUntil(t, 30*time.Second, "host-a holds the lease", a.holding)
	b.start()
	e.waitMirrored(60 * time.Second)
	testutil.WaitUntil(t, 30*time.Second, "host-b is a standby", func() bool { return strings.Contains(b.log(), `"msg":"watching folder"`) })

	// Changes while host-a holds: b sends nothing.
	e.write("b1.txt", "one")
	if err := os.Rename(filepath.Join(e.folder, "a001.txt"), filepath.Join(e.folder, "renamed.txt")); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(e.folder, "a002.txt"))
	e.waitMirrored(60 * time.Second)
	if b.holds() != 0 {
		t.Fatalf("host-b took the lease while host-a ran:\n%s", b.log())
	}

	holders := []*host{a, b}
	takeovers := 0
	for round := 0; round < 2; round++ {
		old, next := holders[round%2], holders[(round+1)%2]
		before := next.holds()
		e.waitRecordsLeft(60 * time.Second)
		mark := e.mark()
		old.kill()
		killed := time.Now()
		gap := round == 1
		if gap {
			// Changes between the crash and the takeover: the new holder learns
			// from the records the old one left that these attachments are
			// focussync's, and renames and deletes them.
			if err := os.Rename(filepath.Join(e.folder, "renamed.txt"), filepath.Join(e.folder, "renamed-in-gap.txt")); err != nil {
				t.Fatal(err)
			}
			os.Remove(filepath.Join(e.folder, "a000.txt"))
			e.write("added-in-gap.txt", "gap")
		}
		testutil.WaitUntil(t, 3*ttl+30*time.Second, next.name+" takes over", func() bool { return next.holds() > before })
		took := time.Since(killed)
		takeovers++
		// Its first pass as the holder lists the task.
		testutil.WaitUntil(t, 30*time.Second, next.name+" lists the task", func() bool { return e.requests(mark)[focus.EndpointList] > 0 })
		e.waitMirrored(60 * time.Second)
		e.waitQuiet(time.Second)
		got := e.requests(mark)
		t.Logf("round %d: %s took over %s after the SIGKILL of %s (lease_ttl %s); its requests: %v", round, next.name, took.Round(time.Millisecond), old.name, ttl, got)
		if took > ttl+5*time.Second {
			t.Errorf("takeover took %s, want at most lease_ttl (%s) plus one pass", took, ttl)
		}
		switch {
		case !gap && (got[focus.EndpointList] != 1 || writes(got) != 0):
			t.Errorf("new holder's requests = %v, want 1 list, no upload and no delete", got)
		case gap && (got[focus.EndpointList] != 1 || got[focus.EndpointUpdate] != 1 || got[focus.EndpointDelete] != 1 || got[focus.EndpointCreate]+got[focus.EndpointBulk] != 1):
			t.Errorf("new holder's requests = %v, want 1 list, 1 rename, 1 delete and 1 upload for the changes made during the takeover", got)
		}
		// The new holder syncs changes; the killed host comes back as a standby.
		e.write(fmt.Sprintf("round%d.txt", round), "new in round "+fmt.Sprint(round))
		os.Remove(filepath.Join(e.folder, fmt.Sprintf("a00%d.txt", 3+round)))
		if err := os.Rename(filepath.Join(e.folder, "b1.txt"), filepath.Join(e.folder, fmt.Sprintf("b1-%d.txt", round))); err != nil && round == 0 {
			t.Fatal(err)
		}
		if round == 1 {
			os.Rename(filepath.Join(e.folder, "b1-0.txt"), filepath.Join(e.folder, "b1-final.txt"))
		}
		e.waitMirrored(60 * time.Second)
		old.start()
		testutil.WaitUntil(t, 30*time.Second, old.name+" runs again", func() bool { return strings.Contains(old.log(), `"msg":"watching folder"`) })
		if !next.holding() {
			t.Fatalf("%s lost the lease to the restarted %s", next.name, old.name)
		}
	}
	e.waitMirrored(60 * time.Second)
	writersInTurn(t, e.srv.Requests(), takeovers)

	// A clean stop hands the lease over at once.
	cur, other := holders[0], holders[1]
	if !cur.holding() {
		cur, other = other, cur
	}
	before := other.holds()
	stopped := time.Now()
	cur.d.stop()
	testutil.WaitUntil(t, ttl+10*time.Second, other.name+" takes over after a clean stop", func() bool { return other.holds() > before })
	t.Logf("takeover after a clean stop: %s", time.Since(stopped).Round(time.Millisecond))
	e.write("after-stop.txt", "x")
	e.waitMirrored(60 * time.Second)
	other.d.stop()
}

// TestCluster_StandbyStatus runs a daemon while another process (here, in the
// test) holds the task's lease: the daemon scans but sends nothing, and /status,
// /metrics and `focussync status` say "standby, held by host-z"; when the holder
// releases the lease, the daemon takes over and says so.
func TestCluster_StandbyStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	const ttl = 3 * time.Second
	e.writeN(3, "s")
	z, err := cluster.NewShare(cluster.ShareOptions{Node: "host-z", Writer: "db-z", TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close(context.Background())
	lz, err := z.Join(cluster.Task{Organization: testOrg, Workspace: testWS, Task: e.task}, e.folder)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitUntil(t, 10*time.Second, "host-z holds", func() bool { return lz.Check() == nil })

	cfg := fmt.Sprintf("[api]\nbase_url = %q\norganization_id = %d\nworkspace_id = %d\n[state]\npath = %q\n[status]\nlisten = %q\n"+
		"[cluster]\nlease_ttl = %q\nnode_name = \"host-y\"\n[defaults]\nsettle = \"1ms\"\nrescan = \"1s\"\n[[folder]]\npath = %q\ntask_id = %d\n",
		e.srv.URL, testOrg, testWS, e.state, listen, ttl.String(), e.folder, e.task)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	d := e.startDaemon()
	get := func(path string) string {
		resp, err := http.Get("http://" + listen + path)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	folderLease := func() *daemon.LeaseStatus {
		var st daemon.Status
		if json.Unmarshal([]byte(get("/status")), &st) != nil || len(st.Folders) != 1 {
			return nil
		}
		return st.Folders[0].Lease
	}
	testutil.WaitUntil(t, 30*time.Second, "/status shows a standby held by host-z", func() bool {
		l := folderLease()
		return l != nil && l.Role == "standby" && l.Holder == "host-z"
	})
	if l := folderLease(); !strings.HasPrefix(l.Text, "standby, held by host-z since ") {
		t.Errorf("lease text = %q", l.Text)
	}
	// A few passes later the standby still sent nothing at all.
	time.Sleep(ttl)
	if n := len(e.srv.Requests()); n != 0 {
		t.Fatalf("the standby sent %d requests, want none: %v", n, e.requests(0))
	}
	r := e.run("status")
	if r.code != 0 || !strings.Contains(r.stdout, "lease: standby, held by host-z since ") || !strings.Contains(r.stdout, "takeovers 0") {
		t.Errorf("focussync status does not show the standby:\n%v", r)
	}
	if m := get("/metrics"); !strings.Contains(m, `focussync_lease_holder{folder="`+e.folder+`",holder_node="host-z",role="standby",task_id="101"} 0`) {
		t.Errorf("/metrics lacks the standby's lease:\n%s", grepLines(m, "lease"))
	}

	// The holder stops cleanly: the daemon takes over, lists once and uploads.
	if err := lz.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.WaitUntil(t, 30*time.Second, "the daemon holds and syncs", func() bool {
		l := folderLease()
		return l != nil && l.Role == "holder" && l.Holder == "host-y" && e.mirrorProblem() == ""
	})
	if m := get("/metrics"); !strings.Contains(m, `focussync_lease_holder{folder="`+e.folder+`",holder_node="host-y",role="holder",task_id="101"} 1`) {
		t.Errorf("/metrics lacks the holder's lease:\n%s", grepLines(m, "lease"))
	}
	r = e.run("status")
	if !strings.Contains(r.stdout, "lease: holder since ") {
		t.Errorf("focussync status does not show the holder:\n%v", r)
	}
	d.stop()
	// The clean stop released the lease: the record says so.
	b, err := os.ReadFile(filepath.Join(e.folder, cluster.RecordName(e.task)))
	if err != nil || strings.Contains(string(b), `"instance"`) {
		t.Errorf("lease record after a clean stop = %s (%v), want a released record", b, err)
	}
	if n := e.srv.Attachments(e.task); len(n) != 3 {
		t.Errorf("%d attachments, want 3: the lease record is never uploaded", len(n))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// startShareHolder starts host-a (lease_ttl 3s) on e's folder, which it fills
// with one file, and waits until the task mirrors it and host-a's share lease
// record names it; it returns the host and the record's path.
func startShareHolder(t *testing.T, e *env) (*host, string) {
	t.Helper()
	rec := filepath.Join(e.folder, cluster.RecordName(e.task))
	h := newHost(e, "host-a", e.folder, "3s")
	e.write("one.txt", "1")
	h.start()
	e.waitMirrored(60 * time.Second)
	testutil.WaitUntil(t, 30*time.Second, "host-a's share lease record", func() bool {
		b, _ := os.ReadFile(rec)
		return strings.Contains(string(b), `"node": "host-a"`)
	})
	return h, rec
}

// TestCluster_ReloadChangesCoordinator changes [cluster] with a SIGHUP: the new
// settings take effect without a restart, and the old leases are released.
func TestCluster_ReloadChangesCoordinator(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h, rec := startShareHolder(t, e)

	// No coordinator: the lease is released and the daemon keeps syncing.
	h.e.extra = e.extra + "\n[cluster]\ncoordinator = \"none\"\n"
	h.e.writeConfig()
	h.d.signal(syscall.SIGHUP)
	testutil.WaitUntil(t, 30*time.Second, "the lease released after the reload", func() bool {
		b, _ := os.ReadFile(rec)
		return len(b) > 0 && !strings.Contains(string(b), `"instance"`)
	})
	e.write("two.txt", "2")
	e.waitMirrored(60 * time.Second)

	// Back to the share coordinator, under another node name.
	h.e.extra = e.extra + "\n[cluster]\nlease_ttl = \"3s\"\nnode_name = \"host-renamed\"\n"
	h.e.writeConfig()
	h.d.signal(syscall.SIGHUP)
	testutil.WaitUntil(t, 30*time.Second, "the lease held under the new node name", func() bool {
		b, _ := os.ReadFile(rec)
		return strings.Contains(string(b), `"node": "host-renamed"`)
	})
	e.write("three.txt", "3")
	e.waitMirrored(60 * time.Second)
	if strings.Contains(h.log(), testToken) {
		t.Error("the token reached the log")
	}
	h.d.stop()
}
