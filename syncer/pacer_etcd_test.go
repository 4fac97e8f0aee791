package syncer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/focussync/focussync/cluster"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
	"github.com/focussync/focussync/internal/etcdtest"
	"github.com/focussync/focussync/syncer"
)

// With the organization's budget shared through etcd and etcd out of reach, a
// pass sends nothing and stops with the budget's error; once etcd is back, the
// next pass uploads the file once.
func TestEngine_SharedBudgetOutOfReachSendsNothing(t *testing.T) {
	etcd := etcdtest.Start(t, 3)
	e := newEngineEnvWith(t, focustest.Options{Quota: 100})
	shared, err := cluster.NewEtcdQuota(cluster.EtcdQuotaOptions{
		Client: etcd.Client(), Prefix: "/focussync-test/", Organization: e.folder.OrganizationID, Node: "a",
		CallTimeout: 300 * time.Millisecond, Patience: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(shared.Close)
	e.engine.Budget(e.folder.OrganizationID).Share(shared)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	e.write(t, "a.txt", "a")
	if res, err := e.engine.Sync(ctx, e.folder, syncer.PassOptions{WaitSettle: true}); err != nil || !res.Converged() {
		t.Fatalf("first sync with etcd up: %v, %+v", err, res)
	}
	sent := len(e.srv.Requests())

	etcd.Stop(0)
	etcd.Stop(1) // no quorum
	pacer := &syncer.Pacer{Budget: e.engine.Budget(e.folder.OrganizationID)}
	called := false
	out := pacer.Call(ctx, syncer.PriorityUpload, focus.EndpointList, func(context.Context) error {
		called = true
		return nil
	})
	if out.Class != syncer.ClassNotSent || !errors.Is(out.Err, cluster.ErrQuotaUnreachable) || called {
		t.Fatalf("Call with etcd out of reach: %v (%v), request made: %v; want not sent", out.Class, out.Err, called)
	}
	e.write(t, "b.txt", "b")
	_, err = e.engine.Sync(ctx, e.folder, syncer.PassOptions{WaitSettle: true})
	if !errors.Is(err, cluster.ErrQuotaUnreachable) || errors.Is(err, syncer.ErrFatal) {
		t.Fatalf("sync with etcd out of reach: %v; want an error wrapping ErrQuotaUnreachable that is not fatal", err)
	}
	if got := len(e.srv.Requests()); got != sent {
		t.Fatalf("%d requests sent with etcd out of reach; want none", got-sent)
	}

	etcd.Restart(0)
	etcd.WaitHealthy(etcd.Client())
	if res, err := e.engine.Sync(ctx, e.folder, syncer.PassOptions{WaitSettle: true}); err != nil || !res.Converged() {
		t.Fatalf("sync with etcd back: %v, %+v", err, res)
	}
	names := map[string]int{}
	for _, a := range e.srv.Attachments(3) {
		names[a.Name]++
	}
	if len(names) != 2 || names["a.txt"] != 1 || names["b.txt"] != 1 {
		t.Errorf("attachments by name = %v; want a.txt and b.txt once each", names)
	}
}
