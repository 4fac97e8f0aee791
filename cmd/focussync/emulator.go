package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/focussync/focussync/focus/focustest"
)

func init() {
	register(&command{name: "emulator", summary: "serve a local emulator of the Focus API, for trying focussync", run: runEmulator})
}

const emulatorUsage = "emulator [--listen ADDR] [--token T] [--quota N/DURATION] [--data DIR] [--latency D] [--fail-rate R] [--drop-rate R] [--public]"

// emulatorFlags are the parsed flags of the emulator command.
type emulatorFlags struct {
	listen   string
	public   bool
	opts     focustest.Options
	latency  time.Duration
	failRate float64
	dropRate float64
}

func parseEmulatorFlags(a *app, args []string) (*emulatorFlags, error) {
	fs := newFlagSet(a, "emulator", emulatorUsage)
	f := &emulatorFlags{}
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8765", "`address` to serve on (loopback only, unless --public)")
	fs.BoolVar(&f.public, "public", false, "allow a --listen address that is not loopback")
	fs.StringVar(&f.opts.Token, "token", "", "bearer `token` to require (default: accept any)")
	quota := fs.String("quota", "30/1h", "request quota per organization, as `N/DURATION`; \"0\" is unlimited")
	fs.StringVar(&f.opts.DataDir, "data", "", "keep uploaded content under this `directory` (default: keep only hashes and sizes)")
	fs.DurationVar(&f.latency, "latency", 0, "delay every answer by this long")
	fs.Float64Var(&f.failRate, "fail-rate", 0, "`fraction` of requests answered 500, between 0 and 1")
	fs.Float64Var(&f.dropRate, "drop-rate", 0, "`fraction` of requests applied and then left unanswered (connection closed), between 0 and 1")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	var err error
	if f.opts.Quota, f.opts.Window, err = parseQuotaFlag(*quota); err != nil {
		return nil, usageError{fmt.Sprintf("invalid --quota %q: %v", *quota, err)}
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"--fail-rate", f.failRate}, {"--drop-rate", f.dropRate}} {
		if r.v < 0 || r.v > 1 {
			return nil, usageError{fmt.Sprintf("invalid %s %v: want a fraction between 0 and 1", r.name, r.v)}
		}
	}
	if f.failRate+f.dropRate > 1 {
		return nil, usageError{"--fail-rate and --drop-rate add up to more than 1"}
	}
	if f.latency < 0 {
		return nil, usageError{fmt.Sprintf("invalid --latency %v: must not be negative", f.latency)}
	}
	host, _, err := net.SplitHostPort(f.listen)
	if err != nil {
		return nil, usageError{fmt.Sprintf("invalid --listen %q: %v", f.listen, err)}
	}
	if !f.public && !isLoopback(host) {
		return nil, usageError{fmt.Sprintf("--listen %s is not a loopback address; the emulator accepts any token by default, so add --public to serve it to other machines", f.listen)}
	}
	return f, nil
}

// parseQuotaFlag reads "N/DURATION" (e.g. "30/1h"); "0" means unlimited.
func parseQuotaFlag(s string) (int, time.Duration, error) {
	if s == "0" {
		return 0, 0, nil
	}
	ns, ds, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, errors.New(`want N/DURATION, e.g. 30/1h, or "0" for unlimited`)
	}
	n, err := strconv.Atoi(ns)
	if err != nil || n < 0 {
		return 0, 0, fmt.Errorf("%q is not a number of requests", ns)
	}
	d, err := time.ParseDuration(ds)
	if err != nil || d <= 0 {
		return 0, 0, fmt.Errorf("%q is not a positive duration", ds)
	}
	return n, d, nil
}

// isLoopback reports whether host names the loopback interface.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func runEmulator(ctx context.Context, a *app, args []string) error {
	f, err := parseEmulatorFlags(a, args)
	if err != nil {
		return err
	}
	if f.opts.DataDir != "" {
		if err := os.MkdirAll(f.opts.DataDir, 0o755); err != nil {
			return fmt.Errorf("create --data directory: %w", err)
		}
	}
	f.opts.LogLimit = 1000
	em := focustest.NewHandler(f.opts)
	em.SetLatency(f.latency)
	if f.failRate > 0 || f.dropRate > 0 {
		em.SetFaults(focustest.Faults{ServerErrorRate: f.failRate, DropAfterCommitRate: f.dropRate, Seed: time.Now().UnixNano()})
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", f.listen, err)
	}
	baseCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	srv := &http.Server{
		Handler:           em,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(a.stderr, "focussync emulator: ", 0),
	}
	base := "http://" + ln.Addr().String()
	pageNote := ""
	if f.opts.Token != "" {
		pageNote = "it asks for the token as password; "
	}
	fmt.Fprintf(a.stdout, "focussync emulator: API at %s/api, page at %s/ (%sCtrl-C to stop)\n", base, base, pageNote)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	cancel() // ends the latency waits of requests in flight
	shutdownCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down the emulator: %w", err)
	}
	return nil
}
