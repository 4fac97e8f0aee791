package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// stopGrace is how long a command may take to stop after SIGINT or SIGTERM
// before the process ends anyway.
const stopGrace = 10 * time.Second

// stopContext returns a context that the first SIGINT or SIGTERM cancels: every
// wait of a command (quota, retry pause, request, lock) watches it and returns.
// Should a command still be running stopGrace later (stuck where no context
// reaches, such as a kernel call on a hung network mount), or a second signal
// come, the process exits with code 1 and says why on w. release stops the
// watch; call it when the command returned.
func stopContext(w io.Writer) (ctx context.Context, release func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-done:
			return
		}
		t := time.NewTimer(stopGrace)
		defer t.Stop()
		select {
		case s := <-sigs:
			fmt.Fprintf(w, "focussync: %s again: exiting now\n", s)
			os.Exit(1)
		case <-t.C:
			fmt.Fprintf(w, "focussync: still not stopped %s after the signal: exiting\n", stopGrace)
			os.Exit(1)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}
