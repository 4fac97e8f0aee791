// Command report measures focussync and writes BENCHMARKS.md: requests per
// change against the minimum of DESIGN.md and a naive client, initial sync
// throughput against a floor, rescan cost against a bare walk, memory, idle
// cost, upload latency, and a soak with every fault on. Everything runs the
// real binary against the in-process emulator on loopback.
//
//	go run ./bench/report -o BENCHMARKS.md          # the full report (~20 minutes, 10 of them for -only million)
//	go run ./bench/report -quick -o /tmp/quick.md   # a smaller version
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/focussync/focussync/bench/internal/benchenv"
	"github.com/focussync/focussync/bench/internal/soak"
)

func main() {
	out := flag.String("o", "BENCHMARKS.md", "write the report to this file")
	quick := flag.Bool("quick", false, "smaller trees and shorter spells (a few minutes)")
	soakFor := flag.Duration("soak", 0, "duration of the soak's faults (default 3m, 1m with -quick; <0 skips it)")
	seed := flag.Int64("seed", 1, "seed of the soak and the generated trees")
	bin := flag.String("bin", "", "focussync binary (default: build ./cmd/focussync)")
	only := flag.String("only", "", "comma-separated sections to run: costs,soak,initial,rescan,bigfile,cluster,latency,million (default all)")
	tmpfs := flag.String("tmpfs", "/dev/shm", "directory on tmpfs for the million-file trees")
	scratch := flag.String("scratch", "", "directory for the state dbs and trees, on a disk file system as on a real host (default: the temp directory, or the user cache directory when the temp directory is in memory)")
	flag.Parse()
	if n := os.Getenv(holdEnv); n != "" {
		os.Exit(holdRecords(n)) // the memory floor's child process
	}
	if url := os.Getenv(bareEnv); url != "" {
		os.Exit(bareChild(url)) // the upload floor's child process
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *soakFor == 0 {
		*soakFor = 3 * time.Minute
		if *quick {
			*soakFor = time.Minute
		}
	}
	os.Exit(run(ctx, options{out: *out, quick: *quick, soak: *soakFor, seed: *seed, bin: *bin, only: *only, scratch: *scratch, tmpfs: *tmpfs}))
}

type options struct {
	out     string
	quick   bool
	soak    time.Duration
	seed    int64
	bin     string
	only    string
	scratch string
	tmpfs   string
}

func (o options) want(section string) bool {
	if o.only == "" {
		return true
	}
	for _, s := range strings.Split(o.only, ",") {
		if strings.TrimSpace(s) == section {
			return true
		}
	}
	return false
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s report: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, o options) int {
	began := time.Now()
	load0 := loadAverage()
	base, fsName, err := scratchBase(o.scratch)
	if err != nil {
		logf("%v", err)
		return 1
	}
	scratch, err := os.MkdirTemp(base, "focussync-report-")
	if err != nil {
		logf("%v", err)
		return 1
	}
	defer os.RemoveAll(scratch)
	if o.bin == "" {
		if o.bin, err = benchenv.Build(ctx, scratch); err != nil {
			logf("%v", err)
			return 1
		}
	}
	var body strings.Builder
	failed := 0
	section := func(title, intro string, fn func() (string, error)) {
		logf("section: %s", title)
		t := time.Now()
		md, err := fn()
		fmt.Fprintf(&body, "## %s\n\n%s\n\n", title, intro)
		if md != "" {
			body.WriteString(md)
			body.WriteString("\n")
		}
		if err != nil {
			failed++
			logf("FAILED %s: %v", title, err)
			fmt.Fprintf(&body, "**FAILED**: %s\n\n", strings.ReplaceAll(err.Error(), "\n", " "))
		}
		fmt.Fprintf(&body, "_Section took %s._\n\n", time.Since(t).Round(time.Second))
	}

	if o.want("costs") {
		section("1. Requests per change", costIntro, func() (string, error) {
			return costSection(ctx, o.bin, scratch, o.quick, logf)
		})
	}
	if o.want("soak") && o.soak > 0 {
		section("2. Soak: every fault at once", soakIntro, func() (string, error) {
			return soakSection(ctx, o, scratch)
		})
	}
	if o.want("initial") {
		section("3. Initial sync and idle cost", initialIntro, func() (string, error) {
			return initialSection(ctx, o.bin, scratch, o.quick, o.seed, logf)
		})
	}
	if o.want("rescan") {
		section("4. Rescan and memory with many tracked files", rescanIntro, func() (string, error) {
			return scanSection(ctx, o.bin, scratch, o.quick, logf)
		})
	}
	if o.want("bigfile") {
		section("5. Memory while uploading a large file", bigIntro, func() (string, error) {
			return bigFileSection(ctx, o.bin, scratch, o.quick, logf)
		})
	}
	if o.want("latency") {
		section("6. Latency from close to attachment", latencyIntro, func() (string, error) {
			return latencySection(ctx, o.bin, scratch, o.quick, logf)
		})
	}

	if o.want("million") {
		section("7. A million files", millionIntro, func() (string, error) {
			dir, err := os.MkdirTemp(o.tmpfs, "focussync-report-")
			if err != nil {
				return "", err
			}
			defer os.RemoveAll(dir)
			return millionSection(ctx, o.bin, dir, o.quick, logf)
		})
	}
	if o.want("cluster") {
		section("8. Several hosts on one share", clusterIntro, func() (string, error) {
			return clusterSection(ctx, o.bin, scratch, logf)
		})
	}

	var doc strings.Builder
	cmd := "go run ./bench/report -o BENCHMARKS.md"
	if o.quick {
		cmd = "go run ./bench/report -quick -o BENCHMARKS.md"
	}
	fmt.Fprintf(&doc, "# focussync benchmarks\n\nRegenerate this file with `%s` (about 15 minutes, 5 of them for the million-file section; `-only` runs chosen sections, `-quick` makes a smaller version in a few).\n", cmd)
	fmt.Fprintf(&doc, "Fuzzing is separate: `bench/fuzz.sh [fuzztime]`.\n\n")
	fmt.Fprintf(&doc, "- Generated %s in %s%s.\n", began.UTC().Format("2006-01-02 15:04 MST"), time.Since(began).Round(time.Second), quickNote(o.quick))
	if o.only != "" {
		fmt.Fprintf(&doc, "- This run made only the sections `-only %s` names.\n", o.only)
	}
	fmt.Fprintf(&doc, "- Machine: %s. Load average (1, 5, 15 min) %s at the start, %s at the end.\n", benchenv.Machine(), load0, loadAverage())
	fmt.Fprintf(&doc, "- The state dbs and the trees are on %s (%s), so that every commit pays a real fsync, as on a host.\n", fsName, base)
	fmt.Fprintf(&doc, "- Everything runs the real `focussync` binary against the in-process emulator (`focus/focustest`) on loopback. "+
		"The machine is shared with other work: read the ratios, measured side by side in the same run; absolute times are for orientation only.\n\n")
	doc.WriteString(body.String())
	if err := os.WriteFile(o.out, []byte(doc.String()), 0o644); err != nil {
		logf("%v", err)
		return 1
	}
	logf("wrote %s in %s", o.out, time.Since(began).Round(time.Second))
	if failed > 0 {
		logf("%d section(s) failed", failed)
		return 1
	}
	return 0
}

func quickNote(quick bool) string {
	if quick {
		return " (**-quick**: smaller trees and shorter spells)"
	}
	return ""
}

// soakSection runs the soak and renders its figures.
func soakSection(ctx context.Context, o options, scratch string) (string, error) {
	dir, err := os.MkdirTemp(scratch, "soak-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	fig, err := soak.Run(ctx, soak.Options{Bin: o.bin, Dir: dir, Duration: o.soak, Seed: o.seed, Log: os.Stderr})
	if err != nil {
		return "", err
	}
	md := fig.Markdown()
	if !fig.OK() {
		if p, err := saveLogs(fig); err == nil {
			logf("soak: daemon log tails and goroutine dumps are in %s", p)
		}
		return md, fmt.Errorf("the soak failed %d check(s) (seed %d; `go run ./bench/soak -seed %d -duration %s` repeats it)", len(fig.Failures), o.seed, o.seed, o.soak)
	}
	return md, nil
}

// saveLogs writes the soak's daemon log tails to a file that outlives the run.
func saveLogs(fig *soak.Figures) (string, error) {
	f, err := os.CreateTemp("", "focussync-soak-logs-*.txt")
	if err != nil {
		return "", err
	}
	for i, l := range fig.DaemonLogs {
		fmt.Fprintf(f, "--- daemon log %d ---\n%s\n", i+1, l)
	}
	return f.Name(), f.Close()
}

// initialSection measures the initial syncs and the idle daemon.
func initialSection(ctx context.Context, bin, scratch string, quick bool, seed int64, logf func(string, ...any)) (string, error) {
	many := treeSpec{label: "10,000 files of 1 KB to 1 MB (log-uniform sizes)", count: 10000, lo: 1 << 10, hi: 1 << 20, seed: uint64(seed)}
	large := treeSpec{label: "1 GiB in 4 files of 256 MiB", count: 4, lo: 256 << 20, hi: 256 << 20, seed: uint64(seed) + 1}
	idleSpell := time.Minute
	if quick {
		many.count, many.label = 2000, "2,000 files of 1 KB to 1 MB (log-uniform sizes)"
		large.count, large.lo, large.hi, large.label = 2, 128<<20, 128<<20, "256 MiB in 2 files of 128 MiB"
		idleSpell = 20 * time.Second
	}
	var b strings.Builder
	b.WriteString(initialHeader)
	res, env, err := initialSync(ctx, bin, scratch, many, logf)
	if err != nil {
		return b.String(), err
	}
	b.WriteString(res.row() + "\n")
	logf("idle: daemon over %d tracked files for %s", res.files, idleSpell)
	cpu, reqs, mem, ierr := idleDaemon(ctx, env, idleSpell)
	env.Close()
	os.RemoveAll(env.Dir)
	res2, env2, err := initialSync(ctx, bin, scratch, large, logf)
	if err != nil {
		return b.String(), err
	}
	env2.Close()
	os.RemoveAll(env2.Dir)
	b.WriteString(res2.row() + "\n")
	b.WriteString("\n| idle daemon (`run`) | figure |\n| --- | --- |\n")
	if ierr != nil {
		return b.String(), ierr
	}
	fmt.Fprintf(&b, "| tracked files | %d |\n", res.files)
	fmt.Fprintf(&b, "| spell measured, after the first pass | %s |\n", idleSpell)
	fmt.Fprintf(&b, "| CPU time (utime+stime) over the spell | **%.2f s** (%.2f%% of one core) |\n", cpu, 100*cpu/idleSpell.Seconds())
	fmt.Fprintf(&b, "| requests over the spell | **%d** |\n", reqs)
	fmt.Fprintf(&b, "| VmRSS / VmHWM at the end | %s / %s |\n", benchenv.MiB(mem.RSS), benchenv.MiB(mem.HWM))
	return b.String(), nil
}

const costIntro = "Requests sent for one change, counted by the emulator. focussync is measured by running the real binary: " +
	"`focussync sync` for one pass after the change (each a new process over intact state), `focussync run` for the daemon rows. " +
	"The naive client (bench/internal/naive) lists the task every pass, uploads each new file with one create, uploads a renamed or changed file again " +
	"and deletes the old attachment, and never reorders (its display order drifts, so its figures flatter it). " +
	"Each row starts from a folder that is already in sync."

const soakIntro = "`focussync run` against the emulator with every fault at once: 6% 500s, 4% 429s (Retry-After 1 s), 6% connections dropped after the write was committed, " +
	"latency varying between 0 and 120 ms, a quota of 30 requests per 20 s, SIGKILL and restart of the daemon every 15-45 s, SIGHUP with a changed settle every 15-40 s. " +
	"Meanwhile a workload adds (one at a time and in bursts of 8-17), renames (also in bursts), edits, appends to, moves (between two subfolders of a recursive folder, and between two folders mapped to two tasks) and deletes files, " +
	"with slow writers (a file written over seconds), files deleted 0.2-3 s after they appear (before, during or after their upload), names that are not UTF-8, empty files, " +
	"and a file in each folder that the server refuses. Three hand-made attachments are put in the tasks first. Then the faults stop and the soak waits for convergence " +
	"and checks: each task's attachments are exactly its folder's files (name = path with '/', bytes that are not UTF-8 escaped as \\xhh; SHA-256 of the content), " +
	"no duplicate, the hand-made attachments unchanged, the refused files reported by /status and by `focussync sync` (exit 1), no write in a 10 s quiet period, exit 0 on SIGTERM. " +
	"`go run ./bench/soak -duration 5m -seed N` runs it alone."

const initialIntro = "A fresh task, the emulator without latency and with an unlimited quota. The floor is what the same work costs without focussync: " +
	"reading and hashing the same files (as many workers as the scanner), plus the same uploads sent in bulk creates of 10 by bare loops of HTTP requests " +
	"(bench/internal/naive.BareBulk) to a fresh emulator: one loop, and two concurrent loops (a client that keeps two requests in flight); " +
	"each floor adds hash and upload times, so a client that hashes while it uploads can come out below 1. Files are in the page cache for both. The emulator runs in the report's process and hashes every upload, for both. " +
	"Each is measured twice, the floor before and after focussync, and focussync the second time as another host with its own state db into a task of its own; the faster of each pair counts. " +
	"The floor of the peak RSS is a bare uploader in a process of its own (the report's binary as a child, two loops of bare bulk creates), sampled as `sync` is. " +
	"A peak RSS counts the pages of the executable that the kernel mapped as well as the process's own memory; the latter (the highest RssAnon: heap, stacks, buffers) is in parentheses. " +
	"Then the daemon runs over the synced tree of many files: after its first pass, its CPU time and the requests it sends are counted for a minute (20 s with -quick)."

const rescanIntro = "A tree of 100 folders of 1,000 small files. First watcher.Scan alone with a cache from the previous snapshot (what every pass does); " +
	"the floor is a bare filepath.WalkDir with one Lstat per entry. Then the tree is synced once (quota 0) and rescanned by new `focussync sync` processes " +
	"(what a user or a cron job runs: open the state db, load, scan, plan, send nothing), each next to a bare walk. Then the daemon runs over it: its memory once idle, " +
	"next to a bare Go process that holds one small record per file (the report's own binary, run as a child)."

const bigIntro = "One sparse file uploaded by `focussync sync` (max_file_size raised); the peak RSS is VmHWM of the process, sampled from /proc every 20 ms while it runs. " +
	"The upload is streamed: memory must not grow with the file."

const latencyIntro = "A running daemon with settle = 300 ms and rescan = 2 s; files are added and renamed one at a time, 300 ms apart after each shows in Focus; " +
	"the time from each change until the emulator holds the attachment under its name, minus settle. The floor is one bare create request of the same file " +
	"(bench/internal/naive.BareBulk with one file) to a fresh emulator, timed right after."

const millionIntro = "1,000,000 small files in 1,000 folders of 1,000 (one recursive folder mapped to one task), next to 100,000 in 100 folders " +
	"(with -quick: 100,000 against 10,000), on tmpfs with the state db beside them (on a disk, the initial sync would wait for 100,000 fsynced commits). " +
	"For each: the initial `focussync sync` against the emulator with an unlimited quota (twice, the second by another host with its own state db into a task of its own; the faster counts), " +
	"a rescan by a new `sync` process (nothing to send; three times, each next to a bare walk; the fastest counts, as other work only slows a run), then the daemon over the synced tree: " +
	"its first pass, its memory 10 s later and the inotify watches it holds. No measure may grow faster than N log N. " +
	"The machine is shared: a single run of either size, slowed by other work, would decide a growth on its own."
