package config

import (
	"fmt"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Cluster is the [cluster] table: how the processes that see one folder agree on a
// single writer per task (DESIGN.md §3, rule 8).
type Cluster struct {
	// Coordinator is share (a lease record in each folder), etcd, or none (this
	// process is the only one that ever sees its folders).
	Coordinator string
	// LeaseTTL: a holder silent this long loses its tasks to a standby.
	LeaseTTL time.Duration
	// NodeName is the name other hosts see; "" means the host name.
	NodeName string

	// With Coordinator "etcd":
	EtcdEndpoints    []string // URLs (http:// or https://) or host:port
	EtcdPrefix       string   // key prefix, always ending in "/"
	EtcdCAFile       string   // absolute, or ""
	EtcdCertFile     string   // absolute, or ""; set together with EtcdKeyFile
	EtcdKeyFile      string   // absolute, or ""
	EtcdUsername     string
	EtcdPasswordFile string // absolute, or ""; read when connecting, never logged
}

// Defaults of the [cluster] table.
const (
	DefaultCoordinator = "share"
	DefaultLeaseTTL    = 30 * time.Second
	DefaultEtcdPrefix  = "/focussync/"
	// MinLeaseTTL is the shortest lease_ttl accepted; with etcd, MinEtcdLeaseTTL.
	MinLeaseTTL = time.Second
	// MinEtcdLeaseTTL is the shortest lease etcd grants with its default timing.
	MinEtcdLeaseTTL = 2 * time.Second
)

type fileCluster struct {
	Coordinator      *string   `toml:"coordinator"`
	LeaseTTL         *string   `toml:"lease_ttl"`
	NodeName         *string   `toml:"node_name"`
	EtcdEndpoints    *[]string `toml:"etcd_endpoints"`
	EtcdPrefix       *string   `toml:"etcd_prefix"`
	EtcdCAFile       *string   `toml:"etcd_ca_file"`
	EtcdCertFile     *string   `toml:"etcd_cert_file"`
	EtcdKeyFile      *string   `toml:"etcd_key_file"`
	EtcdUsername     *string   `toml:"etcd_username"`
	EtcdPasswordFile *string   `toml:"etcd_password_file"`
}

// cluster validates the [cluster] table into c.
func (v *validator) cluster(c *Cluster, raw fileCluster) {
	*c = Cluster{Coordinator: DefaultCoordinator, LeaseTTL: DefaultLeaseTTL, EtcdPrefix: DefaultEtcdPrefix}
	if s := raw.Coordinator; s != nil {
		c.Coordinator = *s
		v.oneOf("cluster.coordinator", *s, "share", "etcd", "none")
	}
	if s := raw.LeaseTTL; s != nil {
		d, err := parseDuration(*s)
		min := MinLeaseTTL
		if c.Coordinator == "etcd" {
			min = MinEtcdLeaseTTL
		}
		switch {
		case err != nil:
			v.failKey("cluster.lease_ttl", "%v (got %q)", err, *s)
		case d < min:
			v.failKey("cluster.lease_ttl", "must be at least %s with coordinator = %q (got %q)", min, c.Coordinator, *s)
		default:
			c.LeaseTTL = d
			if c.Coordinator == "etcd" && d%time.Second != 0 {
				v.warnKey("cluster.lease_ttl", "etcd counts leases in whole seconds: %s is used as %s", d, d.Truncate(time.Second)+time.Second)
			}
		}
	}
	if s := raw.NodeName; s != nil {
		c.NodeName = *s
		if len(*s) > 64 || strings.IndexFunc(*s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
			v.failKey("cluster.node_name", "must be at most 64 printable characters (got %q)", *s)
		}
	}

	etcdKeys := []string{}
	note := func(key string, set bool) bool {
		if set {
			etcdKeys = append(etcdKeys, key)
		}
		return set
	}
	if note("etcd_endpoints", raw.EtcdEndpoints != nil) {
		c.EtcdEndpoints = slices.Clone(*raw.EtcdEndpoints)
		for _, e := range c.EtcdEndpoints {
			if err := checkEndpoint(e); err != nil {
				v.failKey("cluster.etcd_endpoints", "%v", err)
			}
		}
	}
	if note("etcd_prefix", raw.EtcdPrefix != nil) {
		c.EtcdPrefix = *raw.EtcdPrefix
		if c.EtcdPrefix == "" {
			v.failKey("cluster.etcd_prefix", "is empty: remove the key for the default (%q) or name a prefix", DefaultEtcdPrefix)
		} else if !strings.HasSuffix(c.EtcdPrefix, "/") {
			c.EtcdPrefix += "/"
		}
	}
	for _, f := range []struct {
		key string
		raw *string
		dst *string
	}{
		{"etcd_ca_file", raw.EtcdCAFile, &c.EtcdCAFile},
		{"etcd_cert_file", raw.EtcdCertFile, &c.EtcdCertFile},
		{"etcd_key_file", raw.EtcdKeyFile, &c.EtcdKeyFile},
		{"etcd_password_file", raw.EtcdPasswordFile, &c.EtcdPasswordFile},
	} {
		if !note(f.key, f.raw != nil) {
			continue
		}
		if *f.raw == "" {
			v.failKey("cluster."+f.key, "is empty: remove the key or name the file")
			continue
		}
		*f.dst = v.abs(*f.raw)
		if c.Coordinator != "etcd" {
			continue
		}
		if err := checkReadableFile(*f.dst); err != nil {
			v.failKey("cluster."+f.key, "%v", err)
		}
	}
	if note("etcd_username", raw.EtcdUsername != nil) {
		c.EtcdUsername = *raw.EtcdUsername
	}

	if c.Coordinator != "etcd" {
		if len(etcdKeys) > 0 {
			v.warnings = append(v.warnings, (&Error{File: v.file, Line: v.idx.line("cluster." + etcdKeys[0]), Key: "cluster." + etcdKeys[0],
				Msg: fmt.Sprintf("ignored: etcd keys apply only with coordinator = \"etcd\" (coordinator is %q)", c.Coordinator)}).Error())
		}
		return
	}
	if len(c.EtcdEndpoints) == 0 {
		v.fail("cluster.etcd_endpoints", v.idx.line("cluster.coordinator"), "is required with coordinator = \"etcd\": the etcd members' URLs")
	}
	// A key that needs its partner is reported on the line of the one that is set.
	if c.EtcdCertFile != "" && c.EtcdKeyFile == "" {
		v.failKey("cluster.etcd_cert_file", "needs etcd_key_file: set both or neither")
	}
	if c.EtcdKeyFile != "" && c.EtcdCertFile == "" {
		v.failKey("cluster.etcd_key_file", "needs etcd_cert_file: set both or neither")
	}
	if c.EtcdUsername != "" && c.EtcdPasswordFile == "" {
		v.failKey("cluster.etcd_username", "needs etcd_password_file (the password is read from a file, never from this one)")
	}
	if c.EtcdPasswordFile != "" && c.EtcdUsername == "" {
		v.failKey("cluster.etcd_password_file", "needs etcd_username: set both or neither")
	}
	if c.EtcdPasswordFile != "" && runtime.GOOS != "windows" {
		if st, err := os.Stat(c.EtcdPasswordFile); err == nil && st.Mode().Perm()&0o077 != 0 {
			v.warnKey("cluster.etcd_password_file", "%s is readable by others (mode %04o): run chmod 600 %s", c.EtcdPasswordFile, st.Mode().Perm(), c.EtcdPasswordFile)
		}
	}
	// The client speaks one way to every member: TLS or not.
	schemes := map[string]bool{}
	for _, e := range c.EtcdEndpoints {
		scheme, _, ok := strings.Cut(e, "://")
		if !ok {
			scheme = ""
		}
		schemes[scheme] = true
	}
	if schemes["http"] && (schemes["https"] || c.EtcdCAFile != "" || c.EtcdCertFile != "") {
		v.failKey("cluster.etcd_endpoints", "mixes http:// (no TLS) with TLS (https:// endpoints or etcd_ca_file/etcd_cert_file): use https:// for every member")
	}
}

// warnKey records a warning on the line of key.
func (v *validator) warnKey(key, format string, args ...any) {
	v.warn(key, v.idx.line(key), format, args...)
}

// checkEndpoint checks an etcd endpoint: an http or https URL with a host, or host:port.
func checkEndpoint(e string) error {
	if strings.Contains(e, "://") {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("endpoint %q must be an http:// or https:// URL with a host, or host:port", e)
		}
		return nil
	}
	if err := checkListen(e); err != nil || strings.HasPrefix(e, ":") {
		return fmt.Errorf("endpoint %q must be an http:// or https:// URL with a host, or host:port", e)
	}
	return nil
}

// checkReadableFile checks that p is a regular file this process can read.
func checkReadableFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", p)
	}
	return nil
}
