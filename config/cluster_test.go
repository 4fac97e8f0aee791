package config

import (
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParse_ClusterDefaults(t *testing.T) {
	c, _ := mustParse(t, head+folder1)
	want := Cluster{Coordinator: "share", LeaseTTL: 30 * time.Second, EtcdPrefix: "/focussync/"}
	if !reflect.DeepEqual(c.Cluster, want) {
		t.Errorf("Cluster = %+v, want %+v", c.Cluster, want)
	}
}

// coordinator = "etcd" with TLS and a login is accepted: files resolved
// against the config's directory, the prefix ending in "/"; a password file that
// others can read is warned about.
func TestParse_ClusterEtcd(t *testing.T) {
	c, dir := mustParse(t, "[cluster]\ncoordinator = \"etcd\"\nlease_ttl = \"10s\"\n"+
		"etcd_endpoints = [\"https://10.0.0.5:2379\", \"https://10.0.0.6:2379\"]\netcd_prefix = \"/fleet\"\n"+
		"etcd_ca_file = \"file\"\netcd_cert_file = \"file\"\netcd_key_file = \"file\"\n"+
		"etcd_username = \"focussync\"\netcd_password_file = \"file\"\n"+head+folder1)
	f := filepath.Join(dir, "file")
	want := Cluster{Coordinator: "etcd", LeaseTTL: 10 * time.Second, EtcdEndpoints: []string{"https://10.0.0.5:2379", "https://10.0.0.6:2379"},
		EtcdPrefix: "/fleet/", EtcdCAFile: f, EtcdCertFile: f, EtcdKeyFile: f, EtcdUsername: "focussync", EtcdPasswordFile: f}
	if !reflect.DeepEqual(c.Cluster, want) {
		t.Errorf("Cluster = %+v, want %+v", c.Cluster, want)
	}
	if runtime.GOOS != "windows" && (len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "cluster.etcd_password_file: "+f+" is readable by others (mode 0644)")) {
		t.Errorf("warnings = %q, want one about the password file's mode", c.Warnings)
	}
}

func TestParse_ClusterEtcdErrors(t *testing.T) {
	const etcd = "[cluster]\ncoordinator = \"etcd\"\n"
	const eps = "etcd_endpoints = [\"http://127.0.0.1:2379\"]\n"
	for _, tc := range []struct {
		name, body, want string
	}{
		{"no endpoints", etcd, `config.toml:2: cluster.etcd_endpoints: is required with coordinator = "etcd"`},
		{"lease_ttl", etcd + eps + "lease_ttl = \"1s\"\n", `config.toml:4: cluster.lease_ttl: must be at least 2s with coordinator = "etcd" (got "1s")`},
		{"cert without key", etcd + "etcd_endpoints = [\"https://e:2379\"]\netcd_cert_file = \"file\"\n", `config.toml:4: cluster.etcd_cert_file: needs etcd_key_file`},
		{"user without password", etcd + eps + "etcd_username = \"u\"\n", `config.toml:4: cluster.etcd_username: needs etcd_password_file`},
		{"password file missing", etcd + eps + "etcd_username = \"u\"\netcd_password_file = \"missing\"\n", `config.toml:5: cluster.etcd_password_file: open `},
		{"mixed schemes", etcd + "etcd_endpoints = [\"http://a:2379\", \"https://b:2379\"]\n", `config.toml:3: cluster.etcd_endpoints: mixes http:// (no TLS) with TLS`},
		{"http with a CA", etcd + eps + "etcd_ca_file = \"file\"\n", `config.toml:3: cluster.etcd_endpoints: mixes http://`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parse(t, tc.body+head+folder1)
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if n := len(flatten(err)); n != 1 {
				t.Errorf("got %d errors, want 1:\n%v", n, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// A lease_ttl that is not whole seconds is rounded up for etcd, with a warning.
func TestParse_ClusterEtcdTTLRounded(t *testing.T) {
	c, _ := mustParse(t, "[cluster]\ncoordinator = \"etcd\"\nlease_ttl = \"2500ms\"\netcd_endpoints = [\"127.0.0.1:2379\"]\n"+head+folder1)
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "config.toml:3: cluster.lease_ttl: etcd counts leases in whole seconds: 2.5s is used as 3s") {
		t.Errorf("warnings = %q", c.Warnings)
	}
}

func TestParse_ClusterErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"coordinator", "[cluster]\ncoordinator = \"zookeeper\"\n", `config.toml:2: cluster.coordinator: must be one of share, etcd, none (got "zookeeper")`},
		{"lease_ttl words", "[cluster]\nlease_ttl = \"long\"\n", `config.toml:2: cluster.lease_ttl: `},
		{"lease_ttl too short", "[cluster]\nlease_ttl = \"500ms\"\n", `config.toml:2: cluster.lease_ttl: must be at least 1s with coordinator = "share" (got "500ms")`},
		{"etcd bad endpoint", "[cluster]\netcd_endpoints = [\"ftp://x:1\"]\n", `config.toml:2: cluster.etcd_endpoints: endpoint "ftp://x:1" must be`},
		{"etcd prefix empty", "[cluster]\netcd_prefix = \"\"\n", `config.toml:2: cluster.etcd_prefix: is empty`},
		{"node_name control", "[cluster]\nnode_name = \"a\\nb\"\n", `config.toml:2: cluster.node_name: must be at most 64 printable characters`},
		{"unknown key", "[cluster]\netcd_password = \"secret\"\n", `config.toml:2:1: cluster.etcd_password: unknown key`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parse(t, tc.body+head+folder1)
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if n := len(flatten(err)); n != 1 {
				t.Errorf("got %d errors, want 1:\n%v", n, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%v\nwant it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error repeats a secret value: %v", err)
			}
		})
	}
}

func TestParse_ClusterEtcdKeysWithoutEtcdWarn(t *testing.T) {
	c, _ := mustParse(t, "[cluster]\netcd_endpoints = [\"10.0.0.5:2379\"]\n"+head+folder1)
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], `config.toml:2: cluster.etcd_endpoints: ignored: etcd keys apply only with coordinator = "etcd"`) {
		t.Errorf("warnings = %q", c.Warnings)
	}
}
