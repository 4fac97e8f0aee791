package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/focussync/focussync/config"
)

// EtcdOptions say how to reach etcd: the etcd_* keys of [cluster].
type EtcdOptions struct {
	// Endpoints are the members' URLs (http:// or https://) or host:port.
	Endpoints []string
	// CAFile is the CA that signed the members' certificates ("" with https://:
	// the system's roots).
	CAFile string
	// CertFile and KeyFile are a client certificate and its key (both or neither).
	CertFile, KeyFile string
	// Username and PasswordFile authenticate to etcd (both or neither). The
	// password is read from the file at each dial and never logged nor put in an
	// error.
	Username, PasswordFile string
	// DialTimeout bounds connecting and authenticating; 0 means DefaultDialTimeout.
	DialTimeout time.Duration
}

// DefaultDialTimeout bounds a dial of etcd when EtcdOptions.DialTimeout is 0.
const DefaultDialTimeout = 5 * time.Second

// EtcdOptionsFor returns the etcd connection settings of c.
func EtcdOptionsFor(c config.Cluster) EtcdOptions {
	return EtcdOptions{Endpoints: c.EtcdEndpoints, CAFile: c.EtcdCAFile, CertFile: c.EtcdCertFile, KeyFile: c.EtcdKeyFile,
		Username: c.EtcdUsername, PasswordFile: c.EtcdPasswordFile}
}

// Where names the endpoints, for messages: "etcd at https://10.0.0.5:2379, ...".
func (o EtcdOptions) Where() string {
	return "etcd at " + strings.Join(o.Endpoints, ", ")
}

// DialEtcd returns a client of the etcd cluster that o names, with TLS and
// authentication as configured. One client serves a whole process: the task
// leases of the etcd coordinator (NewEtcd, whose Client method hands its client
// on) and the quota budget that the hosts share in etcd use the same one. The
// caller closes it.
//
// Without authentication the client is returned at once, whether or not a member
// answers (its calls fail until one does). With authentication, a member must
// answer within the dial timeout, since the client logs in when it connects. The
// errors name the endpoints and the files, never the password. ctx bounds the
// dial only; the client lives until it is closed.
func DialEtcd(ctx context.Context, o EtcdOptions) (*clientv3.Client, error) {
	if len(o.Endpoints) == 0 {
		return nil, errors.New("etcd: no endpoints")
	}
	timeout := o.DialTimeout
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	cfg := clientv3.Config{
		Endpoints:   o.Endpoints,
		DialTimeout: timeout,
		// The client's own log would go to stderr in another format; what matters
		// reaches our log through the errors of the calls.
		Logger: zap.NewNop(),
		// Pings on an idle connection notice a member that went away, so that
		// watches move to another member (etcd refuses pings more often than 5s).
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: timeout,
	}
	tlsCfg, err := o.tlsConfig()
	if err != nil {
		return nil, err
	}
	cfg.TLS = tlsCfg
	if o.Username != "" {
		pw, err := readPassword(o.PasswordFile)
		if err != nil {
			return nil, err
		}
		cfg.Username, cfg.Password = o.Username, pw
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		cli *clientv3.Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		cli, err := clientv3.New(cfg)
		done <- result{cli, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("%s: %w", o.Where(), r.err)
		}
		return r.cli, nil
	case <-dctx.Done():
		// Never wait past the deadline, whatever the client does meanwhile.
		go func() {
			if r := <-done; r.cli != nil {
				r.cli.Close()
			}
		}()
		return nil, fmt.Errorf("%s: no answer within %s: %w", o.Where(), timeout, dctx.Err())
	}
}

// tlsConfig is nil for plain connections.
func (o EtcdOptions) tlsConfig() (*tls.Config, error) {
	https := false
	for _, e := range o.Endpoints {
		if strings.HasPrefix(e, "https://") {
			https = true
		}
	}
	if !https && o.CAFile == "" && o.CertFile == "" && o.KeyFile == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("etcd_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("etcd_ca_file %s: no PEM certificate in it", o.CAFile)
		}
		c.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("etcd_cert_file and etcd_key_file: set both or neither")
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("etcd_cert_file %s, etcd_key_file %s: %w", o.CertFile, o.KeyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// readPassword reads the password from its file: the first line, without the
// line ending. The errors name the file, never its content.
func readPassword(name string) (string, error) {
	if name == "" {
		return "", errors.New("etcd_username needs etcd_password_file")
	}
	b, err := os.ReadFile(name)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return "", fmt.Errorf("etcd_password_file: %s: %v", name, pe.Err)
		}
		return "", fmt.Errorf("etcd_password_file %s: cannot read it", name)
	}
	if i := bytes.IndexAny(b, "\r\n"); i >= 0 {
		b = b[:i]
	}
	if len(b) == 0 {
		return "", fmt.Errorf("etcd_password_file %s: empty first line (the file holds the password alone)", name)
	}
	return string(b), nil
}
