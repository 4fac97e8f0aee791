package main

import (
	"bytes"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/focussync/focussync/daemon"
)

// scrape fetches /metrics from addr, parses it with the Prometheus text parser
// and fails the test on any promlint problem.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, body := statusGet(t, http.MethodGet, "http://"+addr+"/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type = %q, want the text format 0.0.4", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatalf("promlint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	return mfs
}

// metricValue returns the value of the family's sample whose labels include
// labels (name, value pairs); ok is false when there is none.
func metricValue(mfs map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

func mustValue(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	v, ok := metricValue(mfs, name, labels...)
	if !ok {
		t.Fatalf("/metrics has no sample %s%v", name, labels)
	}
	return v
}

func TestStatusServer_Metrics(t *testing.T) {
	now := time.Now()
	st := sampleStatus(now)
	addr := startTestStatusServer(t, st)
	for _, path := range []string{"/", "/status", "/status", "/readyz", "/nothing"} {
		statusGet(t, http.MethodGet, "http://"+addr+path)
	}
	mfs := scrape(t, addr)

	acme := []string{"folder", "/srv/share/acme", "task_id", "101"}
	odd := []string{"folder", oddFolder, "task_id", "102"}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"focussync_up", nil, 1},
		{"focussync_http_requests_total", []string{"handler", "/", "code", "200"}, 1},
		{"focussync_http_requests_total", []string{"handler", "/status", "code", "200"}, 2},
		{"focussync_http_requests_total", []string{"handler", "/readyz", "code", "503"}, 1},
		{"focussync_build_info", []string{"version", "1.2.3"}, 1},
		{"focussync_api_paused", nil, 0},
		{"focussync_requests_total", []string{"endpoint", "bulk", "status", "ok"}, 3},
		{"focussync_requests_total", []string{"endpoint", "bulk", "status", "502"}, 1},
		{"focussync_requests_total", []string{"endpoint", "list", "status", "ok"}, 2},
		{"focussync_uploads_total", nil, 25},
		{"focussync_upload_bytes_total", nil, 123456789},
		{"focussync_retries_total", nil, 1},
		{"focussync_quota_remaining", []string{"organization_id", "11"}, 23},
		{"focussync_quota_remaining", []string{"organization_id", "12"}, -1},
		{"focussync_quota_reset_seconds", []string{"organization_id", "12"}, -1},
		{"focussync_files_tracked", acme, 42},
		{"focussync_files_tracked", odd, 7},
		{"focussync_pending_operations", acme, 0},
		{"focussync_pending_operations", odd, 3},
		{"focussync_folder_paused", acme, 0},
		{"focussync_folder_paused", odd, 1},
		{"focussync_failures", acme, 1},
		{"focussync_failures", odd, 0},
		{"focussync_refused_files", acme, 1},
		{"focussync_unconfirmed_writes", acme, 0},
		{"focussync_unconfirmed_writes", odd, 0},
		{"focussync_folder_ready", acme, 0}, // a refused file: not in sync
		{"focussync_folder_ready", odd, 0},
		{"focussync_last_pass_timestamp_seconds", acme, unixSeconds(st.Folders[0].LastPass)},
		{"focussync_quota_reset_timestamp_seconds", []string{"organization_id", "11"}, unixSeconds(st.Quota[0].ResetAt)},
		{"focussync_last_success_timestamp_seconds", acme, unixSeconds(st.Folders[0].LastSuccess)},
		{"focussync_held_deletes", acme, 0},
		{"focussync_held_deletes", odd, 9},
		{"focussync_skipped_files", acme, 2},
		{"focussync_skipped_files", odd, 0},
		{"focussync_operations_total", []string{"kind", "upload"}, 25},
		{"focussync_operations_total", []string{"kind", "rename"}, 2},
		{"focussync_operations_total", []string{"kind", "delete"}, 1},
		{"focussync_operations_total", []string{"kind", "adopt"}, 0},
	} {
		if got := mustValue(t, mfs, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"focussync_quota_reset_timestamp_seconds", []string{"organization_id", "12"}}, // not known
		{"focussync_last_pass_timestamp_seconds", odd},                                 // no pass yet
		{"focussync_last_success_timestamp_seconds", odd},
	} {
		if v, ok := metricValue(mfs, c.name, c.labels...); ok {
			t.Errorf("%s%v = %v, want no sample", c.name, c.labels, v)
		}
	}
	if bi := mfs["focussync_build_info"].Metric[0]; labelOf(bi, "commit") == "" || !strings.HasPrefix(labelOf(bi, "goversion"), "go") {
		t.Errorf("build_info labels = %v, want a commit and a Go version", bi.Label)
	}
	// Times are measured against the clock: check they are plausible, not exact.
	if v := mustValue(t, mfs, "focussync_quota_reset_seconds", "organization_id", "11"); v <= 0 || v > 41*60+30 {
		t.Errorf("quota reset = %v s, want in (0, 2490]", v)
	}
	if v := mustValue(t, mfs, "focussync_uptime_seconds"); v < 3*3600 {
		t.Errorf("uptime = %v s, want at least 3h", v)
	}
	// The process and Go runtime collectors.
	for _, name := range []string{"process_start_time_seconds", "process_resident_memory_bytes", "go_goroutines", "go_memstats_heap_alloc_bytes", "promhttp_metric_handler_requests_total"} {
		if mfs[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if mf := mfs["focussync_requests_total"]; mf.GetType() != dto.MetricType_COUNTER {
		t.Errorf("focussync_requests_total is a %s, want a counter", mf.GetType())
	}

	h := mfs["focussync_pass_duration_seconds"]
	if h == nil || h.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("focussync_pass_duration_seconds is not a histogram: %v", h)
	}
	hist := h.Metric[0].Histogram
	if hist.GetSampleCount() != 4 || math.Abs(hist.GetSampleSum()-402.304) > 1e-9 {
		t.Errorf("pass durations: count %d sum %v, want 4 and 402.304", hist.GetSampleCount(), hist.GetSampleSum())
	}
	want := map[float64]uint64{0.01: 1, 0.25: 1, 0.5: 2, 2.5: 3, 300: 3}
	for _, b := range hist.Bucket {
		if w, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
	if len(hist.Bucket) != len(daemon.PassBuckets)+1 { // and +Inf
		t.Errorf("%d buckets, want %d", len(hist.Bucket), len(daemon.PassBuckets)+1)
	}
}

func labelOf(m *dto.Metric, name string) string {
	for _, lp := range m.Label {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

// TestStatusServer_MetricsEscaping checks that a folder path with quotes,
// backslashes, a newline and bytes that are not UTF-8 comes out as a valid label.
func TestStatusServer_MetricsEscaping(t *testing.T) {
	st := daemon.Status{Folders: []daemon.FolderStatus{{Path: "/a\nb\\c\"d\xff", Task: 1}}}
	mfs := scrape(t, startTestStatusServer(t, st))
	if _, ok := metricValue(mfs, "focussync_files_tracked", "folder", "/a\nb\\c\"d\uFFFD"); !ok {
		t.Errorf("no files_tracked sample for the odd folder: %v", mfs["focussync_files_tracked"])
	}
}

// TestStatusServer_MetricsEmpty checks a daemon with no folder and no pass yet:
// the histogram is there, all zeros, and the output lints clean.
func TestStatusServer_MetricsEmpty(t *testing.T) {
	mfs := scrape(t, startTestStatusServer(t, daemon.Status{}))
	h := mfs["focussync_pass_duration_seconds"]
	if h == nil || h.Metric[0].Histogram.GetSampleCount() != 0 || len(h.Metric[0].Histogram.Bucket) != len(daemon.PassBuckets)+1 {
		t.Errorf("empty pass histogram = %v", h)
	}
	if v := mustValue(t, mfs, "focussync_uptime_seconds"); v != 0 {
		t.Errorf("uptime = %v, want 0", v)
	}
	var buf bytes.Buffer
	for name := range mfs {
		if strings.HasPrefix(name, "focussync_") {
			buf.WriteString(name + " ")
		}
	}
	t.Logf("families: %s", buf.String())
}
