package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/syncer"
)

// oddFolder is a folder path holding the characters the metrics format escapes.
const oddFolder = `/srv/share/a "quoted"\dir`

// sampleStatus is a daemon status with two folders, two organizations (one quota
// not yet known), request counters and pass durations.
func sampleStatus(now time.Time) syncer.Status {
	return syncer.Status{
		Version: "1.2.3",
		Started: now.Add(-3 * time.Hour),
		Uptime:  "3h0m0s",
		Folders: []syncer.FolderStatus{
			{
				Path: "/srv/share/acme", Task: 101, State: "idle", Watch: "events", Files: 42, Pending: 0,
				LastPass: now.Add(-3*time.Minute - 10*time.Second),
				Failures: []syncer.Failure{{Path: "big.iso", Reason: "400 file too large", Refused: true}},
			},
			{
				Path: oddFolder, Task: 102, State: "paused", Watch: "poll", Files: 7, Pending: 3,
				Paused: "folder root is missing", LastError: "scan: permission denied",
			},
		},
		Quota: []syncer.QuotaStatus{
			{Organization: 11, Known: true, Remaining: 23, ResetAt: now.Add(41*time.Minute + 30*time.Second)},
			{Organization: 12},
		},
		Metrics: syncer.MetricsSnapshot{
			Requests: []syncer.RequestCount{
				{Endpoint: focus.EndpointBulk, Status: "ok", Count: 3},
				{Endpoint: focus.EndpointBulk, Status: "502", Count: 1},
				{Endpoint: focus.EndpointList, Status: "ok", Count: 2},
			},
			Uploads: 25, Bytes: 123456789, Retries: 1,
		},
		PassDurations: passHistogram(0.004, 0.3, 2, 400),
	}
}

// startTestStatusServer starts a status server for st on a free loopback port and
// stops it when the test ends.
func startTestStatusServer(t *testing.T, st syncer.Status) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	addr, err := startStatusServer(ctx, "127.0.0.1:0", func() syncer.Status { return st }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("startStatusServer: %v", err)
	}
	if addr == "" {
		t.Fatal("startStatusServer returned no address")
	}
	return addr
}

// statusGet sends a request to the test server and returns the response with its body read.
func statusGet(t *testing.T, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp, string(b)
}

func TestStatusServer_StatusJSON(t *testing.T) {
	now := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	want := sampleStatus(now)
	addr := startTestStatusServer(t, want)

	resp, body := statusGet(t, http.MethodGet, "http://"+addr+"/status")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /status: %s\n%s", resp.Status, body)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	if !strings.Contains(body, "\n  \"version\": \"1.2.3\"") {
		t.Errorf("body is not indented JSON:\n%s", body)
	}
	var got syncer.Status
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("decode /status: %v\n%s", err, body)
	}
	// Metrics and PassDurations are for /metrics only.
	want.Metrics, want.PassDurations = syncer.MetricsSnapshot{}, syncer.Histogram{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("/status round trip:\ngot  %+v\nwant %+v", got, want)
	}
}

func TestStatusServer_Metrics(t *testing.T) {
	addr := startTestStatusServer(t, sampleStatus(time.Now()))
	resp, body := statusGet(t, http.MethodGet, "http://"+addr+"/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
	}
	if got, want := resp.Header.Get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8"; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
	checkExposition(t, body)
	for _, line := range []string{
		"# HELP focussync_up 1 while the daemon is running.",
		"# TYPE focussync_up gauge",
		"focussync_up 1",
		`focussync_build_info{version="1.2.3"} 1`,
		"# TYPE focussync_requests_total counter",
		`focussync_requests_total{endpoint="bulk",status="ok"} 3`,
		`focussync_requests_total{endpoint="bulk",status="502"} 1`,
		`focussync_requests_total{endpoint="list",status="ok"} 2`,
		"# TYPE focussync_uploads_total counter",
		"focussync_uploads_total 25",
		"focussync_upload_bytes_total 123456789",
		"focussync_retries_total 1",
		"focussync_api_paused 0",
		`focussync_quota_remaining{organization_id="11"} 23`,
		`focussync_quota_remaining{organization_id="12"} -1`,
		`focussync_quota_reset_seconds{organization_id="12"} -1`,
		`focussync_files_tracked{folder="/srv/share/acme",task_id="101"} 42`,
		`focussync_files_tracked{folder="/srv/share/a \"quoted\"\\dir",task_id="102"} 7`,
		`focussync_pending_operations{folder="/srv/share/a \"quoted\"\\dir",task_id="102"} 3`,
		`focussync_folder_paused{folder="/srv/share/acme",task_id="101"} 0`,
		`focussync_folder_paused{folder="/srv/share/a \"quoted\"\\dir",task_id="102"} 1`,
		`focussync_failures{folder="/srv/share/acme",task_id="101"} 1`,
		`focussync_failures{folder="/srv/share/a \"quoted\"\\dir",task_id="102"} 0`,
		"# TYPE focussync_pass_duration_seconds histogram",
		`focussync_pass_duration_seconds_bucket{le="0.01"} 1`,
		`focussync_pass_duration_seconds_bucket{le="0.25"} 1`,
		`focussync_pass_duration_seconds_bucket{le="0.5"} 2`,
		`focussync_pass_duration_seconds_bucket{le="2.5"} 3`,
		`focussync_pass_duration_seconds_bucket{le="300"} 3`,
		`focussync_pass_duration_seconds_bucket{le="+Inf"} 4`,
		"focussync_pass_duration_seconds_sum 402.304",
		"focussync_pass_duration_seconds_count 4",
	} {
		if !hasLine(body, line) {
			t.Errorf("/metrics lacks the line\n  %s", line)
		}
	}
	// Times are measured against the clock: check they are plausible, not exact.
	if v := sampleValue(t, body, `focussync_quota_reset_seconds{organization_id="11"}`); v <= 0 || v > 41*60+30 {
		t.Errorf("quota reset = %v s, want in (0, 2490]", v)
	}
	if v := sampleValue(t, body, "focussync_uptime_seconds"); v < 3*3600 {
		t.Errorf("uptime = %v s, want at least 3h", v)
	}
}

// TestWriteMetrics_Escaping checks the escapes of label values and HELP text, and
// that bytes which are not UTF-8 do not leak into the output.
func TestWriteMetrics_Escaping(t *testing.T) {
	st := syncer.Status{Folders: []syncer.FolderStatus{{Path: "/a\nb\\c\"d\xff", Task: 1}}}
	out := string(writeMetrics(nil, st, time.Now()))
	checkExposition(t, out)
	want := `focussync_files_tracked{folder="/a\nb\\c\"d` + "\uFFFD" + `",task_id="1"} 0`
	if !hasLine(out, want) {
		t.Errorf("output lacks %s\n%s", want, out)
	}
	var b []byte
	if got := string(appendEscaped(b, "a\\b\n\"c\"", false)); got != `a\\b\n"c"` {
		t.Errorf("HELP escape = %s, want %s", got, `a\\b\n"c"`)
	}
}

// TestWriteMetrics_Empty checks a daemon with no folder and no pass yet: every
// family is still declared and the histogram is all zeros.
func TestWriteMetrics_Empty(t *testing.T) {
	out := string(writeMetrics(nil, syncer.Status{}, time.Now()))
	checkExposition(t, out)
	for _, line := range []string{
		"# TYPE focussync_files_tracked gauge",
		`focussync_pass_duration_seconds_bucket{le="+Inf"} 0`,
		"focussync_pass_duration_seconds_count 0",
		"focussync_uptime_seconds 0",
	} {
		if !hasLine(out, line) {
			t.Errorf("output lacks %s\n%s", line, out)
		}
	}
}

var (
	helpLine   = regexp.MustCompile(`^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*$`)
	typeLine   = regexp.MustCompile(`^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$`)
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? (-?[0-9.e+]+|\+Inf|-Inf|NaN)$`)
)

// checkExposition checks the text format: every line is a HELP, TYPE or sample
// line; every family has HELP then TYPE once, before its samples; samples of a
// family are together; counters end in _total.
func checkExposition(t *testing.T, body string) {
	t.Helper()
	if !strings.HasSuffix(body, "\n") {
		t.Errorf("exposition does not end with a newline")
	}
	help, typ := map[string]bool{}, map[string]string{}
	done := map[string]bool{} // families whose samples are over
	current := ""
	for i, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if m := helpLine.FindStringSubmatch(line); m != nil {
			if help[m[1]] {
				t.Errorf("line %d: second HELP for %s", i+1, m[1])
			}
			help[m[1]] = true
			continue
		}
		if m := typeLine.FindStringSubmatch(line); m != nil {
			if !help[m[1]] || typ[m[1]] != "" {
				t.Errorf("line %d: TYPE for %s without a HELP before it, or twice", i+1, m[1])
			}
			typ[m[1]] = m[2]
			if m[2] == "counter" && !strings.HasSuffix(m[1], "_total") {
				t.Errorf("line %d: counter %s does not end in _total", i+1, m[1])
			}
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("line %d is not valid exposition text: %q", i+1, line)
			continue
		}
		fam := m[1]
		if typ[fam] == "" {
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(fam, suf); ok && typ[base] == "histogram" {
					fam = base
				}
			}
		}
		if typ[fam] == "" {
			t.Errorf("line %d: sample of %s without a TYPE line", i+1, m[1])
		}
		if fam != current {
			if done[fam] {
				t.Errorf("line %d: samples of %s are not together", i+1, fam)
			}
			done[current] = true
			current = fam
		}
	}
}

func hasLine(body, line string) bool {
	for l := range strings.SplitSeq(body, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

// sampleValue returns the value of the sample whose name and labels are series.
func sampleValue(t *testing.T, body, series string) float64 {
	t.Helper()
	for l := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			var f float64
			if err := json.Unmarshal([]byte(v), &f); err != nil {
				t.Fatalf("sample %s: value %q: %v", series, v, err)
			}
			return f
		}
	}
	t.Fatalf("no sample %s in\n%s", series, body)
	return 0
}

func TestStatusServer_Routes(t *testing.T) {
	addr := startTestStatusServer(t, sampleStatus(time.Now()))
	for _, tc := range []struct {
		method, path string
		code         int
		body         string // a part of the body
	}{
		{"GET", "/", 200, "GET /metrics"},
		{"GET", "/", 200, "GET /status"},
		{"HEAD", "/status", 200, ""},
		{"GET", "/nothing", 404, ""},
		{"GET", "/status/extra", 404, ""},
		{"POST", "/status", 405, ""},
		{"DELETE", "/metrics", 405, ""},
		{"PUT", "/", 405, ""},
	} {
		resp, body := statusGet(t, tc.method, "http://"+addr+tc.path)
		if resp.StatusCode != tc.code {
			t.Errorf("%s %s: %s, want %d", tc.method, tc.path, resp.Status, tc.code)
		}
		if !strings.Contains(body, tc.body) {
			t.Errorf("%s %s: body lacks %q:\n%s", tc.method, tc.path, tc.body, body)
		}
	}
}

func TestStatusServer_Off(t *testing.T) {
	called := false
	addr, err := startStatusServer(context.Background(), "", func() syncer.Status { called = true; return syncer.Status{} }, nil)
	if addr != "" || err != nil {
		t.Errorf("startStatusServer(\"\") = %q, %v; want \"\", nil", addr, err)
	}
	if called {
		t.Error("the status source was called with the server off")
	}
}

func TestStatusServer_PortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().String()
	addr, err := startStatusServer(context.Background(), taken, func() syncer.Status { return syncer.Status{} }, nil)
	if err == nil {
		t.Fatalf("startStatusServer on a taken port %s: no error, listening on %s", taken, addr)
	}
	t.Logf("error: %v", err)
	for _, want := range []string{"[status] listen", taken, "the port is taken"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

// TestStatusServer_StopsWithContext checks that the port is released once the
// context ends.
func TestStatusServer_StopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := startStatusServer(ctx, "127.0.0.1:0", func() syncer.Status { return syncer.Status{} }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := statusGet(t, http.MethodGet, "http://"+addr+"/status"); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /status: %s", resp.Status)
	}
	cancel()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still taken 30s after the context ended: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStatusExposed(t *testing.T) {
	for listen, want := range map[string]bool{
		"127.0.0.1:7788": false,
		"[::1]:7788":     false,
		"localhost:7788": false,
		"0.0.0.0:7788":   true,
		":7788":          true,
		"[::]:7788":      true,
		"10.1.2.3:7788":  true,
		"example.org:80": true,
	} {
		if got := statusExposed(listen); got != want {
			t.Errorf("statusExposed(%q) = %t, want %t", listen, got, want)
		}
	}
}

func passHistogram(secs ...float64) syncer.Histogram {
	h := syncer.NewHistogram(syncer.PassBuckets)
	for _, s := range secs {
		h.Observe(s)
	}
	return h
}
