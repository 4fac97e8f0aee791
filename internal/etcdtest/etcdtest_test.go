package etcdtest

import (
	"context"
	"testing"
	"time"
)

// A write made before the leader stops is read back after a new leader is elected,
// and the cluster takes writes again; the stopped member catches up on restart.
func TestCluster_LeaderStopAndRestart(t *testing.T) {
	c := Start(t, 3)
	cli := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "k", "before"); err != nil {
		t.Fatal(err)
	}
	old := c.Leader()
	c.Stop(old)
	if now := c.Leader(); now == old {
		t.Fatalf("leader still member %d after it stopped", old)
	}
	c.WaitHealthy(cli)
	if _, err := cli.Put(ctx, "k2", "after"); err != nil {
		t.Fatal(err)
	}
	got, err := cli.Get(ctx, "k")
	if err != nil || len(got.Kvs) != 1 || string(got.Kvs[0].Value) != "before" {
		t.Fatalf("k after failover = %v, %v; want before", got, err)
	}
	c.Restart(old)
	c.WaitHealthy(cli)
}
