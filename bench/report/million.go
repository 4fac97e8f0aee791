package main

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/focussync/focussync/bench/internal/benchenv"
	"github.com/focussync/focussync/internal/fsinfo"
)

// scaleFigures are the measures of one tree size in the million-file section.
type scaleFigures struct {
	files, dirs  int
	write        time.Duration   // writing the tree (not focussync)
	initial      benchenv.Result // the faster of the initial syncs
	initialRSS   int64           // the larger peak RSS of the initial syncs
	requests     int             // of one initial sync
	rescan, walk time.Duration
	rescanRSS    int64
	idle         benchenv.Mem
	watches      int
	firstPass    time.Duration // daemon start to idle over the synced tree
}

// millionSection syncs trees of 100,000 and 1,000,000 small files (1,000 per
// folder, on tmpfs) and compares how each measure grows with N.
func millionSection(ctx context.Context, bin, tmpfs string, quick bool, logf func(string, ...any)) (string, error) {
	sizes := []int{100_000, 1_000_000}
	if quick {
		sizes = []int{10_000, 100_000}
	}
	name, _, err := fsinfo.FSType(tmpfs)
	if err != nil {
		return "", err
	}
	if !memoryFS[name] {
		logf("warning: %s is on %s, not tmpfs", tmpfs, name)
	}
	var figs []scaleFigures
	for _, n := range sizes {
		f, err := scaleRun(ctx, bin, tmpfs, n, logf)
		if err != nil {
			return "", err
		}
		figs = append(figs, f)
	}
	a, b := figs[0], figs[1]
	grow := float64(b.files) / float64(a.files)
	nlogn := grow * math.Log(float64(b.files)) / math.Log(float64(a.files))
	var s strings.Builder
	fmt.Fprintf(&s, "Trees on %s (%s), the state db with them. N log N grows %.1f times from %d to %d files; each measure's growth is checked against it.\n\n", name, tmpfs, nlogn, a.files, b.files)
	fmt.Fprintf(&s, "| measure | %d files (%d folders) | %d files (%d folders) | growth | within N log N (×%.1f) |\n| --- | --- | --- | --- | --- |\n", a.files, a.dirs, b.files, b.dirs, nlogn)
	bad := []string{}
	row := func(label string, x, y float64, format func(float64) string) {
		g := y / x
		ok := g <= nlogn
		if !ok {
			bad = append(bad, label)
		}
		fmt.Fprintf(&s, "| %s | %s | %s | ×%.1f | %s |\n", label, format(x), format(y), g, yesNo(ok))
	}
	secs := func(v float64) string {
		return (time.Duration(v * float64(time.Second))).Round(10 * time.Millisecond).String()
	}
	mib := func(v float64) string { return benchenv.MiB(int64(v)) }
	count := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	row(fmt.Sprintf("initial `focussync sync` (quota 0): wall time, the faster of %d", initialRuns), a.initial.Wall.Seconds(), b.initial.Wall.Seconds(), secs)
	row("initial `focussync sync`: peak RSS, the larger", float64(a.initialRSS), float64(b.initialRSS), mib)
	row("initial `focussync sync`: requests (bulk creates of 10)", float64(a.requests), float64(b.requests), count)
	row(fmt.Sprintf("rescan by a `focussync sync` process (nothing to send): wall time, the fastest of %d", rescanRuns), a.rescan.Seconds(), b.rescan.Seconds(), secs)
	row("rescan: peak RSS, the largest", float64(a.rescanRSS), float64(b.rescanRSS), mib)
	row("floor of the rescan: bare filepath.WalkDir + Lstat, the fastest", a.walk.Seconds(), b.walk.Seconds(), secs)
	row("daemon (`run`): start to idle over the synced tree (first pass)", a.firstPass.Seconds(), b.firstPass.Seconds(), secs)
	row("daemon, idle 10 s after its first pass: VmRSS", float64(a.idle.RSS), float64(b.idle.RSS), mib)
	row("daemon: VmHWM (peak RSS)", float64(a.idle.HWM), float64(b.idle.HWM), mib)
	row("daemon: inotify watches", float64(a.watches), float64(b.watches), count)
	fmt.Fprintf(&s, "\nPer file: the daemon idle holds %.0f / %.0f bytes of RSS per tracked file; the rescan by `sync` costs %.1f / %.1f µs per file (the bare walk %.1f / %.1f µs). Writing the trees took %s and %s (not counted).\n",
		float64(a.idle.RSS)/float64(a.files), float64(b.idle.RSS)/float64(b.files),
		1e6*a.rescan.Seconds()/float64(a.files), 1e6*b.rescan.Seconds()/float64(b.files),
		1e6*a.walk.Seconds()/float64(a.files), 1e6*b.walk.Seconds()/float64(b.files),
		a.write.Round(time.Second), b.write.Round(time.Second))
	if len(bad) > 0 {
		return s.String(), fmt.Errorf("grew faster than N log N: %s", strings.Join(bad, "; "))
	}
	return s.String(), nil
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// How often the million-file section repeats a measure: the machine is shared,
// and one slow run of either size would decide a growth on its own. Other work
// only ever slows a run down, so the fastest run of each measure counts.
const (
	initialRuns = 2
	rescanRuns  = 3
)

// scaleRun measures one tree of n small files in n/1000 folders under base.
func scaleRun(ctx context.Context, bin, base string, n int, logf func(string, ...any)) (scaleFigures, error) {
	const perDir = 1000
	f := scaleFigures{files: n, dirs: n / perDir}
	env, _, done, err := scratchEnv(bin, base, "million-")
	if err != nil {
		return f, err
	}
	defer done()
	env.Folders[0].Extra = "recursive = true"
	if env.StatusListen, err = benchenv.FreePort(); err != nil {
		return f, err
	}
	if err := env.WriteConfig(); err != nil {
		return f, err
	}
	logf("million: writing %d files in %d folders", n, f.dirs)
	t := time.Now()
	if err := smallTree(env.Folder(), f.dirs, perDir); err != nil {
		return f, err
	}
	f.write = time.Since(t)

	// Two initial syncs, the second as another host with its own state db into
	// a task of its own: the faster counts, as the machine is shared.
	for i := range initialRuns {
		e := env
		if i > 0 {
			if e, err = env.Twin(fmt.Sprintf("again%d", i)); err != nil {
				return f, err
			}
			e.Folders[0].Task += int64(i)
			if err := e.WriteConfig(); err != nil {
				return f, err
			}
		}
		logf("million: initial sync of %d files (%d of %d)", n, i+1, initialRuns)
		mark := e.Mark()
		r, err := e.Run(ctx, true, "sync")
		if err != nil {
			return f, err
		}
		if r.Code != 0 {
			return f, fmt.Errorf("initial sync of %d files: %v", n, r)
		}
		if got := len(e.Srv.Attachments(e.Task())); got != n {
			return f, fmt.Errorf("initial sync of %d files made %d attachments", n, got)
		}
		if i == 0 || r.Wall < f.initial.Wall {
			f.initial = r
		}
		f.requests = max(f.requests, e.Mark()-mark)
		f.initialRSS = max(f.initialRSS, r.PeakRSS)
	}

	// Rescans by new `sync` processes, each next to a bare walk: the fastest count.
	var rescans, walks []time.Duration
	for i := range rescanRuns {
		logf("million: rescan of %d files (%d of %d)", n, i+1, rescanRuns)
		mark := env.Mark()
		r, err := env.Run(ctx, true, "sync")
		if err != nil {
			return f, err
		}
		if r.Code != 0 {
			return f, fmt.Errorf("rescan of %d files: %v", n, r)
		}
		if sent := benchenv.Total(env.Since(mark)); sent != 0 {
			return f, fmt.Errorf("rescan of %d unchanged files sent %d requests", n, sent)
		}
		rescans = append(rescans, r.Wall)
		f.rescanRSS = max(f.rescanRSS, r.PeakRSS)
		t = time.Now()
		if _, err := walkStat(env.Folder()); err != nil {
			return f, err
		}
		walks = append(walks, time.Since(t))
	}
	f.rescan, f.walk = minDur(rescans), minDur(walks)

	logf("million: daemon over %d files", n)
	start := time.Now()
	d, err := env.StartDaemon(ctx)
	if err != nil {
		return f, err
	}
	defer d.Stop(2 * time.Minute)
	if _, err := d.WaitIdle(ctx, start, 30*time.Minute); err != nil {
		return f, err
	}
	f.firstPass = time.Since(start)
	sleepCtx(ctx, 10*time.Second)
	if f.idle, err = benchenv.ReadMem(d.Pid()); err != nil {
		return f, err
	}
	if f.watches, err = benchenv.InotifyWatches(d.Pid()); err != nil {
		return f, err
	}
	if code, err := d.Stop(2 * time.Minute); err != nil || code != 0 {
		return f, fmt.Errorf("daemon over %d files: exit %d, %v", n, code, err)
	}
	return f, nil
}
