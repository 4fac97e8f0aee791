package main

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/focussync/focussync/cluster"
	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/daemon"
	"github.com/focussync/focussync/state"
)

// newCoordinator builds the coordinator that [cluster] names: nil for "none".
//
// The process's instance id is instanceID, which the API client also sends in its
// User-Agent, so that the writes of each process can be told apart.
func newCoordinator(c config.Cluster, store *state.Store, log *slog.Logger) (cluster.Coordinator, error) {
	switch c.Coordinator {
	case "none":
		return nil, nil
	case "share":
		id, err := store.ID()
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		s, err := cluster.NewShare(cluster.ShareOptions{Node: c.NodeName, Instance: instanceID, Writer: id, TTL: c.LeaseTTL, Log: log})
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		log.Info("one writer per task: leases kept in each folder", "coordinator", "share", "node", s.Node(), "instance", s.Instance(), "lease_ttl", c.LeaseTTL.String())
		return s, nil
	default:
		return nil, fmt.Errorf("cluster.coordinator: %q is not supported by this build", c.Coordinator)
	}
}

// instanceID is this process's random id as a contender for task leases.
var instanceID = cluster.NewInstanceID()

// releaseTimeout bounds how long a stopping daemon tries to release its leases.
const releaseTimeout = 5 * time.Second

// reloadCluster applies a changed [cluster] table to a running daemon: the old
// coordinator's leases are released and every folder contends anew. It reports
// whether the coordinator changed.
func reloadCluster(rt *daemonEnv, gate *cluster.Gate, old, cur config.Cluster) bool {
	if reflect.DeepEqual(old, cur) {
		return false
	}
	coord, err := newCoordinator(cur, rt.store, rt.log)
	if err != nil {
		rt.log.Error("[cluster] change refused; the running coordinator stays in force", "err", err)
		rt.cfg.Cluster = old
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	if err := gate.SetCoordinator(ctx, coord); err != nil {
		rt.log.Warn("releasing the old coordinator's leases", "err", err)
	}
	rt.log.Info("[cluster] reloaded", "coordinator", cur.Coordinator, "lease_ttl", cur.LeaseTTL.String())
	return true
}

// leaseNote is the status line of a folder's lease: its role, the holder, the
// lease's age and the takeovers so far; "" without a coordinator.
func leaseNote(l *daemon.LeaseStatus) string {
	if l == nil {
		return ""
	}
	s := "lease: " + l.Text
	if l.Role == "holder" || l.Role == "standby" && l.Holder != "" {
		s += fmt.Sprintf(" (held for %s", roughDuration(time.Duration(l.AgeSeconds*float64(time.Second))))
		s += fmt.Sprintf(", takeovers %d)", l.Takeovers)
	}
	return s
}
