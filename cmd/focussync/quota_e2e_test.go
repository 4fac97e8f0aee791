package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/internal/etcdtest"
)

// TestRun_EtcdSharesQuota runs three daemons (three hosts, each with its own
// config, state db, folder and task, in one organization) coordinated through a
// 3-member etcd, against a quota of 12 requests per 8 s that their files need
// several windows of. They share one quota budget in etcd: every file goes up
// exactly once, the emulator answers no more 402s than the windows used, and the
// requests in all are the sum of what each host alone needs at the least (a first
// run's list, then ceil(n/10) bulk uploads: DESIGN.md §2). A `focussync sync` run
// afterwards draws from the same budget.
func TestRun_EtcdSharesQuota(t *testing.T) {
	t.Parallel()
	const quota, window = 12, 8 * time.Second
	e := newEnv(t, withQuota(quota, window))
	etcd := etcdtest.Start(t, 3)
	files := []int{95, 84, 73}

	var hosts []*env
	want := 0
	for i, n := range files {
		h := *e
		name := fmt.Sprintf("host-%d", i)
		h.folder = filepath.Join(e.dir, name, "folder")
		h.state = filepath.Join(e.dir, name, "state.db")
		h.cfg = filepath.Join(e.dir, name+".toml")
		h.task = e.task + int64(i)
		h.extra = fmt.Sprintf("\n[cluster]\ncoordinator = \"etcd\"\nlease_ttl = \"5s\"\nnode_name = %q\netcd_endpoints = [%s]\netcd_prefix = \"/focussync-e2e/\"\n",
			name, quoted(etcd.Endpoints()))
		if err := os.MkdirAll(h.folder, 0o755); err != nil {
			t.Fatal(err)
		}
		h.writeConfig()
		h.writeN(n, name+"-")
		hosts = append(hosts, &h)
		want += 1 + (n+focus.MaxBulkFiles-1)/focus.MaxBulkFiles
	}

	var ds []*daemonProc
	for _, h := range hosts {
		ds = append(ds, h.startDaemon())
	}
	for _, h := range hosts {
		h.waitMirrored(3 * time.Minute)
	}
	// Nothing more is sent once every task mirrors its folder.
	e.waitQuiet(3 * time.Second)
	for i, d := range ds {
		if !strings.Contains(d.stderr.String(), "the quota is shared with the other hosts through etcd") {
			t.Errorf("host-%d did not share the quota through etcd:\n%s", i, d.stderr.String())
		}
		d.stop()
	}
	// A one-shot sync draws from the same budget: one more file, one more request.
	hosts[0].write("late.txt", "late\n")
	if r := hosts[0].sync("-v"); !strings.Contains(r.stderr, "the quota is shared with the other hosts through etcd") {
		t.Errorf("sync did not share the quota through etcd:\n%s", r)
	}
	hosts[0].assertMirrors()
	want++

	answered, refused := 0, 0
	for _, r := range e.srv.Requests() {
		if r.Status == 402 {
			refused++
		} else {
			answered++
		}
	}
	windows := e.srv.QuotaWindows(testOrg)
	t.Logf("%d requests answered, %d 402s, %d quota windows", answered, refused, windows)
	if answered != want {
		t.Errorf("requests answered = %d, want %d (per host: 1 list and ceil(files/10) bulk uploads)", answered, want)
	}
	if refused > windows {
		t.Errorf("402s = %d, more than the %d quota windows used", refused, windows)
	}
	if min := (want + quota - 1) / quota; windows < min {
		t.Errorf("quota windows = %d, fewer than %d requests need at %d a window: the test does not span several", windows, want, quota)
	}
}

// quoted renders strings as the items of a TOML array.
func quoted(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
