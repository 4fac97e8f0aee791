package config

import (
	"os"
	"path/filepath"
	"reflect"
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

func TestParse_ClusterEtcd(t *testing.T) {
	dir := testDir(t)
	for _, f := range []string{"ca.pem", "cert.pem", "key.pem", "etcd.pass"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	body := `[cluster]
coordinator = "etcd"
lease_ttl = "10s"
node_name = "ws-12"
etcd_endpoints = ["https://10.0.0.5:2379", "10.0.0.6:2379"]
etcd_prefix = "/acme"
etcd_ca_file = "ca.pem"
etcd_cert_file = "cert.pem"
etcd_key_file = "key.pem"
etcd_username = "focussync"
etcd_password_file = "etcd.pass"
` + head + folder1
	c, err := Parse([]byte(body), filepath.Join(dir, "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	want := Cluster{Coordinator: "etcd", LeaseTTL: 10 * time.Second, NodeName: "ws-12",
		EtcdEndpoints: []string{"https://10.0.0.5:2379", "10.0.0.6:2379"}, EtcdPrefix: "/acme/",
		EtcdCAFile: filepath.Join(dir, "ca.pem"), EtcdCertFile: filepath.Join(dir, "cert.pem"), EtcdKeyFile: filepath.Join(dir, "key.pem"),
		EtcdUsername: "focussync", EtcdPasswordFile: filepath.Join(dir, "etcd.pass")}
	if !reflect.DeepEqual(c.Cluster, want) {
		t.Errorf("Cluster =\n%+v\nwant\n%+v", c.Cluster, want)
	}
}

func TestParse_ClusterErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"coordinator", "[cluster]\ncoordinator = \"zookeeper\"\n", `config.toml:2: cluster.coordinator: must be one of share, etcd, none (got "zookeeper")`},
		{"lease_ttl words", "[cluster]\nlease_ttl = \"long\"\n", `config.toml:2: cluster.lease_ttl: `},
		{"lease_ttl too short", "[cluster]\nlease_ttl = \"500ms\"\n", `config.toml:2: cluster.lease_ttl: must be at least 1s with coordinator = "share" (got "500ms")`},
		{"etcd lease_ttl too short", "[cluster]\ncoordinator = \"etcd\"\netcd_endpoints = [\"127.0.0.1:2379\"]\nlease_ttl = \"1s\"\n", `config.toml:4: cluster.lease_ttl: must be at least 2s with coordinator = "etcd"`},
		{"etcd without endpoints", "[cluster]\ncoordinator = \"etcd\"\n", `config.toml:2: cluster.etcd_endpoints: is required with coordinator = "etcd"`},
		{"etcd bad endpoint", "[cluster]\ncoordinator = \"etcd\"\netcd_endpoints = [\"ftp://x:1\"]\n", `config.toml:3: cluster.etcd_endpoints: endpoint "ftp://x:1" must be`},
		{"etcd missing ca file", "[cluster]\ncoordinator = \"etcd\"\netcd_endpoints = [\"x:1\"]\netcd_ca_file = \"nope.pem\"\n", `config.toml:4: cluster.etcd_ca_file: `},
		{"etcd cert without key", "[cluster]\ncoordinator = \"etcd\"\netcd_endpoints = [\"x:1\"]\netcd_cert_file = \"file\"\n", `config.toml:4: cluster.etcd_cert_file: needs etcd_key_file`},
		{"etcd username without password", "[cluster]\ncoordinator = \"etcd\"\netcd_endpoints = [\"x:1\"]\netcd_username = \"u\"\n", `config.toml:4: cluster.etcd_username: needs etcd_password_file`},
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
