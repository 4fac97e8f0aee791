package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/focussync/focussync/bench/internal/benchenv"
	"github.com/focussync/focussync/daemon"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
)

const clusterTTL = 3 * time.Second

const clusterIntro = "Two `focussync run` daemons, each with its own state db, on one folder of 30 files (as two machines that mount one share), " +
	"with the default coordinator (a lease record in the folder) and lease_ttl = 3s. The holder is killed with SIGKILL five times, " +
	"the survivor taking over each time and the killed one coming back as a standby; the takeover time runs from the SIGKILL to the " +
	"survivor's /status saying it holds the lease. Then one mixed workload runs against one host and against two hosts."

// clusterHost is one daemon of the scene.
type clusterHost struct {
	env *benchenv.Env
	d   *benchenv.Daemon
}

func (h *clusterHost) holds(ctx context.Context) bool {
	st, err := h.d.Status(ctx)
	if err != nil {
		return false
	}
	for _, f := range st.Folders {
		if f.Lease != nil && f.Lease.Role == "holder" {
			return true
		}
	}
	return false
}

// newClusterScene makes a scene with n hosts on one folder; the first host's Env
// owns the emulator.
func newClusterScene(bin, dir string, n int) ([]*clusterHost, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	env, err := benchenv.NewEnv(bin, dir, focustest.Options{})
	if err != nil {
		return nil, err
	}
	env.Defaults = "settle = \"1ms\"\nrescan = \"10m\"\n"
	if env.StatusListen, err = benchenv.FreePort(); err != nil {
		return nil, err
	}
	hosts := []*clusterHost{{env: env}}
	for i := 1; i < n; i++ {
		t, err := env.Twin(fmt.Sprintf("host-%c", 'a'+i))
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, &clusterHost{env: t})
	}
	for i, h := range hosts {
		h.env.Tables = fmt.Sprintf("[cluster]\nlease_ttl = %q\nnode_name = \"host-%c\"\n", clusterTTL.String(), 'a'+i)
		if err := h.env.WriteConfig(); err != nil {
			return nil, err
		}
	}
	return hosts, nil
}

func writeNumbered(dir, prefix string, n int) error {
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s%03d.txt", prefix, i)), []byte(fmt.Sprintf("%s %d\n", prefix, i)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// waitHolder waits until one of hosts holds the lease and is idle; it returns
// that host.
func waitHolder(ctx context.Context, hosts []*clusterHost, since time.Time) (*clusterHost, daemon.Status, error) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for _, h := range hosts {
			if h.d != nil && !h.d.Exited() && h.holds(ctx) {
				st, err := h.d.WaitIdle(ctx, since, time.Minute)
				return h, st, err
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil, daemon.Status{}, fmt.Errorf("no host holds the lease after a minute")
}

func clusterSection(ctx context.Context, bin, scratch string, logf func(string, ...any)) (string, error) {
	hosts, err := newClusterScene(bin, filepath.Join(scratch, "cluster-takeover"), 2)
	if err != nil {
		return "", err
	}
	env := hosts[0].env
	defer env.Close()
	if err := writeNumbered(env.Folder(), "f", 30); err != nil {
		return "", err
	}
	for _, h := range hosts {
		if h.d, err = h.env.StartDaemon(ctx); err != nil {
			return "", err
		}
		defer func(h *clusterHost) { h.d.Kill() }(h)
	}
	if _, _, err := waitHolder(ctx, hosts, time.Time{}); err != nil {
		return "", err
	}
	var takeovers []time.Duration
	spent := map[focus.Endpoint]int{}
	for i := range 5 {
		var holder, standby *clusterHost
		for _, h := range hosts {
			if h.holds(ctx) {
				holder = h
			} else {
				standby = h
			}
		}
		if holder == nil || standby == nil {
			return "", fmt.Errorf("round %d: no holder and standby", i)
		}
		// The standby must be up and watching before its holder dies.
		if _, err := standby.d.Status(ctx); err != nil {
			return "", fmt.Errorf("round %d: standby: %w", i, err)
		}
		mark := env.Mark()
		holder.d.Kill()
		killed := time.Now()
		for !standby.holds(ctx) {
			if time.Since(killed) > time.Minute {
				return "", fmt.Errorf("round %d: no takeover within a minute", i)
			}
			time.Sleep(10 * time.Millisecond)
		}
		took := time.Since(killed)
		takeovers = append(takeovers, took)
		if _, err := standby.d.WaitIdle(ctx, killed, time.Minute); err != nil {
			return "", fmt.Errorf("round %d: new holder: %w", i, err)
		}
		got := env.Since(mark)
		for ep, n := range got {
			spent[ep] += n
		}
		logf("cluster: takeover %d in %s, requests %s", i+1, took.Round(time.Millisecond), endpoints(got))
		if holder.d, err = holder.env.StartDaemon(ctx); err != nil {
			return "", err
		}
		for _, err := holder.d.Status(ctx); err != nil; _, err = holder.d.Status(ctx) {
			time.Sleep(20 * time.Millisecond)
		}
	}

	one, err := clusterWorkload(ctx, bin, filepath.Join(scratch, "cluster-one"), 1)
	if err != nil {
		return "", fmt.Errorf("mixed workload, one host: %w", err)
	}
	two, err := clusterWorkload(ctx, bin, filepath.Join(scratch, "cluster-two"), 2)
	if err != nil {
		return "", fmt.Errorf("mixed workload, two hosts: %w", err)
	}
	var b strings.Builder
	b.WriteString("| measure | focussync |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| takeover after a SIGKILL of the holder (lease_ttl %s; median of %d, min .. max) | %s (%s .. %s) |\n",
		clusterTTL, len(takeovers), roundMs(median(takeovers)), roundMs(minDur(takeovers)), roundMs(maxDur(takeovers)))
	fmt.Fprintf(&b, "| requests of the new holder, %d takeovers in all (minimum: 1 list and 0 uploads each) | %s |\n", len(takeovers), endpoints(spent))
	fmt.Fprintf(&b, "| mixed workload (add 25, rename 5, modify 3, delete 4), one host | %s |\n", endpoints(one))
	fmt.Fprintf(&b, "| the same workload, two hosts on the folder | %s |\n", endpoints(two))
	return b.String(), nil
}

// clusterWorkload runs the mixed workload with n hosts on one folder and returns
// the requests it cost, the first pass over the empty folder included.
func clusterWorkload(ctx context.Context, bin, dir string, n int) (map[focus.Endpoint]int, error) {
	hosts, err := newClusterScene(bin, dir, n)
	if err != nil {
		return nil, err
	}
	env := hosts[0].env
	defer env.Close()
	for _, h := range hosts {
		if h.d, err = h.env.StartDaemon(ctx); err != nil {
			return nil, err
		}
		defer func(h *clusterHost) { _, _ = h.d.Stop(30 * time.Second) }(h)
	}
	// An empty folder's lease is claimed at its first file (no record is made in
	// what may be an unmounted share's mount point): the hosts first finish their
	// pass over the empty folder, and the holder is known after the first step.
	for _, h := range hosts {
		if _, err := h.d.WaitIdle(ctx, time.Time{}, time.Minute); err != nil {
			return nil, err
		}
	}
	var holder *clusterHost
	folder := env.Folder()
	steps := []func() error{
		func() error { return writeNumbered(folder, "w", 25) },
		func() error {
			for i := range 5 {
				if err := os.Rename(filepath.Join(folder, fmt.Sprintf("w%03d.txt", i)), filepath.Join(folder, fmt.Sprintf("renamed%03d.txt", i))); err != nil {
					return err
				}
			}
			return nil
		},
		func() error {
			for i := 5; i < 8; i++ {
				if err := os.WriteFile(filepath.Join(folder, fmt.Sprintf("w%03d.txt", i)), []byte("changed\n"), 0o644); err != nil {
					return err
				}
			}
			return nil
		},
		func() error {
			for i := 8; i < 12; i++ {
				if err := os.Remove(filepath.Join(folder, fmt.Sprintf("w%03d.txt", i))); err != nil {
					return err
				}
			}
			return nil
		},
	}
	for _, step := range steps {
		t := time.Now()
		if err := step(); err != nil {
			return nil, err
		}
		// Give the watcher's debounce time to see it, then wait for the holder.
		time.Sleep(1500 * time.Millisecond)
		if holder == nil {
			if holder, _, err = waitHolder(ctx, hosts, t); err != nil {
				return nil, err
			}
			continue
		}
		if _, err := holder.d.WaitIdle(ctx, t, time.Minute); err != nil {
			return nil, err
		}
	}
	return env.Since(0), nil
}

func roundMs(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
