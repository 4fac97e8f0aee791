package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/focussync/focussync/bench/internal/benchenv"
	"github.com/focussync/focussync/bench/internal/naive"
)

// latencySection adds and renames files one at a time in a running daemon's
// folder (settle 300 ms, rescan 2 s) and measures from each change until the
// attachment shows under its name, beyond settle; the floor is one bare create
// request of the same file.
func latencySection(ctx context.Context, bin, scratch string, quick bool, logf func(string, ...any)) (string, error) {
	n := 30
	if quick {
		n = 10
	}
	const settle = 300 * time.Millisecond
	env, _, done, err := scratchEnv(bin, scratch, "latency-")
	if err != nil {
		return "", err
	}
	defer done()
	env.Defaults = fmt.Sprintf("settle = %q\nrescan = \"2s\"\n", settle)
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
	logf("latency: %d changes (adds and renames), one at a time", n)
	var added, renamed, floors []time.Duration
	last := ""
	for i := range n {
		name := fmt.Sprintf("latency-%03d.txt", i)
		p := filepath.Join(env.Folder(), name)
		rename := i%2 == 1 && last != ""
		var changed time.Time
		if rename {
			name = fmt.Sprintf("renamed-%03d.txt", i)
			p = filepath.Join(env.Folder(), name)
			if err := os.Rename(filepath.Join(env.Folder(), last), p); err != nil {
				return "", err
			}
			changed = time.Now()
		} else {
			if err := os.WriteFile(p, []byte(strings.Repeat(name, 100)), 0o644); err != nil {
				return "", err
			}
			changed = time.Now()
		}
		deadline := changed.Add(time.Minute)
		for !hasAttachment(env, name) {
			if time.Now().After(deadline) {
				return "", fmt.Errorf("latency: %s not in Focus within a minute", name)
			}
			time.Sleep(2 * time.Millisecond)
		}
		if rename {
			renamed = append(renamed, time.Since(changed)-settle)
		} else {
			added = append(added, time.Since(changed)-settle)
			last = name
			f, err := bareCreate(ctx, p)
			if err != nil {
				return "", err
			}
			floors = append(floors, f)
		}
		sleepCtx(ctx, 300*time.Millisecond)
	}
	all := append(append([]time.Duration{}, added...), renamed...)
	var b strings.Builder
	b.WriteString("| measure (settle 300 ms, rescan 2 s) | p50 | p95 | min / max |\n| --- | --- | --- | --- |\n")
	row := func(label string, d []time.Duration) {
		fmt.Fprintf(&b, "| %s | **%s** | **%s** | %s / %s |\n", label, median(d).Round(time.Millisecond), percentile(d, 0.95).Round(time.Millisecond),
			minDur(d).Round(time.Millisecond), maxDur(d).Round(time.Millisecond))
	}
	row(fmt.Sprintf("a file added or renamed: change to attachment, beyond settle (%d changes)", len(all)), all)
	row(fmt.Sprintf("of which added (%d)", len(added)), added)
	row(fmt.Sprintf("of which renamed (%d)", len(renamed)), renamed)
	row("floor: one bare create request of the same file to a fresh emulator", floors)
	return b.String(), nil
}

// bareCreate times one bare create of the file p (a bulk create of one file)
// to a fresh emulator.
func bareCreate(ctx context.Context, p string) (time.Duration, error) {
	return bareUpload(ctx, []naive.BareFile{{Path: p, Name: filepath.Base(p)}}, 1)
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
