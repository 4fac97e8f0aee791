package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/focussync/focussync/cluster"
	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/syncer"
)

// shareQuota makes the engine's quota budgets draw every request from one budget
// per organization in etcd when coord is the etcd coordinator, through its
// connection: hosts that share a token and an organization then stay within the
// plan together. With the share coordinator or none, each host follows the quota
// headers of its own responses.
func shareQuota(eng *syncer.Engine, coord cluster.Coordinator, c config.Cluster, log *slog.Logger) {
	e, ok := coord.(*cluster.Etcd)
	if !ok {
		eng.ShareQuota(nil)
		return
	}
	eng.ShareQuota(etcdBudgets(cluster.EtcdQuotaOptions{Connect: e.Client, Prefix: c.EtcdPrefix, Node: e.Node(), Log: log}))
}

// shareQuotaOnce is shareQuota for a process without a coordinator (sync): with
// coordinator = "etcd" it dials etcd itself. The returned function closes the
// connection.
func shareQuotaOnce(ctx context.Context, eng *syncer.Engine, c config.Cluster, log *slog.Logger) (func(), error) {
	if c.Coordinator != "etcd" {
		return func() {}, nil
	}
	opt := cluster.EtcdOptionsFor(c)
	cli, err := cluster.DialEtcd(ctx, opt)
	if err != nil {
		return nil, fmt.Errorf("the quota budget shared in etcd: %w", err)
	}
	node := c.NodeName
	if node == "" {
		node, _ = os.Hostname()
	}
	eng.ShareQuota(etcdBudgets(cluster.EtcdQuotaOptions{Client: cli, Prefix: c.EtcdPrefix, Node: node, Log: log}))
	return func() { cli.Close() }, nil
}

// etcdBudgets returns the shared budget of each organization, kept in etcd as o
// says.
func etcdBudgets(o cluster.EtcdQuotaOptions) func(org int64) syncer.SharedQuota {
	return func(org int64) syncer.SharedQuota {
		o.Organization = org
		q, err := cluster.NewEtcdQuota(o)
		if err != nil {
			// Only an organization id that config refuses gets here.
			panic("bug: " + err.Error())
		}
		o.Log.Info("the quota is shared with the other hosts through etcd", "organization", org, "key", q.Key())
		return q
	}
}
