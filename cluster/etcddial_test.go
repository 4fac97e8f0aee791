package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/focussync/focussync/internal/etcdtest"
	"github.com/focussync/focussync/internal/testutil"
)

// DialEtcd logs in with the password from its file; a wrong password, a missing
// or empty password file fail with errors that name the file or the endpoints and
// never carry the password.
func TestDialEtcd_Auth(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 1)
	const secret = "s3cret-Pa55"
	c.EnableAuth(secret)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "etcd-password")
	if err := os.WriteFile(pwFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opt := EtcdOptions{Endpoints: c.Endpoints(), Username: "root", PasswordFile: pwFile}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli, err := DialEtcd(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "/focussync/probe", "x"); err != nil {
		t.Fatalf("put as root: %v", err)
	}
	cli.Close()

	wrong := filepath.Join(dir, "wrong")
	if err := os.WriteFile(wrong, []byte("not-"+secret), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file, want string
	}{
		{"wrong password", wrong, "etcd at " + c.Endpoints()[0]},
		{"missing file", filepath.Join(dir, "missing"), "etcd_password_file: " + filepath.Join(dir, "missing")},
		{"empty file", empty, "etcd_password_file " + empty + ": empty"},
	} {
		o := opt
		o.PasswordFile = tc.file
		cli, err := DialEtcd(ctx, o)
		if err == nil {
			cli.Close()
			t.Errorf("%s: dial succeeded", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), secret) {
			t.Errorf("%s: err = %v, want it to contain %q and no password", tc.name, err, tc.want)
		}
	}

	// Without authentication the server refuses the client's requests.
	cli, err = DialEtcd(ctx, EtcdOptions{Endpoints: c.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Put(ctx, "/focussync/probe", "y"); err == nil {
		t.Error("a put without logging in succeeded")
	}
}

// DialEtcd returns a client without waiting for etcd when no login is needed,
// and within its timeout when one is, whether or not a member answers.
func TestDialEtcd_Unreachable(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 1)
	eps := c.Endpoints()
	c.Stop(0)
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cli, err := DialEtcd(ctx, EtcdOptions{Endpoints: eps, DialTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatalf("dial without login: %v", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = cli.Get(cctx, "k")
	cancel()
	if err == nil {
		t.Error("a get from a stopped cluster succeeded")
	}
	cli.Close()
	_, err = DialEtcd(ctx, EtcdOptions{Endpoints: eps, Username: "root", PasswordFile: pw, DialTimeout: 500 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "etcd at "+eps[0]) {
		t.Errorf("dial with login to a stopped cluster: err = %v, want one naming the endpoint", err)
	}
}

// Against a cluster that serves TLS only and wants client certificates, with
// auth on: the coordinator connects with the CA, the client certificate and the
// login from files and holds a lease; without the client certificate, or
// trusting another CA, nothing connects.
func TestEtcd_TLSAndAuth(t *testing.T) {
	t.Parallel()
	c := etcdtest.StartTLS(t, 1)
	const secret = "tls-Pa55word"
	c.EnableAuth(secret)
	files := c.TLS()
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.Endpoints()[0], "https://") {
		t.Fatalf("endpoints %v, want https://", c.Endpoints())
	}
	opt := EtcdOptions{Endpoints: c.Endpoints(), CAFile: files.CA, CertFile: files.ClientCert, KeyFile: files.Client,
		Username: "root", PasswordFile: pw, DialTimeout: 5 * time.Second}
	e, err := NewEtcd(EtcdLeaseOptions{Conn: opt, Prefix: "/tls/", Node: "host-tls", TTL: etcdTTL})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	l := joinDir(t, e, task, t.TempDir())
	testutil.WaitUntil(t, 30*time.Second, "holding over TLS with a login", func() bool { return holding(l) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := c.Client().Get(ctx, "/tls/lease/11/22/101")
	if err != nil || len(got.Kvs) != 1 {
		t.Fatalf("lease key over TLS: %v, %v", got, err)
	}

	for _, tc := range []struct {
		name string
		mod  func(*EtcdOptions)
	}{
		{"no client certificate", func(o *EtcdOptions) { o.CertFile, o.KeyFile = "", "" }},
		{"another CA", func(o *EtcdOptions) { o.CAFile = files.OtherCA }},
	} {
		o := opt
		tc.mod(&o)
		o.DialTimeout = time.Second
		cli, err := DialEtcd(ctx, o)
		if err == nil {
			cli.Close()
			t.Errorf("%s: connected", tc.name)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error carries the password: %v", tc.name, err)
		}
	}
}
