package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/focussync/focussync/bench/internal/benchenv"
)

// latencySection writes files one at a time into a running daemon's folder
// (settle = 1s) and measures from each file's close until its attachment exists.
func latencySection(ctx context.Context, bin, scratch string, quick bool, logf func(string, ...any)) (string, error) {
	n := 20
	if quick {
		n = 8
	}
	const settle = time.Second
	env, _, done, err := scratchEnv(bin, scratch, "latency-")
	if err != nil {
		return "", err
	}
	defer done()
	env.Defaults = fmt.Sprintf("settle = %q\nrescan = \"10m\"\n", settle)
	if env.StatusListen, err = benchenv.FreePort(); err != nil {
		return "", err
	}
	if err := env.WriteConfig(); err != nil {
		return "", err
	}
	start := time.Now()
	d, err := env.StartDaemon(ctx)
	if err != nil {
		return "", err
	}
	defer d.Stop(30 * time.Second)
	if _, err := d.WaitIdle(ctx, start, time.Minute); err != nil {
		return "", err
	}
	logf("latency: %d files, one at a time", n)
	var beyond []time.Duration
	for i := range n {
		name := fmt.Sprintf("latency-%03d.txt", i)
		if err := os.WriteFile(filepath.Join(env.Folder(), name), []byte(strings.Repeat(name, 100)), 0o644); err != nil {
			return "", err
		}
		closed := time.Now()
		deadline := closed.Add(time.Minute)
		for !hasAttachment(env, name) {
			if time.Now().After(deadline) {
				return "", fmt.Errorf("latency: %s not uploaded within a minute", name)
			}
			time.Sleep(2 * time.Millisecond)
		}
		beyond = append(beyond, time.Since(closed)-settle)
		sleepCtx(ctx, 300*time.Millisecond)
	}
	var b strings.Builder
	b.WriteString("| measure | figure |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| files written one at a time (settle = %s) | %d |\n", settle, n)
	fmt.Fprintf(&b, "| close to attachment, beyond settle: median | **%s** |\n", median(beyond).Round(time.Millisecond))
	fmt.Fprintf(&b, "| close to attachment, beyond settle: p95 | **%s** |\n", percentile(beyond, 0.95).Round(time.Millisecond))
	fmt.Fprintf(&b, "| min / max beyond settle | %s / %s |\n", minDur(beyond).Round(time.Millisecond), maxDur(beyond).Round(time.Millisecond))
	return b.String(), nil
}

func hasAttachment(env *benchenv.Env, name string) bool {
	for _, a := range env.Srv.Attachments(env.Task()) {
		if a.Name == name {
			return true
		}
	}
	return false
}

func minDur(d []time.Duration) time.Duration {
	m := d[0]
	for _, x := range d {
		m = min(m, x)
	}
	return m
}

func maxDur(d []time.Duration) time.Duration {
	m := d[0]
	for _, x := range d {
		m = max(m, x)
	}
	return m
}
