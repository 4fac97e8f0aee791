package cluster

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/focussync/focussync/internal/etcdtest"
	"github.com/focussync/focussync/internal/testutil"
)

// etcdTTL is the lease_ttl of most etcd tests: etcd's shortest with
// etcdtest's timing is 2s, and a busy machine needs room for renewals.
const etcdTTL = 3 * time.Second

func newEtcd(t *testing.T, cli *clientv3.Client, prefix, node, writer string, ttl time.Duration) *Etcd {
	t.Helper()
	e, err := NewEtcd(EtcdLeaseOptions{Client: cli, Prefix: prefix, Node: node, Writer: writer, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Close(ctx)
	})
	return e
}

// joinDir joins task for dir (given a file: an empty folder is not claimed).
func joinDir(t *testing.T, c Coordinator, tk Task, dir string) *Lease {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "file.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := c.Join(tk, dir)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func holderOf(leases []*Lease) (int, int) {
	n, who := 0, -1
	for i, l := range leases {
		if holding(l) {
			n, who = n+1, i
		}
	}
	return n, who
}

// Of three contenders on three hosts one holds the lease and the others name
// it; a clean release hands it over at once (well within the TTL), a crash after
// the TTL, counted as a takeover; the key is the task's, with the holder as JSON.
func TestEtcd_OneHolderReleaseAndCrash(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 3)
	cli := c.Client()
	dir := t.TempDir()
	// A long TTL: a takeover within it comes from the release, not from a lapse.
	const ttl = 30 * time.Second
	var cs []*Etcd
	var ls []*Lease
	for i, node := range []string{"ws-a", "ws-b", "ws-c"} {
		cs = append(cs, newEtcd(t, cli, "/t1/", node, "db-"+node, ttl))
		ls = append(ls, joinDir(t, cs[i], task, dir))
	}
	stop := overlapWatch(t, func() []*Lease { return ls })
	testutil.WaitUntil(t, 20*time.Second, "one holder", func() bool { n, _ := holderOf(ls); return n == 1 })
	_, h := holderOf(ls)
	holder := cs[h].Node()
	for i, l := range ls {
		if i == h {
			continue
		}
		testutil.WaitUntil(t, 20*time.Second, "standbys name the holder", func() bool {
			st := l.Status()
			return st.Role == RoleStandby && st.Holder.Node == holder
		})
		if st := l.Status(); !strings.HasPrefix(st.String(), "standby, held by "+holder+" since ") || st.Reason != "" {
			t.Errorf("standby status = %q (reason %q)", st, st.Reason)
		}
	}
	if !ls[h].TakeAdopt() {
		t.Error("the first holder is not told to adopt what is in the task")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := cli.Get(ctx, "/t1/lease/11/22/101")
	if err != nil || len(got.Kvs) != 1 || !strings.Contains(string(got.Kvs[0].Value), `"node":"`+holder+`"`) ||
		!strings.Contains(string(got.Kvs[0].Value), `"folder":"`+dir+`"`) {
		t.Fatalf("lease key = %v, %v; want the holder's JSON", got, err)
	}

	// A clean release: another takes over at once, no takeover counted.
	if err := ls[h].Release(ctx); err != nil {
		t.Fatal(err)
	}
	rest := append(append([]*Lease{}, ls[:h]...), ls[h+1:]...)
	testutil.WaitUntil(t, ttl/2, "a standby takes over after the release", func() bool { n, _ := holderOf(rest); return n == 1 })
	_, h2 := holderOf(rest)
	if st := rest[h2].Status(); st.Takeovers != 0 {
		t.Errorf("takeovers after a release = %d, want 0", st.Takeovers)
	}
	if !rest[h2].TakeAdopt() {
		t.Error("a new holder after another writer is not told to adopt")
	}
	stop()

	// A crash (no release): the other takes over after the TTL, a takeover.
	other := Task{Organization: 11, Workspace: 22, Task: 102}
	x := joinDir(t, newEtcd(t, cli, "/t1/", "ws-x", "db-x", etcdTTL), other, dir)
	testutil.WaitUntil(t, 20*time.Second, "ws-x holds", func() bool { return holding(x) })
	y := joinDir(t, newEtcd(t, cli, "/t1/", "ws-y", "db-y", etcdTTL), other, dir)
	testutil.WaitUntil(t, 20*time.Second, "ws-y is a standby", func() bool { return y.Status().Holder.Node == "ws-x" })
	x.abandon()
	testutil.WaitUntil(t, 4*etcdTTL, "ws-y takes over from the crashed ws-x", func() bool { return holding(y) })
	if st := y.Status(); st.Takeovers < 1 || st.Role != RoleHolder || st.Holder.Node != "ws-y" {
		t.Errorf("after a crash: status %+v, want holder with a takeover counted", st)
	}
	if !y.TakeAdopt() {
		t.Error("the new holder after a crash is not told to adopt")
	}

	// A daemon restarted on its state db after a crash takes its lease back at
	// once (well within the TTL), without adopting: its records are current.
	third := Task{Organization: 11, Workspace: 22, Task: 103}
	first := joinDir(t, newEtcd(t, cli, "/t1/", "ws-r", "db-r", ttl), third, dir)
	testutil.WaitUntil(t, 20*time.Second, "ws-r holds", func() bool { return holding(first) })
	first.abandon()
	again := joinDir(t, newEtcd(t, cli, "/t1/", "ws-r", "db-r", ttl), third, dir)
	testutil.WaitUntil(t, ttl/2, "the restarted ws-r holds again", func() bool { return holding(again) })
	if again.TakeAdopt() {
		t.Error("a restart on the same state db is told to adopt")
	}
}

// Two folders mapped to one task have one writer: the other reports the
// conflict, naming the holder's node and folder; one folder seen through a
// symlink on one host is no conflict.
func TestEtcd_TwoFoldersOneTask(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 3)
	cli := c.Client()
	a, b := t.TempDir(), t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	ca := newEtcd(t, cli, "/t2/", "host-x", "db-1", etcdTTL)
	la := joinDir(t, ca, task, a)
	testutil.WaitUntil(t, 20*time.Second, "the first folder holds", func() bool { return holding(la) })
	cb := newEtcd(t, cli, "/t2/", "host-x", "db-2", etcdTTL)
	lb := joinDir(t, cb, task, b)
	cl := newEtcd(t, cli, "/t2/", "host-x", "db-3", etcdTTL)
	ll := joinDir(t, cl, task, link)
	testutil.WaitUntil(t, 20*time.Second, "the second folder reports the conflict", func() bool {
		return lb.Status().Role == RoleStandby && lb.Status().Reason != ""
	})
	st := lb.Status()
	if !strings.Contains(st.Reason, "conflict") || !strings.Contains(st.Reason, "host-x") || !strings.Contains(st.Reason, a) || holding(lb) {
		t.Errorf("second folder: %+v, want a standby whose reason names host-x and %s", st, a)
	}
	testutil.WaitUntil(t, 20*time.Second, "the symlinked folder is a standby", func() bool { return ll.Status().Role == RoleStandby })
	if st := ll.Status(); st.Reason != "" {
		t.Errorf("the same folder through a symlink: reason %q, want none", st.Reason)
	}
	// From another host the reason names the holder's node and folder too.
	cd := newEtcd(t, cli, "/t2/", "host-y", "db-4", etcdTTL)
	ld := joinDir(t, cd, task, b)
	testutil.WaitUntil(t, 20*time.Second, "another host names the holder's folder", func() bool {
		r := ld.Status().Reason
		return strings.Contains(r, "host-x") && strings.Contains(r, a)
	})
	if holding(lb) || holding(ll) || holding(ld) {
		t.Error("two writers for one task")
	}
}

// Stopping the etcd member that leads, mid-run, never gives two holders, and a
// holder is found again.
func TestEtcd_LeaderStopped(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 3)
	dir := t.TempDir()
	var ls []*Lease
	for _, node := range []string{"n1", "n2", "n3"} {
		// A client per host, as three hosts would have.
		ls = append(ls, joinDir(t, newEtcd(t, c.Client(), "/t3/", node, "db-"+node, etcdTTL), task, dir))
	}
	stop := overlapWatch(t, func() []*Lease { return ls })
	testutil.WaitUntil(t, 20*time.Second, "one holder", func() bool { n, _ := holderOf(ls); return n == 1 })
	leader := c.Leader()
	c.Stop(leader)
	// Through the election and after it, one holder again (not necessarily the
	// same one), for a few renewals.
	testutil.WaitUntil(t, 30*time.Second, "a new etcd leader", func() bool { return c.Leader() != leader })
	testutil.WaitUntil(t, 30*time.Second, "a holder after the failover", func() bool { n, _ := holderOf(ls); return n == 1 })
	c.Restart(leader)
	testutil.WaitUntil(t, 30*time.Second, "a holder with the member back", func() bool { n, _ := holderOf(ls); return n == 1 })
	stop()
}

// proxy forwards loopback TCP connections to an etcd member until it is cut:
// then it forwards nothing (connections stay open, bytes go nowhere), as a cut
// network cable would.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: strings.TrimPrefix(target, "http://")}
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	go p.serve()
	return p
}

func (p *proxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns = append(p.conns, in)
		cut := p.cut
		p.mu.Unlock()
		if cut {
			go io.Copy(io.Discard, in)
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, out)
		p.mu.Unlock()
		go p.pipe(out, in)
		go p.pipe(in, out)
	}
}

// pipe copies while the proxy is not cut, then swallows what comes.
func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			continue
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	p.cut = cut
	conns := p.conns
	if !cut {
		p.conns = nil
	}
	p.mu.Unlock()
	if !cut {
		// Connections that lost bytes are broken: the client dials anew.
		for _, c := range conns {
			c.Close()
		}
	}
}

// A holder cut off from etcd stops allowing writes before its lease could run
// out at the server: before the standby takes over. It shows the folder paused
// with a reason naming the endpoints and, once the network is back, finds its
// lease lapsed and becomes a standby, never a writer again.
func TestEtcd_PartitionedHolderStopsFirst(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 3)
	dir := t.TempDir()
	var proxies []*proxy
	var eps []string
	for _, ep := range c.Endpoints() {
		p := newProxy(t, ep)
		proxies = append(proxies, p)
		eps = append(eps, p.url())
	}
	ctx := context.Background()
	cut, err := DialEtcd(ctx, EtcdOptions{Endpoints: eps})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cut.Close() })
	a := joinDir(t, newEtcd(t, cut, "/t4/", "host-a", "db-a", etcdTTL), task, dir)
	testutil.WaitUntil(t, 20*time.Second, "host-a holds", func() bool { return holding(a) })
	b := joinDir(t, newEtcd(t, c.Client(), "/t4/", "host-b", "db-b", etcdTTL), task, dir)
	testutil.WaitUntil(t, 20*time.Second, "host-b is a standby", func() bool { return b.Status().Holder.Node == "host-a" })
	stop := overlapWatch(t, func() []*Lease { return []*Lease{a, b} })

	// Cut host-a off while it holds (a busy machine may have moved the lease).
	testutil.WaitUntil(t, 20*time.Second, "host-a holds, host-b is its standby", func() bool {
		return holding(a) && b.Status().Holder.Node == "host-a"
	})
	for _, p := range proxies {
		p.setCut(true)
	}
	cutAt := time.Now()
	var aStopped, bHeld time.Time
	testutil.WaitUntil(t, 30*time.Second, "host-a stops allowing writes and host-b takes over", func() bool {
		now := time.Now()
		if aStopped.IsZero() && !holding(a) {
			aStopped = now
		}
		if bHeld.IsZero() && holding(b) {
			bHeld = now
		}
		return !aStopped.IsZero() && !bHeld.IsZero()
	})
	stop()
	t.Logf("after the cut: host-a stopped writing at +%s, host-b held at +%s (lease_ttl %s)",
		aStopped.Sub(cutAt).Round(time.Millisecond), bHeld.Sub(cutAt).Round(time.Millisecond), etcdTTL)
	// In one look host-a is asked first: seen stopping in the look that sees
	// host-b hold is in order.
	if aStopped.After(bHeld) {
		t.Errorf("host-a allowed writes until %s, after host-b took over at %s", aStopped, bHeld)
	}
	testutil.WaitUntil(t, 4*etcdTTL, "host-a paused, naming the endpoints", func() bool {
		st := a.Status()
		return st.Role == RolePaused && strings.Contains(st.Reason, eps[0])
	})

	for _, p := range proxies {
		p.setCut(false)
	}
	testutil.WaitUntil(t, 30*time.Second, "host-a back as a standby of host-b", func() bool {
		st := a.Status()
		return st.Role == RoleStandby && st.Holder.Node == "host-b"
	})
	if holding(a) || a.TakeAdopt() {
		t.Error("host-a writes again after its lease lapsed")
	}
	if st := b.Status(); st.Takeovers < 1 {
		t.Errorf("takeovers = %d, want at least 1", st.Takeovers)
	}
}

// With etcd down the folder is paused with a reason naming the endpoints, and
// it is taken up when etcd comes back; Close returns at once with etcd down.
func TestEtcd_Unreachable(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 1)
	c.Stop(0)
	dir := t.TempDir()
	e, err := NewEtcd(EtcdLeaseOptions{Conn: EtcdOptions{Endpoints: c.Endpoints()}, Prefix: "/t5/", Node: "host-a", TTL: etcdTTL})
	if err != nil {
		t.Fatal(err)
	}
	l := joinDir(t, e, task, dir)
	testutil.WaitUntil(t, 20*time.Second, "paused", func() bool {
		st := l.Status()
		return st.Role == RolePaused && strings.Contains(st.Reason, c.Endpoints()[0])
	})
	if holding(l) {
		t.Fatal("writes allowed with etcd down")
	}
	c.Restart(0)
	testutil.WaitUntil(t, 30*time.Second, "holding once etcd is back", func() bool { return holding(l) })
	if !l.TakeAdopt() {
		t.Error("a new holder is not told to adopt")
	}
	c.Stop(0)
	testutil.WaitUntil(t, 4*etcdTTL, "paused again", func() bool { return l.Status().Role == RolePaused })
	done := make(chan error, 1)
	go func() { done <- e.Close(context.Background()) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs with etcd down")
	}
}
