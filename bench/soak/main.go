// Command soak runs the focussync daemon for minutes against the emulator with
// every fault on at once (5xx, 429, connections dropped after commit, latency,
// a quota of 30 requests per 20 s, SIGKILL and restart, SIGHUP reloads) while a
// workload adds, renames, edits, moves and deletes files in two folders. Then
// it turns the faults off, waits for convergence and checks that every task
// mirrors its folder exactly, with no duplicate, no loss, no hand-made
// attachment touched and every refused file reported. It exits 1 when a check
// fails. Everything runs on loopback.
//
//	go run ./bench/soak -duration 5m -seed 1 -out soak.md
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/focussync/focussync/bench/internal/benchenv"
	"github.com/focussync/focussync/bench/internal/soak"
)

func main() {
	duration := flag.Duration("duration", 5*time.Minute, "how long the faults and the workload go on")
	converge := flag.Duration("converge", 5*time.Minute, "deadline for convergence once the faults are off")
	seed := flag.Int64("seed", time.Now().UnixNano()%1_000_000, "seed of the workload, the faults and the chaos")
	out := flag.String("out", "", "write the figures as a markdown fragment to this file")
	bin := flag.String("bin", "", "focussync binary to test (default: build ./cmd/focussync)")
	keep := flag.Bool("keep", false, "keep the scratch directory (it is kept anyway when a check fails)")
	harsh := flag.Bool("harsh", false, "fault rates 2.5 times higher and a SIGKILL every 5-20 s")
	twoHosts := flag.Bool("two-hosts", false, "a second daemon with its own state db on the same folders (as a second machine on one share); each SIGKILL hits the lease holder")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "soak: unexpected arguments:", flag.Args())
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, *duration, *converge, *seed, *out, *bin, *keep, *harsh, *twoHosts))
}

func run(ctx context.Context, duration, converge time.Duration, seed int64, out, bin string, keep, harsh, twoHosts bool) int {
	dir, err := os.MkdirTemp("", "focussync-soak-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 1
	}
	if bin == "" {
		if bin, err = benchenv.Build(ctx, dir); err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			return 1
		}
	}
	scratch := filepath.Join(dir, "scene")
	if err := os.Mkdir(scratch, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 1
	}
	fmt.Printf("soak: seed %d, %s of faults, scratch %s\n", seed, duration, scratch)
	fig, err := soak.Run(ctx, soak.Options{Bin: bin, Dir: scratch, Duration: duration, Converge: converge, Seed: seed, Harsh: harsh, TwoHosts: twoHosts, Log: os.Stdout})
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v (scratch kept in %s)\n", err, dir)
		return 1
	}
	md := fig.Markdown()
	fmt.Print("\n", md)
	if len(fig.WorkloadErrors) > 0 {
		fmt.Printf("\nworkload errors (not checks): %q\n", fig.WorkloadErrors)
	}
	if out != "" {
		if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			return 1
		}
	}
	if !fig.OK() {
		var logs strings.Builder
		for i, l := range fig.DaemonLogs {
			fmt.Fprintf(&logs, "--- daemon log %d ---\n%s\n", i+1, l)
		}
		p := filepath.Join(dir, "daemon-logs.txt")
		if err := os.WriteFile(p, []byte(logs.String()), 0o644); err == nil {
			fmt.Printf("\nsoak: daemon log tails and goroutine dumps of hung daemons are in %s\n", p)
		}
		fmt.Printf("\nsoak: FAIL (seed %d); scratch kept in %s\n", seed, dir)
		return 1
	}
	if !keep {
		os.RemoveAll(dir)
	} else {
		fmt.Println("soak: scratch kept in", dir)
	}
	fmt.Println("soak: PASS")
	return 0
}
