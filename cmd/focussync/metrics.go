package main

import (
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/focussync/focussync/daemon"
	"github.com/focussync/focussync/syncer"
)

// metricsNamespace prefixes every focussync metric.
const metricsNamespace = "focussync"

// newMetrics returns the registry of the status server and its GET /metrics
// handler: the daemon's state read from src at each scrape, the process and Go
// runtime collectors, and the handler's own request counts. More collectors may
// be registered in it.
func newMetrics(src func() daemon.Status) (*prometheus.Registry, http.Handler) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
		newStatusCollector(src),
		newLeaseCollector(src),
	)
	return reg, promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg,
	}))
}

// statusCollector turns one status snapshot per scrape into metrics. The daemon
// keeps its own counts (syncer.Metrics, the pass histogram, each folder's state);
// reading them at scrape time keeps one source of truth for /status, the status
// page and /metrics.
type statusCollector struct {
	src func() daemon.Status
	now func() time.Time

	up, buildInfo, uptime, apiPaused                             *prometheus.Desc
	requests, uploads, uploadBytes, retries, operations          *prometheus.Desc
	quotaRemaining, quotaResetIn, quotaResetAt                   *prometheus.Desc
	pending, files, folderPaused, failures, refused, unconfirmed *prometheus.Desc
	lastPass, lastSuccess, folderReady, held, skipped            *prometheus.Desc
	passDuration                                                 *prometheus.Desc
}

var _ prometheus.Collector = (*statusCollector)(nil)

func newStatusCollector(src func() daemon.Status) *statusCollector {
	folder := []string{"folder", "task_id"}
	org := []string{"organization_id"}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(metricsNamespace+"_"+name, help, labels, nil)
	}
	return &statusCollector{
		src:       src,
		now:       time.Now,
		up:        d("up", "1 while the daemon is running."),
		buildInfo: d("build_info", "The running build: version, commit and Go version as labels; always 1.", "version", "commit", "goversion"),
		uptime:    d("uptime_seconds", "Seconds since the daemon started."),
		apiPaused: d("api_paused", "1 while all work is paused because the API token was refused."),

		requests:    d("requests_total", "API requests sent, by endpoint and outcome (ok, an HTTP status, transport or error).", "endpoint", "status"),
		uploads:     d("uploads_total", "Files uploaded."),
		uploadBytes: d("upload_bytes_total", "Bytes of the files uploaded."),
		retries:     d("retries_total", "API requests retried after a failure."),
		operations:  d("operations_total", "Operations done by the passes, by kind: upload, replace (an old version deleted after its new one), rename, reorder, delete, adopt.", "kind"),

		quotaRemaining: d("quota_remaining", "Requests left in the hourly API quota of the organization; -1 when not yet known.", org...),
		quotaResetIn:   d("quota_reset_seconds", "Seconds until the organization's API quota resets; -1 when not known.", org...),
		quotaResetAt:   d("quota_reset_timestamp_seconds", "When the organization's API quota resets, as a Unix time; absent while not known.", org...),

		pending:      d("pending_operations", "Operations the folder's last plan had left to do, deletes held for a confirmation included.", folder...),
		files:        d("files_tracked", "Files of the folder with an attachment managed by focussync.", folder...),
		folderPaused: d("folder_paused", "1 while the folder is paused (root missing, moved or emptied, or the token refused).", folder...),
		failures:     d("failures", "Files of the folder that could not be synced in its last pass, refused ones included.", folder...),
		refused:      d("refused_files", "Files of the folder the server refused (too large, say); retried when they change.", folder...),
		unconfirmed:  d("unconfirmed_writes", "Writes sent to the API whose outcome is not known yet; a later pass settles them.", folder...),
		lastPass:     d("last_pass_timestamp_seconds", "When the folder's last pass ended, as a Unix time; absent before the first pass.", folder...),
		lastSuccess:  d("last_success_timestamp_seconds", "When a pass last left the folder fully in sync, as a Unix time; absent until one has.", folder...),
		held:         d("held_deletes", "Deletes held back in the folder until a person confirms them (mass-delete guard, an emptied or missing folder).", folder...),
		skipped:      d("skipped_files", "Files of the folder its last pass left alone: settling, too large, unreadable or refused by the server.", folder...),
		folderReady:  d("folder_ready", "1 while the folder is in sync or waits only on the API quota (what /readyz checks).", folder...),

		passDuration: d("pass_duration_seconds", "Durations of the sync passes since the daemon started."),
	}
}

// Describe sends every metric's description.
func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.up, c.buildInfo, c.uptime, c.apiPaused,
		c.requests, c.uploads, c.uploadBytes, c.retries, c.operations,
		c.quotaRemaining, c.quotaResetIn, c.quotaResetAt,
		c.pending, c.files, c.folderPaused, c.failures, c.refused, c.unconfirmed,
		c.lastPass, c.lastSuccess, c.folderReady, c.held, c.skipped,
		c.passDuration,
	} {
		ch <- d
	}
}

// Collect reads one status snapshot and sends its metrics.
func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.src()
	now := c.now()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}

	gauge(c.up, 1)
	v, commit, _ := buildInfo()
	if st.Version != "" {
		v = st.Version
	}
	gauge(c.buildInfo, 1, v, commit, runtime.Version())
	up := 0.0
	if !st.Started.IsZero() {
		up = max(now.Sub(st.Started).Seconds(), 0)
	}
	gauge(c.uptime, up)
	gauge(c.apiPaused, bool01(st.Paused != ""))

	for _, r := range st.Metrics.Requests {
		counter(c.requests, float64(r.Count), string(r.Endpoint), r.Status)
	}
	counter(c.uploads, float64(st.Metrics.Uploads))
	counter(c.uploadBytes, float64(st.Metrics.Bytes))
	counter(c.retries, float64(st.Metrics.Retries))
	for _, kind := range syncer.OperationKinds {
		counter(c.operations, float64(st.Metrics.Operations[kind]), kind)
	}

	for _, q := range st.Quota {
		o := itoa(q.Organization)
		remaining, resetIn := -1.0, -1.0
		if q.Known {
			remaining = float64(q.Remaining)
			if !q.ResetAt.IsZero() {
				resetIn = max(q.ResetAt.Sub(now).Seconds(), 0)
				gauge(c.quotaResetAt, unixSeconds(q.ResetAt), o)
			}
		}
		gauge(c.quotaRemaining, remaining, o)
		gauge(c.quotaResetIn, resetIn, o)
	}

	for _, f := range st.Folders {
		l := []string{validUTF8(f.Path), itoa(f.Task)}
		gauge(c.pending, float64(f.Pending), l...)
		gauge(c.files, float64(f.Files), l...)
		gauge(c.folderPaused, bool01(f.Paused != "" || f.State == "paused"), l...)
		gauge(c.failures, float64(len(f.Failures)), l...)
		gauge(c.refused, float64(f.Refused), l...)
		gauge(c.unconfirmed, float64(f.Unconfirmed), l...)
		gauge(c.held, float64(f.HeldDeletes), l...)
		gauge(c.skipped, float64(len(f.Skipped)), l...)
		if !f.LastPass.IsZero() {
			gauge(c.lastPass, unixSeconds(f.LastPass), l...)
		}
		if !f.LastSuccess.IsZero() {
			gauge(c.lastSuccess, unixSeconds(f.LastSuccess), l...)
		}
		gauge(c.folderReady, bool01(folderReadiness(f, st.Quota) == ""), l...)
	}

	h := st.PassDurations
	buckets := make(map[float64]uint64, len(h.Bounds))
	for i, le := range h.Bounds {
		buckets[le] = h.Counts[i]
	}
	if len(buckets) == 0 {
		for _, le := range daemon.PassBuckets {
			buckets[le] = 0
		}
	}
	ch <- prometheus.MustNewConstHistogram(c.passDuration, h.Count, h.Sum, buckets)
}

// unixSeconds is t as fractional seconds since the Unix epoch.
func unixSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1e3 }

// validUTF8 replaces bytes that are not UTF-8 (possible in folder paths) with
// U+FFFD, since label values must be UTF-8.
func validUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
