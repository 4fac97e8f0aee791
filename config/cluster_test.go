package config

import (
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

func TestParse_ClusterEtcdNotAvailable(t *testing.T) {
	_, _, err := parse(t, "[cluster]\ncoordinator = \"etcd\"\netcd_endpoints = [\"10.0.0.5:2379\"]\n"+head+folder1)
	if err == nil || !strings.Contains(err.Error(), `config.toml:2: cluster.coordinator: "etcd" is not available in this version`) {
		t.Errorf("err = %v, want coordinator = etcd refused with the key and line", err)
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
