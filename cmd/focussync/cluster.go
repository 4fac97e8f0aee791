package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/focussync/focussync/cluster"
	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/daemon"
	"github.com/focussync/focussync/state"
)

// newCoordinator builds the coordinator that [cluster] names: nil for "none".
//
// The process's instance id is instanceID, which the API client also sends in its
// User-Agent, so that the writes of each process can be told apart.
//
// With "etcd" the coordinator is a *cluster.Etcd, which dials etcd in the
// background (an etcd that is down pauses the folders rather than stopping the
// daemon); its Client method hands its connection on to the other uses of etcd in
// the process, so that one client serves them all.
func newCoordinator(c config.Cluster, store *state.Store, log *slog.Logger) (cluster.Coordinator, error) {
	if c.Coordinator == "none" {
		return nil, nil
	}
	id, err := store.ID()
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	switch c.Coordinator {
	case "share":
		s, err := cluster.NewShare(cluster.ShareOptions{Node: c.NodeName, Instance: instanceID, Writer: id, TTL: c.LeaseTTL, Log: log})
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		log.Info("one writer per task: leases kept in each folder", "coordinator", "share", "node", s.Node(), "instance", s.Instance(), "lease_ttl", c.LeaseTTL.String())
		return s, nil
	case "etcd":
		conn := cluster.EtcdOptionsFor(c)
		e, err := cluster.NewEtcd(cluster.EtcdLeaseOptions{Conn: conn, Prefix: c.EtcdPrefix, Node: c.NodeName, Instance: instanceID,
			Writer: id, TTL: c.LeaseTTL, Log: log})
		if err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
		log.Info("one writer per task: leases kept in etcd", "coordinator", "etcd", "endpoints", strings.Join(conn.Endpoints, ","),
			"prefix", c.EtcdPrefix, "tls", conn.CAFile != "" || conn.CertFile != "" || strings.HasPrefix(conn.Endpoints[0], "https://"),
			"user", c.EtcdUsername, "node", e.Node(), "instance", e.Instance(), "lease_ttl", c.LeaseTTL.String())
		return e, nil
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
	shareQuota(rt.engine, coord, cur, rt.log)
	rt.log.Info("[cluster] reloaded", "coordinator", cur.Coordinator, "lease_ttl", cur.LeaseTTL.String())
	return true
}

// leaseNote is the status line of a folder's lease: its role, the holder, the
// lease's age and the takeovers so far, and a standby's reason (a conflict); ""
// without a coordinator.
func leaseNote(l *daemon.LeaseStatus) string {
	if l == nil {
		return ""
	}
	s := "lease: " + l.Text
	if l.Role == "holder" || l.Role == "standby" && l.Holder != "" {
		s += fmt.Sprintf(" (held for %s", roughDuration(time.Duration(l.AgeSeconds*float64(time.Second))))
		s += fmt.Sprintf(", takeovers %d)", l.Takeovers)
	}
	if l.Reason != "" && l.Role != "paused" {
		// A standby's reason: a conflict (two folders mapped to one task), or why
		// it does not contend (an empty folder). A paused lease's Text has it.
		s += "; " + l.Reason
	}
	return s
}

// clusterSummary describes [cluster] for check: the coordinator and how it is
// reached (never the password).
func clusterSummary(c config.Cluster) string {
	switch c.Coordinator {
	case "none":
		return "none (no lease: no other process may see these folders)"
	case "etcd":
		s := fmt.Sprintf("etcd at %s, prefix %s, lease_ttl %s", strings.Join(c.EtcdEndpoints, ", "), c.EtcdPrefix, shortDuration(c.LeaseTTL))
		if c.EtcdCAFile != "" {
			s += ", CA " + c.EtcdCAFile
		}
		if c.EtcdCertFile != "" {
			s += ", client certificate " + c.EtcdCertFile
		}
		if c.EtcdUsername != "" {
			s += fmt.Sprintf(", user %s (password from %s)", c.EtcdUsername, c.EtcdPasswordFile)
		}
		return s
	default:
		return fmt.Sprintf("%s (a lease record in each folder), lease_ttl %s", c.Coordinator, shortDuration(c.LeaseTTL))
	}
}

// checkEtcd connects to etcd, with coordinator = "etcd", and counts the task
// leases held under the prefix: it proves the endpoints, TLS and login.
func checkEtcd(ctx context.Context, w io.Writer, c config.Cluster) error {
	if c.Coordinator != "etcd" {
		return nil
	}
	opt := cluster.EtcdOptionsFor(c)
	fmt.Fprintf(w, "Online check of %s:\n", opt.Where())
	cctx, cancel := context.WithTimeout(ctx, onlineTimeout)
	defer cancel()
	cli, err := cluster.DialEtcd(cctx, opt)
	if err == nil {
		defer cli.Close()
		var resp *clientv3.GetResponse
		resp, err = cli.Get(cctx, c.EtcdPrefix+"lease/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err == nil {
			fmt.Fprintf(w, "  connected; %d task leases held under %s\n", resp.Count, c.EtcdPrefix)
			return nil
		}
	}
	fmt.Fprintf(w, "  FAILED: %v\n", err)
	return exitError{1, fmt.Errorf("cannot use %s: %w", opt.Where(), err)}
}
