package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/focussync/focussync/daemon"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/syncer"
)

// oddFolder is a folder path holding the characters the metrics format escapes.
const oddFolder = `/srv/share/a "quoted"\dir`

// sampleStatus is a daemon status with two folders, two organizations (one quota
// not yet known), request counters and pass durations.
func sampleStatus(now time.Time) daemon.Status {
	return daemon.Status{
		Version: "1.2.3",
		Started: now.Add(-3 * time.Hour),
		Uptime:  "3h0m0s",
		Folders: []daemon.FolderStatus{
			{
				Path: "/srv/share/acme", Task: 101, Organization: 11, State: "idle", Watch: "events", Files: 42, Pending: 0, Refused: 1,
				LastPass: now.Add(-3*time.Minute - 10*time.Second), LastSuccess: now.Add(-time.Hour),
				Skipped:  []syncer.Skip{{Path: "big.iso", Reason: "refused"}, {Path: "huge.mkv", Reason: "larger than max_file_size"}},
				Failures: []syncer.Failure{{Path: "big.iso", Reason: "400 file too large", Refused: true}},
			},
			{
				Path: oddFolder, Task: 102, Organization: 12, State: "paused", Watch: "poll", Files: 7, Pending: 3,
				Paused: "folder root is missing", LastError: "scan: permission denied",
				Held: "9 deletes exceed max_delete", HeldDeletes: 9,
			},
		},
		Quota: []daemon.QuotaStatus{
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
			Operations: map[string]int64{"upload": 25, "rename": 2, "delete": 1},
		},
		PassDurations: passHistogram(0.004, 0.3, 2, 400),
	}
}

// startTestStatusServer starts a status server for st on a free loopback port and
// stops it when the test ends.
func startTestStatusServer(t *testing.T, st daemon.Status) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	addr, err := startStatusServer(ctx, "127.0.0.1:0", func() daemon.Status { return st }, slog.New(slog.DiscardHandler))
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
	var got daemon.Status
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("decode /status: %v\n%s", err, body)
	}
	// Metrics and PassDurations are for /metrics only.
	want.Metrics, want.PassDurations = syncer.MetricsSnapshot{}, daemon.Histogram{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("/status round trip:\ngot  %+v\nwant %+v", got, want)
	}
}

func TestStatusServer_Routes(t *testing.T) {
	addr := startTestStatusServer(t, sampleStatus(time.Now()))
	for _, tc := range []struct {
		method, path string
		code         int
		body         string // a part of the body
	}{
		{"GET", "/", 200, "<title>focussync status</title>"},
		{"GET", "/healthz", 200, "ok"},
		{"GET", "/readyz", 503, `"ready": false`},
		{"GET", "/activity", 200, "[]"},
		{"GET", "/metrics", 200, "focussync_up 1"},
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
	addr, err := startStatusServer(context.Background(), "", func() daemon.Status { called = true; return daemon.Status{} }, nil)
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
	addr, err := startStatusServer(context.Background(), taken, func() daemon.Status { return daemon.Status{} }, nil)
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
	addr, err := startStatusServer(ctx, "127.0.0.1:0", func() daemon.Status { return daemon.Status{} }, nil)
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

func passHistogram(secs ...float64) daemon.Histogram {
	h := daemon.NewHistogram(daemon.PassBuckets)
	for _, s := range secs {
		h.Observe(s)
	}
	return h
}
