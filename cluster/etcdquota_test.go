package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
	"github.com/focussync/focussync/internal/etcdtest"
	"github.com/focussync/focussync/internal/testutil"
	"github.com/focussync/focussync/syncer"
)

const (
	quotaToken  = "toggl_sk_quota_test"
	quotaPrefix = "/focussync-test/"
)

// quotaHost is one host of a shared-quota test: its own etcd client, API client
// (with its own view of the headers) and budget drawing from the shared one.
type quotaHost struct {
	shared *EtcdQuota
	client *focus.Client
	budget *syncer.Budget
}

func newQuotaHost(t *testing.T, etcd *etcdtest.Cluster, srv *focustest.Server, name string, opts EtcdQuotaOptions) *quotaHost {
	t.Helper()
	cli := etcd.Client()
	opts.Prefix, opts.Organization, opts.Node = quotaPrefix, task.Organization, name
	// The daemon takes the coordinator's connection through Connect: host h1 does
	// so here, the others are given their client.
	if name == "h1" {
		opts.Connect = func(context.Context) (*clientv3.Client, error) { return cli, nil }
	} else {
		opts.Client = cli
	}
	shared, err := NewEtcdQuota(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(shared.Close)
	fc, err := focus.New(focus.Options{BaseURL: srv.URL, Token: quotaToken, UserAgent: "focussync/" + name})
	if err != nil {
		t.Fatal(err)
	}
	b := syncer.NewBudget(fc.Quota(task.Organization), nil)
	b.Share(shared)
	return &quotaHost{shared: shared, client: fc, budget: b}
}

// send sends one list through the budget, as the executor does, and returns the
// request's error.
func (h *quotaHost) send(ctx context.Context, task Task) error {
	if err := h.budget.Acquire(ctx, syncer.PriorityUpload); err != nil {
		return err
	}
	defer h.budget.Release()
	_, err := h.client.List(ctx, focus.Task{OrganizationID: task.Organization, WorkspaceID: task.Workspace, TaskID: task.Task})
	return err
}

// quotaTally is what the emulator saw: requests answered, 402s, windows used.
type quotaTally struct{ ok, refused, windows int }

func tally(srv *focustest.Server) quotaTally {
	var q quotaTally
	for _, r := range srv.Requests() {
		if r.Status == 402 {
			q.refused++
		} else {
			q.ok++
		}
	}
	q.windows = srv.QuotaWindows(task.Organization)
	return q
}

// Three hosts with two senders each spend a quota of 12 per 8 s that needs
// several windows: every request is sent exactly once, and the emulator answers
// no more 402s than the windows used, even when etcd's leader stops midway.
func TestEtcdQuota_ThreeHostsShareOneQuota(t *testing.T) {
	t.Parallel()
	for _, failover := range []bool{false, true} {
		t.Run(fmt.Sprintf("leader stop %v", failover), func(t *testing.T) {
			t.Parallel()
			etcd := etcdtest.Start(t, 3)
			const quota, window = 12, 8 * time.Second
			srv := focustest.NewServer(focustest.Options{Token: quotaToken, Quota: quota, Window: window})
			t.Cleanup(srv.Close)
			const hosts, senders, each = 3, 2, 5 // 30 requests: 3 windows at least
			var hs []*quotaHost
			for i := range hosts {
				hs = append(hs, newQuotaHost(t, etcd, srv, fmt.Sprintf("h%d", i), EtcdQuotaOptions{}))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			var sent atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, hosts*senders)
			for _, h := range hs {
				for range senders {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for n := 0; n < each; {
							err := h.send(ctx, task)
							switch {
							case err == nil:
								n++
								sent.Add(1)
							case focus.KindOf(err) == focus.KindQuota:
								// Waiting is the budget's job: send the same request again.
							default:
								errs <- err
								return
							}
						}
					}()
				}
			}
			if failover {
				testutil.WaitUntil(t, 2*time.Minute, "a third of the requests", func() bool { return sent.Load() >= hosts*senders*each/3 })
				etcd.Stop(etcd.Leader())
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("a request failed: %v", err)
			}
			got := tally(srv)
			t.Logf("answered %d, 402s %d, windows %d", got.ok, got.refused, got.windows)
			if want := hosts * senders * each; got.ok != want {
				t.Errorf("requests answered = %d, want %d (each sent once)", got.ok, want)
			}
			if min := (got.ok + quota - 1) / quota; got.windows < min {
				t.Errorf("windows = %d, fewer than %d requests need at %d per window", got.windows, got.ok, quota)
			}
			if got.refused > got.windows {
				t.Errorf("402s = %d, more than the %d windows used", got.refused, got.windows)
			}
		})
	}
}

// The first request of an unknown window goes alone across all hosts, and a host
// that crashes while it holds that probe holds the others up only until the
// probe's lease lapses.
func TestEtcdQuota_ProbeOfUnknownWindow(t *testing.T) {
	t.Parallel()
	etcd := etcdtest.Start(t, 3)
	srv := focustest.NewServer(focustest.Options{Token: quotaToken, Quota: 12, Window: time.Hour})
	t.Cleanup(srv.Close)
	a := newQuotaHost(t, etcd, srv, "a", EtcdQuotaOptions{ProbeTTL: 2 * time.Second})
	b := newQuotaHost(t, etcd, srv, "b", EtcdQuotaOptions{ProbeTTL: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	probe, wait, err := a.shared.Spend(ctx, focus.QuotaState{})
	if err != nil || !probe || wait != 0 {
		t.Fatalf("first Spend = %v, %v, %v; want the probe", probe, wait, err)
	}
	if probe, wait, err := b.shared.Spend(ctx, focus.QuotaState{}); err != nil || probe || wait <= 0 {
		t.Fatalf("Spend while another host probes = %v, %v, %v; want a wait", probe, wait, err)
	}
	// Host a crashes: its claim's lease is no longer renewed, nothing is settled.
	a.shared.mu.Lock()
	a.shared.probe.stop()
	a.shared.probe = nil
	a.shared.mu.Unlock()
	start := time.Now()
	if err := b.send(ctx, task); err != nil {
		t.Fatal(err)
	}
	t.Logf("b probed %s after a's crash", time.Since(start).Round(time.Millisecond))
	// b's response seeded the window: 12 - 1 left, and a spends from it.
	if n, ok := b.shared.Left(); !ok || n != 11 {
		t.Fatalf("b: left %d, %v after seeding; want 11", n, ok)
	}
	if err := a.send(ctx, task); err != nil {
		t.Fatal(err)
	}
	if n, ok := a.shared.Left(); !ok || n != 10 {
		t.Fatalf("a: left %d, %v; want 10", n, ok)
	}
	if got := tally(srv); got.ok != 2 || got.refused != 0 {
		t.Fatalf("emulator saw %+v; want 2 answered, no 402", got)
	}
}

// Headers lower the shared count (a request spent outside the fleet) but never
// raise it within a window; a 402 on the probe of a window that is still used up
// seeds a budget of zero that lasts until the reset.
func TestEtcdQuota_HeadersLowerNeverRaise(t *testing.T) {
	t.Parallel()
	etcd := etcdtest.Start(t, 3)
	srv := focustest.NewServer(focustest.Options{Token: quotaToken, Quota: 12, Window: time.Hour})
	t.Cleanup(srv.Close)
	h := newQuotaHost(t, etcd, srv, "a", EtcdQuotaOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.send(ctx, task); err != nil {
		t.Fatal(err)
	}
	// Another tool with the same token spends 3 requests behind the fleet's back.
	other, err := focus.New(focus.Options{BaseURL: srv.URL, Token: quotaToken})
	if err != nil {
		t.Fatal(err)
	}
	ft := focus.Task{OrganizationID: task.Organization, WorkspaceID: task.Workspace, TaskID: task.Task}
	for range 3 {
		if _, err := other.List(ctx, ft); err != nil {
			t.Fatal(err)
		}
	}
	// 11 after the probe; this request spends one (10), and its headers say 12-5 = 7.
	if err := h.send(ctx, task); err != nil {
		t.Fatal(err)
	}
	if got := storedRemaining(t, h.shared); got != 7 {
		t.Fatalf("stored count after the headers said 7 = %d", got)
	}
	// A stale, larger view changes nothing.
	h.shared.Settle(false, focus.QuotaState{Known: true, Remaining: 11, ResetAt: time.Now().Add(time.Hour), Updated: time.Now()})
	if got := storedRemaining(t, h.shared); got != 7 {
		t.Fatalf("stored count after a larger header = %d, want 7 (never raised)", got)
	}

	// A window whose probe is answered by a 402: the budget is zero until the reset.
	cli := etcd.Client()
	if _, err := cli.Delete(ctx, h.shared.Key()); err != nil {
		t.Fatal(err)
	}
	probe, _, err := h.shared.Spend(ctx, focus.QuotaState{})
	if err != nil || !probe {
		t.Fatalf("Spend with no budget = %v, %v; want the probe", probe, err)
	}
	now := time.Now()
	h.shared.Settle(true, focus.QuotaState{Known: true, Remaining: 0, ResetAt: now.Add(20 * time.Second), Updated: now})
	if got := storedRemaining(t, h.shared); got != 0 {
		t.Fatalf("stored count after a 402 = %d, want 0", got)
	}
	probe, wait, err := h.shared.Spend(ctx, focus.QuotaState{})
	if err != nil || probe || wait <= 0 {
		t.Fatalf("Spend on a used-up budget = %v, %v, %v; want a wait", probe, wait, err)
	}
	resp, err := cli.Get(ctx, h.shared.Key())
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("budget key: %v, %v", resp, err)
	}
	ttl, err := cli.TimeToLive(ctx, clientv3.LeaseID(resp.Kvs[0].Lease))
	if err != nil || ttl.TTL < 15 || ttl.TTL > 22 {
		t.Fatalf("the used-up budget lasts %v s (%v); want the 20 s reset plus a margin", ttl.TTL, err)
	}
}

func storedRemaining(t *testing.T, q *EtcdQuota) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, rec, _, err := q.read(ctx)
	if err != nil || kv == nil || rec == nil {
		t.Fatalf("reading the budget: %v, %v, %v", kv, rec, err)
	}
	return rec.Remaining
}

// With etcd out of reach no request is sent: Spend asks the caller to wait, and
// fails with ErrQuotaUnreachable once the patience has run out.
func TestEtcdQuota_UnreachableSendsNothing(t *testing.T) {
	t.Parallel()
	etcd := etcdtest.Start(t, 3)
	srv := focustest.NewServer(focustest.Options{Token: quotaToken, Quota: 12, Window: time.Hour})
	t.Cleanup(srv.Close)
	h := newQuotaHost(t, etcd, srv, "a", EtcdQuotaOptions{CallTimeout: 300 * time.Millisecond, Patience: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.send(ctx, task); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		etcd.Stop(i)
	}
	err := h.send(ctx, task)
	if !errors.Is(err, ErrQuotaUnreachable) {
		t.Fatalf("send with etcd down = %v; want ErrQuotaUnreachable", err)
	}
	if got := tally(srv); got.ok != 1 {
		t.Fatalf("requests sent = %d with etcd down; want only the first", got.ok)
	}
}

// A used-up budget whose key outlives the window (etcd restarts its leases' TTLs
// when its leader changes) does not hold the hosts up for another window: a host
// whose own headers, received in that window, show the reset probes the next one,
// whose headers replace the budget.
func TestEtcdQuota_UsedUpBudgetOutlivingItsWindow(t *testing.T) {
	t.Parallel()
	etcd := etcdtest.Start(t, 3)
	srv := focustest.NewServer(focustest.Options{Token: quotaToken, Quota: 12, Window: time.Hour})
	t.Cleanup(srv.Close)
	h := newQuotaHost(t, etcd, srv, "a", EtcdQuotaOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli := etcd.Client()
	lease, err := cli.Grant(ctx, 600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, h.shared.Key(), `{"window":7,"remaining":0,"node":"b"}`, clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	probe, wait, err := h.shared.Spend(ctx, focus.QuotaState{})
	if err != nil || probe || wait <= 0 {
		t.Fatalf("Spend on a used-up budget = %v, %v, %v; want a wait", probe, wait, err)
	}
	// A 402 received now says the window resets at once.
	seen := time.Now()
	local := focus.QuotaState{Known: true, Remaining: 0, ResetAt: seen, Updated: seen}
	testutil.WaitUntil(t, 30*time.Second, "the host to probe the next window", func() bool {
		probe, _, err = h.shared.Spend(ctx, local)
		if err != nil {
			t.Fatal(err)
		}
		return probe
	})
	if time.Since(seen) < windowMargin {
		t.Errorf("probed %s after the reset, before the margin of %s", time.Since(seen), windowMargin)
	}
	now := time.Now()
	h.shared.Settle(true, focus.QuotaState{Known: true, Remaining: 11, ResetAt: now.Add(time.Hour), Updated: now})
	if got := storedRemaining(t, h.shared); got != 11 {
		t.Fatalf("budget after the probe of the next window = %d, want 11", got)
	}
	h.shared.mu.Lock()
	window := h.shared.window
	h.shared.mu.Unlock()
	if window == 7 {
		t.Fatalf("the next window kept the old window's id")
	}
}
