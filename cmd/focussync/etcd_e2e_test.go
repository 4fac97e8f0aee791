package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/focussync/focussync/daemon"
	"github.com/focussync/focussync/internal/etcdtest"
	"github.com/focussync/focussync/internal/testutil"
)

// etcdCluster is the [cluster] table of a host on etcd.
func etcdCluster(c *etcdtest.Cluster, name, ttl string) string {
	return fmt.Sprintf("\n[cluster]\ncoordinator = \"etcd\"\nlease_ttl = %q\nnode_name = %q\netcd_endpoints = [\"%s\"]\netcd_prefix = \"/e2e/\"\n",
		ttl, name, strings.Join(c.Endpoints(), `", "`))
}

// newEtcdHost makes a host named name on the scene's folder whose leases are in c.
func newEtcdHost(e *env, c *etcdtest.Cluster, name, ttl string) *host {
	e.t.Helper()
	h := newHost(e, name, e.folder, ttl)
	h.e.extra = e.extra + etcdCluster(c, name, ttl)
	h.e.writeConfig()
	return h
}

// leaseValue is the value of the scene's task's lease key in etcd, "" when none.
func leaseValue(t *testing.T, c *etcdtest.Cluster, e *env) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Client().Get(ctx, fmt.Sprintf("/e2e/lease/%d/%d/%d", testOrg, testWS, e.task))
	if err != nil || len(resp.Kvs) == 0 {
		return ""
	}
	return string(resp.Kvs[0].Value)
}

// TestEtcd_TwoDaemonsLeaderStopped runs two daemons, each with its own state db,
// on one folder with their leases in a 3-member etcd: adds, renames and deletes
// go up exactly once, the standby says who holds the task, and stopping the
// etcd leader mid-run loses nothing and duplicates nothing.
func TestEtcd_TwoDaemonsLeaderStopped(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 3)
	e := newEnv(t)
	a := newEtcdHost(e, c, "host-a", "3s")
	b := newEtcdHost(e, c, "host-b", "3s")
	e.writeN(6, "a")

	a.start()
	testutil.WaitUntil(t, 30*time.Second, "host-a holds the lease", a.holding)
	b.start()
	e.waitMirrored(60 * time.Second)
	testutil.WaitUntil(t, 30*time.Second, "host-b is a standby", func() bool { return strings.Contains(b.log(), `"msg":"watching folder"`) })
	if v := leaseValue(t, c, e); !strings.Contains(v, `"node":"host-a"`) || !strings.Contains(v, `"folder":"`+e.folder+`"`) {
		t.Errorf("lease key = %q, want host-a and its folder", v)
	}
	testutil.WaitUntil(t, 30*time.Second, "focussync status on host-b names the holder", func() bool {
		r := b.e.run("status")
		return strings.Contains(r.stdout, "lease: standby, held by host-a since ")
	})

	e.write("b1.txt", "one")
	if err := os.Rename(filepath.Join(e.folder, "a001.txt"), filepath.Join(e.folder, "renamed.txt")); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(e.folder, "a002.txt"))
	e.waitMirrored(60 * time.Second)

	// The etcd leader stops while changes are under way.
	e.writeN(5, "c")
	leader := c.Leader()
	c.Stop(leader)
	if err := os.Rename(filepath.Join(e.folder, "a003.txt"), filepath.Join(e.folder, "renamed-during-failover.txt")); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(e.folder, "a004.txt"))
	e.write("during-failover.txt", "x")
	e.waitMirrored(60 * time.Second)
	c.Restart(leader)
	e.write("after-failover.txt", "y")
	e.waitMirrored(60 * time.Second)
	e.waitQuiet(time.Second)
	if p := e.mirrorProblem(); p != "" {
		t.Errorf("after the failover: %s", p)
	}
	t.Logf("holds: host-a %d, host-b %d; requests %v", a.holds(), b.holds(), e.requests(0))
	writersInTurn(t, e.srv.Requests(), a.holds()+b.holds()-1)
	a.d.stop()
	b.d.stop()
	if strings.Contains(a.log()+b.log(), testToken) {
		t.Error("the token reached a log")
	}
}

// TestEtcd_FrozenHolder stops the holder with SIGSTOP past lease_ttl: the standby
// takes over and syncs what changed meanwhile; resumed with SIGCONT, the old
// holder finds its lease lapsed and sends no write. The emulator's log of who
// sent each write shows no write of the old holder after the new one's first,
// and no two writers overlapping in time.
func TestEtcd_FrozenHolder(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 3)
	e := newEnv(t)
	a := newEtcdHost(e, c, "host-a", "3s")
	b := newEtcdHost(e, c, "host-b", "3s")
	e.writeN(5, "a")
	a.start()
	testutil.WaitUntil(t, 30*time.Second, "host-a holds the lease", a.holding)
	b.start()
	e.waitMirrored(60 * time.Second)
	testutil.WaitUntil(t, 30*time.Second, "host-b is a standby", func() bool { return strings.Contains(b.log(), `"msg":"watching folder"`) })
	aID, bID := a.instance(), b.instance()

	before := b.holds()
	a.d.signal(syscall.SIGSTOP)
	frozen := time.Now()
	// Files added while the holder is frozen: both daemons see them. (Renames and
	// deletes come after the takeover: a new holder that never held the task
	// before adopts from the listing alone, which leaves the attachments of
	// files renamed or deleted during the takeover.)
	e.writeN(3, "frozen")
	testutil.WaitUntil(t, 60*time.Second, "host-b takes over from the frozen host-a", func() bool { return b.holds() > before })
	t.Logf("host-b took over %s after the SIGSTOP of host-a (lease_ttl 3s)", time.Since(frozen).Round(time.Millisecond))
	e.waitMirrored(60 * time.Second)

	a.d.signal(syscall.SIGCONT)
	testutil.WaitUntil(t, 30*time.Second, "host-a finds its lease lapsed", func() bool { return strings.Contains(a.log(), "lease lost") })
	e.write("after-resume.txt", "z")
	if err := os.Rename(filepath.Join(e.folder, "a000.txt"), filepath.Join(e.folder, "renamed-after-resume.txt")); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(e.folder, "a001.txt"))
	e.waitMirrored(60 * time.Second)
	e.waitQuiet(time.Second)

	reqs := e.srv.Requests()
	var firstB time.Time
	for _, r := range reqs {
		if r.Endpoint.Write() && writerOf(r) == bID && (firstB.IsZero() || r.Time.Before(firstB)) {
			firstB = r.Time
		}
	}
	if firstB.IsZero() {
		t.Fatal("host-b sent no write after taking over")
	}
	for _, r := range reqs {
		if r.Endpoint.Write() && writerOf(r) == aID && !r.Time.Before(firstB) {
			t.Errorf("host-a sent %s %s at %s, after host-b's first write at %s", r.Method, r.Path,
				r.Time.Format(time.StampMicro), firstB.Format(time.StampMicro))
		}
	}
	writersInTurn(t, reqs, 1)
	if st := b.e.run("status"); !regexp.MustCompile(`takeovers [1-9]`).MatchString(st.stdout) {
		t.Errorf("host-b's status does not count the takeover:\n%v", st)
	}
	a.d.stop()
	b.d.stop()
}

// TestEtcd_ReloadAndUnreachable moves a running daemon from the share
// coordinator to etcd with a SIGHUP (the share lease is released, the etcd one
// taken), checks the config online against etcd, changes the endpoints with
// another SIGHUP, then stops every etcd member:
// the folder is paused naming the endpoints, and SIGTERM still stops the daemon
// at once.
func TestEtcd_ReloadAndUnreachable(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 3)
	e := newEnv(t)
	h, rec := startShareHolder(t, e)

	h.e.extra = e.extra + etcdCluster(c, "host-a", "3s")
	h.e.writeConfig()
	h.d.signal(syscall.SIGHUP)
	testutil.WaitUntil(t, 30*time.Second, "the lease in etcd after the reload", func() bool {
		return strings.Contains(leaseValue(t, c, e), `"node":"host-a"`)
	})
	if b, _ := os.ReadFile(rec); strings.Contains(string(b), `"instance"`) {
		t.Errorf("the share lease record still names a holder after the move to etcd: %s", b)
	}
	e.write("two.txt", "2")
	e.waitMirrored(60 * time.Second)
	r := h.e.run("check", "--online")
	if r.code != 0 || !strings.Contains(r.stdout, "cluster: etcd at "+c.Endpoints()[0]) || !strings.Contains(r.stdout, "connected; 1 task leases held under /e2e/") {
		t.Errorf("check --online with etcd:\n%v", r)
	}

	// Other endpoints (two of the three members): the lease is taken anew
	// through them, again without a restart.
	h.e.extra = e.extra + strings.Replace(etcdCluster(c, "host-a", "3s"), `"`+c.Endpoints()[0]+`", `, "", 1)
	h.e.writeConfig()
	since := leaseValue(t, c, e)
	h.d.signal(syscall.SIGHUP)
	testutil.WaitUntil(t, 30*time.Second, "the lease taken anew after the endpoints changed", func() bool {
		v := leaseValue(t, c, e)
		return strings.Count(h.log(), `"msg":"[cluster] reloaded"`) == 2 && v != "" && v != since
	})
	if !strings.Contains(h.log(), `"endpoints":"`+c.Endpoints()[1]+","+c.Endpoints()[2]+`"`) {
		t.Errorf("the log does not show the new endpoints:\n%s", h.log())
	}
	e.write("three.txt", "3")
	e.waitMirrored(60 * time.Second)

	for i := range c.Endpoints() {
		c.Stop(i)
	}
	down := time.Now()
	testutil.WaitUntil(t, 30*time.Second, "the folder paused, naming the endpoints", func() bool {
		return strings.Contains(h.e.run("status").stdout, "does not answer")
	})
	t.Logf("paused %s after etcd stopped", time.Since(down).Round(time.Millisecond))
	if st := h.e.run("status").stdout; !strings.Contains(st, c.Endpoints()[1]) {
		t.Errorf("status does not name the endpoints:\n%s", st)
	}
	mark := e.mark()
	stopping := time.Now()
	h.d.stop()
	t.Logf("stopped %s after SIGTERM with etcd down", time.Since(stopping).Round(time.Millisecond))
	if n := writes(e.requests(mark)); n != 0 {
		t.Errorf("%d writes with etcd down", n)
	}
}

// focussync status shows a standby's reason, such as the conflict of two folders
// mapped to one task, after the holder; a paused lease's reason once.
func TestLeaseNote_StandbyReason(t *testing.T) {
	t.Parallel()
	conflict := "conflict: task 11/22/101 is mapped to two folders on host-x: /srv/a holds its lease, so /srv/b is not synced (map each folder to its own task)"
	got := leaseNote(&daemon.LeaseStatus{Role: "standby", Holder: "host-x", AgeSeconds: 60, Takeovers: 0, Reason: conflict,
		Text: "standby, held by host-x since 2026-12-02 09:14:03 UTC"})
	if want := "lease: standby, held by host-x since 2026-12-02 09:14:03 UTC (held for 1m, takeovers 0); " + conflict; got != want {
		t.Errorf("leaseNote = %q, want %q", got, want)
	}
	got = leaseNote(&daemon.LeaseStatus{Role: "paused", Reason: "etcd at x does not answer", Text: "paused: etcd at x does not answer"})
	if strings.Count(got, "does not answer") != 1 {
		t.Errorf("paused leaseNote = %q, want the reason once", got)
	}
}
