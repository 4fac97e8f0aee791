package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/focussync/focussync/bench/internal/benchenv"
	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/focus/focustest"
	"github.com/focussync/focussync/watcher"
)

// smallTree writes dirs directories of perDir small files under root.
func smallTree(root string, dirs, perDir int) error {
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("dir%03d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for f := range perDir {
			name := filepath.Join(dir, fmt.Sprintf("file%04d.txt", f))
			if err := os.WriteFile(name, []byte(name), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// walkStat is the floor of a rescan: a bare WalkDir with one Lstat per entry.
func walkStat(root string) (int, error) {
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if _, err := os.Lstat(p); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

// scanSection measures the rescan of an unchanged tree next to a bare walk,
// then syncs the tree once and measures the memory of `sync` and of the idle
// daemon tracking every file.
func scanSection(ctx context.Context, bin, scratch string, quick bool, logf func(string, ...any)) (string, error) {
	dirs := 100
	if quick {
		dirs = 20
	}
	const perDir = 1000
	total := dirs * perDir
	env, _, done, err := scratchEnv(bin, scratch, "scan-")
	if err != nil {
		return "", err
	}
	defer done()
	logf("rescan: writing %d files", total)
	if err := smallTree(env.Folder(), dirs, perDir); err != nil {
		return "", err
	}
	opt := watcher.ScanOptions{Folder: config.Folder{Path: env.Folder(), Recursive: true, Settle: time.Millisecond}, Now: time.Now().Add(time.Hour)}
	first, err := watcher.Scan(ctx, opt)
	if err != nil {
		return "", err
	}
	if len(first.Files) != total {
		return "", fmt.Errorf("first scan found %d files, want %d", len(first.Files), total)
	}
	var st watcher.ScanStats
	opt.Stats = &st
	opt.Cache = func(p string) (int64, time.Time, uint64, string, bool) {
		f, ok := first.Files[p]
		return f.Size, f.ModTime, f.Inode, f.Hash, ok
	}
	logf("rescan: timing")
	var scans, walks []time.Duration
	hashed := 0
	for range 5 {
		t := time.Now()
		if _, err := watcher.Scan(ctx, opt); err != nil {
			return "", err
		}
		scans = append(scans, time.Since(t))
		hashed += st.Hashed
		if st.Files != total {
			return "", fmt.Errorf("rescan found %d files, want %d", st.Files, total)
		}
		t = time.Now()
		n, err := walkStat(env.Folder())
		if err != nil {
			return "", err
		}
		walks = append(walks, time.Since(t))
		if n != total+dirs+1 {
			return "", fmt.Errorf("walk saw %d entries, want %d", n, total+dirs+1)
		}
	}
	ms, mw := median(scans), median(walks)
	var b strings.Builder
	b.WriteString("| measure | figure |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| rescan of %d unchanged files in %d folders (watcher.Scan with a cache), median of 5 | %s |\n", total, dirs, ms.Round(time.Millisecond))
	fmt.Fprintf(&b, "| bare filepath.WalkDir + Lstat of the same tree, median of 5 | %s |\n", mw.Round(time.Millisecond))
	fmt.Fprintf(&b, "| ratio rescan / walk | **%.2f** |\n", ms.Seconds()/mw.Seconds())
	fmt.Fprintf(&b, "| files hashed again over the 5 rescans (ScanStats.Hashed) | %d |\n", hashed)
	if hashed != 0 {
		return b.String(), fmt.Errorf("a rescan of unchanged files hashed %d files", hashed)
	}

	// Sync the tree once, then watch the idle daemon's memory.
	env.Folders[0].Extra = "recursive = true"
	if env.StatusListen, err = benchenv.FreePort(); err != nil {
		return "", err
	}
	if err := env.WriteConfig(); err != nil {
		return "", err
	}
	logf("memory: focussync sync of %d files", total)
	r, err := env.Run(ctx, true, "sync")
	if err != nil {
		return "", err
	}
	if r.Code != 0 {
		return "", fmt.Errorf("sync of %d files: %v", total, r)
	}
	if n := len(env.Srv.Attachments(env.Task())); n != total {
		return "", fmt.Errorf("sync of %d files made %d attachments", total, n)
	}
	fmt.Fprintf(&b, "| `focussync sync` of the %d files (quota 0): wall time (files per second), peak RSS | %s (%.0f/s), %s |\n",
		total, r.Wall.Round(100*time.Millisecond), float64(total)/r.Wall.Seconds(), benchenv.MiB(r.PeakRSS))

	// The rescan as a user runs it: a new `focussync sync` process over the
	// synced tree (open the db, load, scan, plan; nothing to send), each run
	// next to a bare walk of the same tree.
	logf("rescan: focussync sync over %d unchanged files", total)
	var syncs, bare []time.Duration
	var rescanRSS int64
	for range 3 {
		mark := env.Mark()
		r, err := env.Run(ctx, true, "sync")
		if err != nil {
			return b.String(), err
		}
		if r.Code != 0 {
			return b.String(), fmt.Errorf("rescan sync of %d files: %v", total, r)
		}
		if n := benchenv.Total(env.Since(mark)); n != 0 {
			return b.String(), fmt.Errorf("rescan sync of %d unchanged files sent %d requests", total, n)
		}
		syncs = append(syncs, r.Wall)
		rescanRSS = max(rescanRSS, r.PeakRSS)
		t := time.Now()
		if _, err := walkStat(env.Folder()); err != nil {
			return b.String(), err
		}
		bare = append(bare, time.Since(t))
	}
	ms, mw = median(syncs), median(bare)
	b.WriteString("\n| measure | focussync | floor | ratio |\n| --- | --- | --- | --- |\n")
	fmt.Fprintf(&b, "| rescan of %d unchanged files by a `focussync sync` process (open the db, load, scan, plan; 0 requests), median of 3; floor: bare filepath.WalkDir + Lstat | %s (peak RSS %s) | %s | **%.2f** |\n",
		total, ms.Round(time.Millisecond), benchenv.MiB(rescanRSS), mw.Round(time.Millisecond), ms.Seconds()/mw.Seconds())
	logf("memory: idle daemon over %d tracked files", total)
	idle, err := idleMemory(ctx, env)
	if idle.mem.RSS == 0 {
		return b.String(), err
	}
	floor, ferr := holderMem(ctx, total)
	if ferr != nil {
		return b.String(), ferr
	}
	fmt.Fprintf(&b, "| idle daemon (`run`) tracking %d files, 10 s after its first pass (%d pass(es) run, state %s): VmRSS (heap and other private memory + mapped files; VmHWM); floor: a bare Go process holding one small record (stat, SHA-256, attachment id, order: 72 bytes and the path) per file in a map | %s (%s + %s; %s) | %s | **%.2f** |\n",
		total, idle.passes, idle.state, benchenv.MiB(idle.mem.RSS), benchenv.MiB(idle.mem.Anon), benchenv.MiB(idle.mem.File), benchenv.MiB(idle.mem.HWM), benchenv.MiB(floor.RSS), float64(idle.mem.RSS)/float64(floor.RSS))
	if idle.stop > 0 {
		fmt.Fprintf(&b, "| daemon: from start to idle (its first pass over the %d files); from SIGTERM to exit, idle; from SIGTERM to exit, in the middle of its first pass | %s; %s; %s | | |\n",
			total, idle.first.Round(10*time.Millisecond), idle.stop.Round(10*time.Millisecond), idle.stopMidPass.Round(10*time.Millisecond))
	}
	return b.String(), err // a daemon that measured but did not stop cleanly is still reported
}

// idleFigures are what idleMemory measures of the daemon over a synced tree.
type idleFigures struct {
	mem         benchenv.Mem
	passes      int           // passes run when the memory was read
	state       string        // the folder's state then
	first       time.Duration // start to idle
	stop        time.Duration // SIGTERM to exit, idle
	stopMidPass time.Duration // SIGTERM to exit, during a first pass
}

// stopWithin is how long a daemon may take to exit after SIGTERM.
const stopWithin = time.Minute

// idleMemory runs the daemon over env's synced tree until its first pass is
// done and reads its memory 10 s later, when it must still be idle after that
// one pass: the watcher's first signal must not start another. Then it stops
// the daemon with SIGTERM, starts it again and stops it in the middle of its
// first pass, timing both exits.
func idleMemory(ctx context.Context, env *benchenv.Env) (f idleFigures, err error) {
	start := time.Now()
	d, err := env.StartDaemon(ctx)
	if err != nil {
		return f, err
	}
	defer func() {
		if !d.Exited() {
			d.Kill()
		}
	}()
	if _, err := d.WaitIdle(ctx, start, 10*time.Minute); err != nil {
		return f, err
	}
	f.first = time.Since(start)
	sleepCtx(ctx, 10*time.Second)
	if f.mem, err = benchenv.ReadMem(d.Pid()); err != nil {
		return f, err
	}
	st, err := d.Status(ctx)
	if err != nil || len(st.Folders) != 1 {
		return f, fmt.Errorf("daemon status: %+v, %v", st, err)
	}
	f.passes, f.state = st.Folders[0].Passes, st.Folders[0].State
	if f.passes != 1 || f.state != "idle" {
		return f, fmt.Errorf("daemon not idle after one pass when its memory was read: %d passes, state %s", f.passes, f.state)
	}
	t := time.Now()
	if code, err := d.Stop(stopWithin); err != nil || code != 0 {
		return f, fmt.Errorf("daemon stop, idle: exit %d, %v", code, err)
	}
	f.stop = time.Since(t)

	// Again, stopped as soon as its first pass has begun.
	if d, err = env.StartDaemon(ctx); err != nil {
		return f, err
	}
	for deadline := time.Now().Add(stopWithin); ; {
		st, err := d.Status(ctx)
		if err == nil && len(st.Folders) == 1 && st.Folders[0].State == "syncing" {
			break
		}
		if err == nil && len(st.Folders) == 1 && st.Folders[0].Passes > 0 || d.Exited() || ctx.Err() != nil || time.Now().After(deadline) {
			return f, fmt.Errorf("the daemon's first pass was never seen running (status %+v, %v)", st, err)
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
	t = time.Now()
	if code, err := d.Stop(stopWithin); err != nil || code != 0 {
		return f, fmt.Errorf("daemon stop during its first pass: exit %d, %v", code, err)
	}
	f.stopMidPass = time.Since(t)
	return f, nil
}

// bigFileSection measures the peak RSS of `sync` uploading one large sparse file.
func bigFileSection(ctx context.Context, bin, scratch string, quick bool, logf func(string, ...any)) (string, error) {
	size := int64(2) << 30
	if quick {
		size = 512 << 20
	}
	env, _, done, err := scratchEnv(bin, scratch, "bigfile-")
	if err != nil {
		return "", err
	}
	defer done()
	if err := env.WriteConfig(); err != nil {
		return "", err
	}
	f, err := os.Create(filepath.Join(env.Folder(), "big.img"))
	if err != nil {
		return "", err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	logf("memory: sync of a %s sparse file", benchenv.MiB(size))
	r, err := env.Run(ctx, true, "sync")
	if err != nil {
		return "", err
	}
	if r.Code != 0 {
		return "", fmt.Errorf("sync of a large file: %v", r)
	}
	got := env.Srv.Attachments(env.Task())
	if len(got) != 1 || got[0].Size != size {
		return "", fmt.Errorf("sync of a large file: attachments %+v", got)
	}
	return fmt.Sprintf("| `focussync sync` of one %s file (sparse): peak RSS (VmHWM), wall time | **%s**, %s |\n",
		benchenv.MiB(size), benchenv.MiB(r.PeakRSS), r.Wall.Round(100*time.Millisecond)), nil
}

// scratchEnv makes a directory under scratch, named from prefix, and an
// environment in it; done closes the environment and removes the directory.
func scratchEnv(bin, scratch, prefix string) (env *benchenv.Env, dir string, done func(), err error) {
	dir, err = os.MkdirTemp(scratch, prefix)
	if err != nil {
		return nil, "", nil, err
	}
	env, err = benchenv.NewEnv(bin, dir, focustest.Options{})
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", nil, err
	}
	return env, dir, func() { env.Close(); os.RemoveAll(dir) }, nil
}
