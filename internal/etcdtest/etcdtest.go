// Package etcdtest runs a real etcd cluster inside a test process, on loopback,
// for the tests of what focussync keeps in etcd (leases and the shared quota).
// Each member is a go.etcd.io/etcd/server/v3/embed server with its own data
// directory under the test's temporary directory; members can be stopped and
// started again to show what a failover does.
package etcdtest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Cluster is a running etcd cluster of one or more members.
type Cluster struct {
	t       testing.TB
	mu      sync.Mutex
	members []*member

	user, password string   // set by EnableAuth
	tls            TLSFiles // set by StartTLS
}

type member struct {
	name   string
	dir    string
	client url.URL
	peer   url.URL
	etcd   *embed.Etcd // nil while stopped
}

// startTimeout bounds how long a member (or the whole cluster) may take to be ready.
const startTimeout = 60 * time.Second

// Start starts an n-member cluster and stops it when the test ends. It fails the
// test when the cluster is not serving within a minute.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	return start(t, n, false)
}

// StartTLS starts an n-member cluster that serves its clients over TLS only and
// asks them for a certificate signed by its CA; TLS returns the files.
func StartTLS(t testing.TB, n int) *Cluster {
	t.Helper()
	return start(t, n, true)
}

// TLS returns the certificate files of a cluster started with StartTLS.
func (c *Cluster) TLS() TLSFiles { return c.tls }

func start(t testing.TB, n int, useTLS bool) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	base := t.TempDir()
	if useTLS {
		c.tls = newTLSFiles(t, base)
	}
	var initial []string
	for i := range n {
		m := &member{name: fmt.Sprintf("m%d", i), dir: filepath.Join(base, fmt.Sprintf("m%d", i))}
		m.client, m.peer = freeURL(t), freeURL(t)
		if useTLS {
			m.client.Scheme = "https"
		}
		initial = append(initial, m.name+"="+m.peer.String())
		c.members = append(c.members, m)
	}
	t.Cleanup(c.close)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, m := range c.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.start(m, strings.Join(initial, ","), embed.ClusterStateFlagNew)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("etcdtest: %v", err)
		}
	}
	c.waitLeader()
	return c
}

func freeURL(t testing.TB) url.URL {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	defer l.Close()
	return url.URL{Scheme: "http", Host: l.Addr().String()}
}

func (c *Cluster) start(m *member, initial, state string) error {
	cfg := embed.NewConfig()
	cfg.Name = m.name
	cfg.Dir = m.dir
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{m.client}, []url.URL{m.client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{m.peer}, []url.URL{m.peer}
	cfg.InitialCluster = initial
	cfg.InitialClusterToken = "focussync-test"
	cfg.ClusterState = state
	if c.tls.CA != "" {
		cfg.ClientTLSInfo = transport.TLSInfo{CertFile: c.tls.ServerCert, KeyFile: c.tls.Server, TrustedCAFile: c.tls.CA, ClientCertAuth: true}
	}
	// Timing with room for a busy 2-core machine running the race detector.
	cfg.TickMs, cfg.ElectionMs = 50, 1000
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{filepath.Join(filepath.Dir(m.dir), m.name+".log")}
	cfg.UnsafeNoFsync = true
	// The cheapest password hashing: each login hashes the password, and the
	// default cost takes seconds on a busy machine under the race detector.
	cfg.BcryptCost = 4
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("member %s: %w", m.name, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return fmt.Errorf("member %s: %w", m.name, err)
	case <-time.After(startTimeout):
		e.Close()
		return fmt.Errorf("member %s: not ready after %s", m.name, startTimeout)
	}
	c.mu.Lock()
	m.etcd = e
	c.mu.Unlock()
	return nil
}

func (c *Cluster) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.members {
		if m.etcd != nil {
			m.etcd.Close()
			m.etcd = nil
		}
	}
}

// Endpoints returns the client URLs of every member, running or not, as a
// client's configuration would list them.
func (c *Cluster) Endpoints() []string {
	var eps []string
	for _, m := range c.members {
		eps = append(eps, m.client.String())
	}
	return eps
}

// Client returns a client of the cluster, closed when the test ends.
func (c *Cluster) Client() *clientv3.Client {
	c.t.Helper()
	c.mu.Lock()
	cfg := clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second, Username: c.user, Password: c.password, Logger: zap.NewNop()}
	c.mu.Unlock()
	if c.tls.CA != "" {
		tc, err := transport.TLSInfo{CertFile: c.tls.ClientCert, KeyFile: c.tls.Client, TrustedCAFile: c.tls.CA}.ClientConfig()
		if err != nil {
			c.t.Fatalf("etcdtest: client TLS: %v", err)
		}
		cfg.TLS = tc
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		c.t.Fatalf("etcdtest: client: %v", err)
	}
	c.t.Cleanup(func() { cli.Close() })
	return cli
}

// Leader returns the index of the member that is the leader now, waiting for an
// election if there is none.
func (c *Cluster) Leader() int {
	c.t.Helper()
	return c.waitLeader()
}

func (c *Cluster) waitLeader() int {
	c.t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		c.mu.Lock()
		for i, m := range c.members {
			if m.etcd != nil && m.etcd.Server.Leader() == m.etcd.Server.MemberID() {
				c.mu.Unlock()
				return i
			}
		}
		c.mu.Unlock()
		if time.Now().After(deadline) {
			c.t.Fatalf("etcdtest: no leader after %s", startTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops member i, as a crash of its host would; its data stays.
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	e := c.members[i].etcd
	c.members[i].etcd = nil
	c.mu.Unlock()
	if e != nil {
		e.Close()
	}
}

// Restart starts member i again over its data and waits until it serves.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	var initial []string
	for _, m := range c.members {
		initial = append(initial, m.name+"="+m.peer.String())
	}
	if err := c.start(c.members[i], strings.Join(initial, ","), embed.ClusterStateFlagExisting); err != nil {
		c.t.Fatalf("etcdtest: %v", err)
	}
}

// WaitHealthy waits until a quorum answers a linearizable read, or fails the test.
func (c *Cluster) WaitHealthy(cli *clientv3.Client) {
	c.t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := cli.Get(ctx, "health")
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("etcdtest: cluster not healthy after %s: %v", startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// EnableAuth turns on authentication: it creates the user root with password
// (with the root role, which may do anything) and enables auth. Clients must
// then log in; c.Client logs in as root.
func (c *Cluster) EnableAuth(password string) {
	c.t.Helper()
	cli := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cli.UserAdd(ctx, "root", password); err != nil {
		c.t.Fatalf("etcdtest: add user root: %v", err)
	}
	if _, err := cli.UserGrantRole(ctx, "root", "root"); err != nil {
		c.t.Fatalf("etcdtest: grant role root: %v", err)
	}
	if _, err := cli.AuthEnable(ctx); err != nil {
		c.t.Fatalf("etcdtest: enable auth: %v", err)
	}
	c.mu.Lock()
	c.user, c.password = "root", password
	c.mu.Unlock()
}
