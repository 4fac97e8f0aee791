package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/focussync/focussync/syncer"
)

// statusShutdown is how long in-flight status requests get once the daemon stops.
const statusShutdown = 2 * time.Second

// startStatus starts the daemon's status server on [status] listen, serving d's
// status until ctx ends. It does nothing when the listen address is "".
func startStatus(ctx context.Context, rt *daemonEnv, d *syncer.Daemon) error {
	_, err := startStatusServer(ctx, rt.cfg.Status.Listen, d.Status, rt.log)
	return err
}

// startStatusServer serves GET /status (src as JSON), GET /metrics (Prometheus text
// format) and GET / (a pointer to both) on listen until ctx ends, then shuts the
// server down gracefully. It returns the address it listens on (useful with port 0),
// or "" and no error when listen is "" (the server is off). An address that cannot
// be listened on is an error naming [status] listen.
func startStatusServer(ctx context.Context, listen string, src func() syncer.Status, log *slog.Logger) (string, error) {
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
	log.Info("status server listening", "status", "http://"+addr+"/status", "metrics", "http://"+addr+"/metrics")
	return addr, nil
}

// statusExposed reports whether a listen address reaches beyond this machine:
// any host but a loopback one, including "" (every interface).
func statusExposed(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	return err != nil || !isLoopback(host)
}

// statusHandler routes the status server's requests. Only GET (and HEAD) are
// allowed; the mux answers 405 to other methods and 404 to other paths.
func statusHandler(src func() syncer.Status) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "focussync status server\n\n"+
			"GET /status   the daemon's state as JSON (folders, failures, quota)\n"+
			"GET /metrics  metrics in the Prometheus text format\n")
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		b, err := json.MarshalIndent(src(), "", "  ")
		if err != nil {
			http.Error(w, "encode status: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(append(b, '\n'))
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		b := writeMetrics(nil, src(), time.Now())
		w.Header().Set("Content-Type", metricsContentType)
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b)
	})
	return mux
}

// metricsContentType is the Prometheus text exposition format, version 0.0.4.
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// writeMetrics appends st in the Prometheus text format to b. now is the time the
// uptime and the quota resets are measured from.
func writeMetrics(b []byte, st syncer.Status, now time.Time) []byte {
	m := metricsWriter{b: b}

	m.family("focussync_up", "gauge", "1 while the daemon is running.")
	m.sample("focussync_up", nil, 1)

	m.family("focussync_build_info", "gauge", "The running version, as a label; always 1.")
	m.sample("focussync_build_info", []string{"version", st.Version}, 1)

	m.family("focussync_uptime_seconds", "gauge", "Seconds since the daemon started.")
	up := 0.0
	if !st.Started.IsZero() {
		up = max(now.Sub(st.Started).Seconds(), 0)
	}
	m.sample("focussync_uptime_seconds", nil, up)

	m.family("focussync_api_paused", "gauge", "1 while all work is paused because the API token was refused.")
	m.sample("focussync_api_paused", nil, bool01(st.Paused != ""))

	m.family("focussync_requests_total", "counter", "API requests sent, by endpoint and outcome (ok, an HTTP status, transport or error).")
	for _, r := range st.Metrics.Requests {
		m.sample("focussync_requests_total", []string{"endpoint", string(r.Endpoint), "status", r.Status}, float64(r.Count))
	}
	m.family("focussync_uploads_total", "counter", "Files uploaded.")
	m.sample("focussync_uploads_total", nil, float64(st.Metrics.Uploads))
	m.family("focussync_upload_bytes_total", "counter", "Bytes of the files uploaded.")
	m.sample("focussync_upload_bytes_total", nil, float64(st.Metrics.Bytes))
	m.family("focussync_retries_total", "counter", "API requests retried after a failure.")
	m.sample("focussync_retries_total", nil, float64(st.Metrics.Retries))

	m.family("focussync_quota_remaining", "gauge", "Requests left in the hourly API quota of the organization; -1 when not yet known.")
	for _, q := range st.Quota {
		v := -1.0
		if q.Known {
			v = float64(q.Remaining)
		}
		m.sample("focussync_quota_remaining", []string{"organization_id", itoa(q.Organization)}, v)
	}
	m.family("focussync_quota_reset_seconds", "gauge", "Seconds until the organization's API quota resets; -1 when not known.")
	for _, q := range st.Quota {
		v := -1.0
		if q.Known && !q.ResetAt.IsZero() {
			v = max(q.ResetAt.Sub(now).Seconds(), 0)
		}
		m.sample("focussync_quota_reset_seconds", []string{"organization_id", itoa(q.Organization)}, v)
	}

	folderGauges := []struct {
		name, help string
		value      func(syncer.FolderStatus) float64
	}{
		{"focussync_pending_operations", "Operations the folder's last plan had left to do.",
			func(f syncer.FolderStatus) float64 { return float64(f.Pending) }},
		{"focussync_files_tracked", "Files of the folder with an attachment managed by focussync.",
			func(f syncer.FolderStatus) float64 { return float64(f.Files) }},
		{"focussync_folder_paused", "1 while the folder is paused (root missing, moved or emptied, or the token refused).",
			func(f syncer.FolderStatus) float64 { return bool01(f.Paused != "" || f.State == "paused") }},
		{"focussync_failures", "Files of the folder that could not be synced in its last pass.",
			func(f syncer.FolderStatus) float64 { return float64(len(f.Failures)) }},
	}
	for _, g := range folderGauges {
		m.family(g.name, "gauge", g.help)
		for _, f := range st.Folders {
			m.sample(g.name, []string{"folder", f.Path, "task_id", itoa(f.Task)}, g.value(f))
		}
	}

	m.family("focussync_pass_duration_seconds", "histogram", "Durations of the sync passes since the daemon started.")
	h := st.PassDurations
	for i, le := range h.Bounds {
		m.sample("focussync_pass_duration_seconds_bucket", []string{"le", formatFloat(le)}, float64(h.Counts[i]))
	}
	m.sample("focussync_pass_duration_seconds_bucket", []string{"le", "+Inf"}, float64(h.Count))
	m.sample("focussync_pass_duration_seconds_sum", nil, h.Sum)
	m.sample("focussync_pass_duration_seconds_count", nil, float64(h.Count))
	return m.b
}

// metricsWriter appends lines of the Prometheus text format.
type metricsWriter struct{ b []byte }

// family writes the HELP and TYPE lines of a metric.
func (m *metricsWriter) family(name, typ, help string) {
	m.b = append(m.b, "# HELP "+name+" "...)
	m.b = appendEscaped(m.b, help, false)
	m.b = append(m.b, "\n# TYPE "+name+" "+typ+"\n"...)
}

// sample writes one sample; labels are name, value pairs.
func (m *metricsWriter) sample(name string, labels []string, v float64) {
	m.b = append(m.b, name...)
	if len(labels) > 0 {
		m.b = append(m.b, '{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				m.b = append(m.b, ',')
			}
			m.b = append(m.b, labels[i]+`="`...)
			m.b = appendEscaped(m.b, labels[i+1], true)
			m.b = append(m.b, '"')
		}
		m.b = append(m.b, '}')
	}
	m.b = append(m.b, ' ')
	m.b = append(m.b, formatFloat(v)...)
	m.b = append(m.b, '\n')
}

// appendEscaped appends s escaped for the text format: backslash and newline
// always, the double quote in label values. Bytes that are not UTF-8 (possible in
// folder paths) become U+FFFD, since the format is UTF-8.
func appendEscaped(b []byte, s string, quote bool) []byte {
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '\\':
			b = append(b, `\\`...)
		case r == '\n':
			b = append(b, `\n`...)
		case r == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return b
}

// formatFloat formats a sample value or bucket bound as the text format expects.
func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10) // counts and bytes read better without an exponent
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
