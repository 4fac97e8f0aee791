package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/focussync/focussync/bench/internal/benchenv"
	"github.com/focussync/focussync/bench/internal/naive"
	"github.com/focussync/focussync/focus/focustest"
)

// treeSpec describes the files of an initial sync.
type treeSpec struct {
	label  string
	count  int
	lo, hi int64 // size range (log-uniform); lo == hi for fixed sizes
	seed   uint64
}

// initialResult is one initial sync next to its floor.
type initialResult struct {
	spec       treeSpec
	files      int
	bytes      int64
	ours, hash time.Duration
	bare       [2]time.Duration // bare uploads by one loop, by two concurrent loops
	peak       benchenv.Peak    // of focussync sync, the larger of the runs
	barePeak   benchenv.Peak    // of a bare uploader process (two loops)
	requests   int
}

// initialHeader is the table head of initialResult.row.
const initialHeader = "| initial sync | tree | focussync `sync` | floor, 1 uploader: hash + bare uploads | ratio | floor, 2 uploaders: hash + bare uploads | ratio | peak RSS of `sync` | floor: peak RSS of a bare uploader process (2 loops) | ratio | requests |\n" +
	"| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"

func (r initialResult) row() string {
	floors := ""
	for _, bare := range r.bare {
		floor := r.hash + bare
		floors += fmt.Sprintf(" %s + %s = %s | **%.2f** |", r.hash.Round(10*time.Millisecond), bare.Round(10*time.Millisecond),
			floor.Round(10*time.Millisecond), r.ours.Seconds()/floor.Seconds())
	}
	return fmt.Sprintf("| %s | %d files, %s | %s (%.0f files/s) |%s %s | %s | **%.2f** | %d |",
		r.spec.label, r.files, benchenv.MiB(r.bytes), r.ours.Round(10*time.Millisecond), float64(r.files)/r.ours.Seconds(),
		floors, peakCell(r.peak), peakCell(r.barePeak), float64(r.peak.RSS)/float64(max(1, r.barePeak.RSS)), r.requests)
}

// peakCell is a peak RSS and, in parentheses, the process's own memory in it.
func peakCell(p benchenv.Peak) string {
	return fmt.Sprintf("%s (%s anonymous)", benchenv.MiB(p.RSS), benchenv.MiB(p.Anon))
}

// makeTree writes spec's files into dir and returns them sorted.
func makeTree(dir string, spec treeSpec) ([]naive.BareFile, int64, error) {
	rng := rand.New(rand.NewPCG(spec.seed, 3))
	var files []naive.BareFile
	var total int64
	for i := range spec.count {
		size := spec.lo
		if spec.hi > spec.lo {
			size = benchenv.LogUniformSize(rng, spec.lo, spec.hi)
		}
		name := fmt.Sprintf("file%05d.bin", i)
		p := filepath.Join(dir, name)
		if err := benchenv.WriteRandom(p, size, rng); err != nil {
			return nil, 0, err
		}
		files = append(files, naive.BareFile{Path: p, Name: name})
		total += size
	}
	return files, total, nil
}

// hashAll reads and hashes every file with as many workers as the scanner uses
// (min(4, GOMAXPROCS)).
func hashAll(files []naive.BareFile) (time.Duration, error) {
	start := time.Now()
	jobs := make(chan string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	workers := min(4, max(1, runtimeProcs()))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				if _, err := benchenv.HashFile(p); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		}()
	}
	for _, f := range files {
		jobs <- f.Path
	}
	close(jobs)
	wg.Wait()
	return time.Since(start), firstErr
}

// initialSync measures the floor over a fresh tree, then `focussync sync`, then
// the floor again; the better of each pair counts. The env is returned open, for
// the idle measurement; the caller closes it and removes its directory. On an
// error it is closed and removed here.
func initialSync(ctx context.Context, bin, scratch string, spec treeSpec, logf func(string, ...any)) (initialResult, *benchenv.Env, error) {
	res := initialResult{spec: spec}
	dir, err := os.MkdirTemp(scratch, "initial-")
	if err != nil {
		return res, nil, err
	}
	env, err := benchenv.NewEnv(bin, dir, focustest.Options{})
	if err != nil {
		return res, nil, err
	}
	fail := func(err error) (initialResult, *benchenv.Env, error) {
		env.Close()
		os.RemoveAll(dir)
		return res, nil, err
	}
	if env.StatusListen, err = benchenv.FreePort(); err != nil {
		return fail(err)
	}
	if err := env.WriteConfig(); err != nil {
		return fail(err)
	}
	logf("initial sync %s: writing %d files", spec.label, spec.count)
	files, total, err := makeTree(env.Folder(), spec)
	if err != nil {
		return fail(err)
	}
	res.files, res.bytes = len(files), total

	// The floor first, then focussync, then the floor again: the better of
	// the two floor measurements counts, so that a busy moment of the machine
	// does not flatter the ratio.
	logf("initial sync %s: floor (hash, bare uploads by one and two loops)", spec.label)
	if res.hash, err = hashAll(files); err != nil {
		return fail(err)
	}
	for i := range res.bare {
		if res.bare[i], err = bareUpload(ctx, files, i+1); err != nil {
			return fail(err)
		}
	}
	// focussync twice as well, the second time as another host with its own
	// state db into a task of its own: the faster counts, as for the floor.
	for i := range 2 {
		e := env
		if i > 0 {
			if e, err = env.Twin("again"); err != nil {
				return fail(err)
			}
			e.Folders[0].Task++
			if err := e.WriteConfig(); err != nil {
				return fail(err)
			}
		}
		logf("initial sync %s: focussync sync (%d of 2)", spec.label, i+1)
		mark := e.Mark()
		r, err := e.Run(ctx, true, "sync")
		if err != nil {
			return fail(err)
		}
		if r.Code != 0 {
			return fail(fmt.Errorf("initial sync %s: %v", spec.label, r))
		}
		if got := len(e.Srv.Attachments(e.Task())); got != len(files) {
			return fail(fmt.Errorf("initial sync %s: %d attachments for %d files", spec.label, got, len(files)))
		}
		if i == 0 || r.Wall < res.ours {
			res.ours = r.Wall
		}
		res.peak.RSS, res.peak.Anon = max(res.peak.RSS, r.PeakRSS), max(res.peak.Anon, r.PeakAnon)
		res.requests = max(res.requests, e.Mark()-mark)
	}
	if h, err := hashAll(files); err == nil && h < res.hash {
		res.hash = h
	}
	for i := range res.bare {
		if b, err := bareUpload(ctx, files, i+1); err == nil && b < res.bare[i] {
			res.bare[i] = b
		}
	}
	if res.barePeak, err = bareRSS(ctx, files); err != nil {
		return fail(err)
	}
	return res, env, nil
}

// bareUpload sends the files to a fresh emulator in bulk creates of 10, from
// loops concurrent loops.
func bareUpload(ctx context.Context, files []naive.BareFile, loops int) (time.Duration, error) {
	srv := focustest.NewServer(focustest.Options{Token: benchenv.Token})
	defer srv.Close()
	start := time.Now()
	err := naive.BareBulk(ctx, srv.Client(), srv.URL, benchenv.Org, benchenv.Workspace, 101, benchenv.Token, files, loops)
	return time.Since(start), err
}

// idleDaemon runs `focussync run` over env's synced folder and measures its CPU
// time and requests over spell once it is idle, and its memory.
func idleDaemon(ctx context.Context, env *benchenv.Env, spell time.Duration) (cpu float64, requests int, mem benchenv.Mem, err error) {
	start := time.Now()
	d, err := env.StartDaemon(ctx)
	if err != nil {
		return 0, 0, mem, err
	}
	defer func() {
		if code, serr := d.Stop(time.Minute); err == nil && (serr != nil || code != 0) {
			err = fmt.Errorf("daemon stop: exit %d, %v", code, serr)
		}
	}()
	if _, err = d.WaitIdle(ctx, start, 10*time.Minute); err != nil {
		return 0, 0, mem, err
	}
	mark := env.Mark()
	c0, err := benchenv.CPUSeconds(d.Pid())
	if err != nil {
		return 0, 0, mem, err
	}
	sleepCtx(ctx, spell)
	c1, err := benchenv.CPUSeconds(d.Pid())
	if err != nil {
		return 0, 0, mem, err
	}
	mem, err = benchenv.ReadMem(d.Pid())
	return c1 - c0, benchenv.Total(env.Since(mark)), mem, err
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// percentile returns the p-th percentile (nearest rank) of d.
func percentile(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	k := int(float64(len(s))*p+0.999999) - 1
	return s[max(0, min(k, len(s)-1))]
}
