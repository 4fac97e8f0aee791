package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/focussync/focussync/daemon"
)

// statusShutdown is how long in-flight status requests get once the daemon stops.
const statusShutdown = 2 * time.Second

// startStatus starts the daemon's status server on [status] listen, serving d's
// status until ctx ends. alive are the liveness checks of the daemon's other
// loops. It does nothing when the listen address is "".
func startStatus(ctx context.Context, rt *daemonEnv, d *daemon.Daemon, alive []livenessCheck) error {
	_, err := serveStatus(ctx, rt.cfg.Status.Listen, statusSource{Status: d.Status, Alive: alive, Activity: rt.activity}, rt.log)
	return err
}

// startStatusServer serves GET / (the status page), GET /status (src as JSON),
// GET /metrics (Prometheus text format), GET /healthz and GET /readyz on listen
// until ctx ends, then shuts the server down gracefully. It returns the address it
// listens on (useful with port 0), or "" and no error when listen is "" (the
// server is off). An address that cannot be listened on is an error naming
// [status] listen.
func startStatusServer(ctx context.Context, listen string, src func() daemon.Status, log *slog.Logger) (string, error) {
	return serveStatus(ctx, listen, statusSource{Status: src}, log)
}

// serveStatus is startStatusServer with every source of the status server: see
// statusSource.
func serveStatus(ctx context.Context, listen string, src statusSource, log *slog.Logger) (string, error) {
	if listen == "" {
		return "", nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", listen)
	if err != nil {
		hint := "fix the address, or set it to \"\" to turn the status server off"
		if errors.Is(err, syscall.EADDRINUSE) {
			hint = "the port is taken: is focussync already running? pick another port, or set it to \"\" to turn the status server off"
		}
		return "", fmt.Errorf("[status] listen = %q: %w (%s)", listen, err, hint)
	}
	addr := ln.Addr().String()
	if statusExposed(listen) {
		log.Warn("the status server listens beyond this machine and its /status names the synced folders; "+
			"set [status] listen to a loopback address such as 127.0.0.1:7788 unless that is intended", "addr", addr)
	}
	srv := &http.Server{
		Handler:           statusHandler(src),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("status server stopped", "addr", addr, "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), statusShutdown)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			log.Debug("status server shutdown", "err", err)
			_ = srv.Close()
		}
	}()
	log.Info("status server listening", "page", "http://"+addr+"/", "status", "http://"+addr+"/status", "metrics", "http://"+addr+"/metrics",
		"health", "http://"+addr+"/healthz", "ready", "http://"+addr+"/readyz")
	return addr, nil
}

// statusExposed reports whether a listen address reaches beyond this machine:
// any host but a loopback one, including "" (every interface).
func statusExposed(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	return err != nil || !isLoopback(host)
}

// statusSource is what the status server reports on.
type statusSource struct {
	// Status is the daemon's state (required).
	Status func() daemon.Status
	// Alive are the checks of /healthz and the systemd watchdog; the status
	// answering is always one of them.
	Alive []livenessCheck
	// Activity holds the recent events the status page lists; nil for none.
	Activity *activityLog
}

// statusHandler routes the status server's requests. Only GET (and HEAD) are
// allowed; the mux answers 405 to other methods and 404 to other paths.
func statusHandler(src statusSource) http.Handler {
	mux := http.NewServeMux()
	reg, metrics := newMetrics(src.Status)
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: metricsNamespace + "_http_requests_total",
		Help: "Requests answered by the status server, by handler and HTTP status code.",
	}, []string{"handler", "code"})
	reg.MustRegister(requests)
	route := func(pattern string, h http.Handler) {
		handler := strings.TrimSuffix(pattern[strings.Index(pattern, " ")+1:], "{$}")
		mux.Handle(pattern, promhttp.InstrumentHandlerCounter(requests.MustCurryWith(prometheus.Labels{"handler": handler}), h))
	}
	route("GET /{$}", statusPage())
	route("GET /status", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, src.Status())
	}))
	route("GET /activity", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		events := []activityEvent{}
		if src.Activity != nil {
			events = src.Activity.Recent()
		}
		writeJSON(w, events)
	}))
	route("GET /healthz", healthHandler(append([]livenessCheck{statusAnswers(src.Status)}, src.Alive...), aliveTimeout))
	route("GET /readyz", readyHandler(src.Status))
	route("GET /metrics", metrics)
	return mux
}

// writeJSON answers v as indented JSON that is never cached.
func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "encode: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(b, '\n'))
}
