package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/focussync/focussync/daemon"
	"github.com/focussync/focussync/syncer"
)

func TestReadyz(t *testing.T) {
	now := time.Now()
	synced := daemon.FolderStatus{Path: "/srv/a", Task: 1, Organization: 11, State: "idle", LastPass: now}
	quota := []daemon.QuotaStatus{{Organization: 11, Known: true, Remaining: 20}}
	for _, tc := range []struct {
		name   string
		st     daemon.Status
		code   int
		reason string // a part of the first folder's reason
	}{
		{"all synced", daemon.Status{Folders: []daemon.FolderStatus{synced}, Quota: quota}, 200, ""},
		{"no folder", daemon.Status{}, 200, ""},
		{"first pass running", daemon.Status{Folders: []daemon.FolderStatus{{Path: "/srv/a", Organization: 11, State: "syncing"}}, Quota: quota}, 503, "first pass not finished"},
		{"pending", daemon.Status{Folders: []daemon.FolderStatus{func() daemon.FolderStatus { f := synced; f.Pending = 4; return f }()}, Quota: quota}, 503, "4 operations pending"},
		{"pending on quota", daemon.Status{Folders: []daemon.FolderStatus{func() daemon.FolderStatus { f := synced; f.Pending = 4; return f }()},
			Quota: []daemon.QuotaStatus{{Organization: 11, Known: true, Remaining: 0}}}, 200, "waiting for the API quota to reset"},
		{"first pass on quota", daemon.Status{Folders: []daemon.FolderStatus{{Path: "/srv/a", Organization: 11, State: "syncing"}},
			Quota: []daemon.QuotaStatus{{Organization: 11, Known: true, Remaining: 0}}}, 200, "waiting for the API quota to reset"},
		{"held", daemon.Status{Folders: []daemon.FolderStatus{func() daemon.FolderStatus { f := synced; f.Held = "12 deletes exceed max_delete"; return f }()}}, 503, "deletes held: 12 deletes"},
		{"paused", daemon.Status{Folders: []daemon.FolderStatus{func() daemon.FolderStatus { f := synced; f.Paused = "folder root is missing"; return f }()}}, 503, "paused: folder root is missing"},
		{"failed", daemon.Status{Folders: []daemon.FolderStatus{func() daemon.FolderStatus {
			f := synced
			f.Failures = []syncer.Failure{{Path: "big.iso", Reason: "too large"}}
			return f
		}()}}, 503, "1 file not synced: big.iso: too large"},
		{"standby", daemon.Status{Folders: []daemon.FolderStatus{func() daemon.FolderStatus { f := synced; f.State = "standby"; f.Pending = 3; return f }()}}, 503, "standby: another host writes"},
		{"token refused", daemon.Status{Paused: "401", Folders: []daemon.FolderStatus{synced}}, 503, "all work paused: 401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			readyHandler(func() daemon.Status { return tc.st })(rec, httptest.NewRequest("GET", "/readyz", nil))
			if rec.Code != tc.code {
				t.Errorf("code %d, want %d\n%s", rec.Code, tc.code, rec.Body)
			}
			var rd readiness
			if err := json.Unmarshal(rec.Body.Bytes(), &rd); err != nil {
				t.Fatalf("decode: %v\n%s", err, rec.Body)
			}
			if rd.Ready != (tc.code == 200) {
				t.Errorf("ready = %t with code %d", rd.Ready, tc.code)
			}
			if tc.reason != "" && (len(rd.Folders) == 0 || !strings.Contains(rd.Folders[0].Reason, tc.reason)) {
				t.Errorf("folders = %+v, want a reason with %q", rd.Folders, tc.reason)
			}
		})
	}
}

func TestHealthz(t *testing.T) {
	src := func() daemon.Status { return daemon.Status{} }
	ping := make(chan chan struct{})
	checks := []livenessCheck{statusAnswers(src), loopPing("reload loop", ping)}

	// Nobody serves the ping: the loop is hung.
	rec := httptest.NewRecorder()
	start := time.Now()
	healthHandler(checks, 200*time.Millisecond)(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "reload loop") {
		t.Errorf("hung loop: %d %q, want 503 naming the reload loop", rec.Code, rec.Body)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the check took %s", d)
	}

	// A loop that answers.
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case r := <-ping:
				answerPing(r)
			case <-done:
				return
			}
		}
	}()
	rec = httptest.NewRecorder()
	healthHandler(checks, 10*time.Second)(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
		t.Errorf("live loop: %d %q, want 200 ok", rec.Code, rec.Body)
	}

	// A status that never comes (a deadlocked daemon).
	block := make(chan struct{})
	defer close(block)
	hung := []livenessCheck{statusAnswers(func() daemon.Status { <-block; return daemon.Status{} })}
	rec = httptest.NewRecorder()
	healthHandler(hung, 200*time.Millisecond)(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "daemon status") {
		t.Errorf("hung status: %d %q, want 503 naming the daemon status", rec.Code, rec.Body)
	}
}

func TestActivityLog(t *testing.T) {
	var out strings.Builder
	a := newActivityLog(3)
	log := withActivity(slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn})), a)
	flog := log.With("folder", "/srv/a", "task", 1)
	flog.Info("uploaded", "file", "x.pdf", "size", 10)
	log.Debug("not kept")
	flog.WithGroup("g").Warn("deletes held back", "reason", "too many")
	log.Info("two")
	log.Info("three")
	got := a.Recent()
	if len(got) != 3 {
		t.Fatalf("%d events, want 3 (the ring's size): %+v", len(got), got)
	}
	if got[0].Message != "three" || got[1].Message != "two" || got[2].Message != "deletes held back" {
		t.Errorf("events not newest first, or the oldest not dropped: %+v", got)
	}
	if e := got[2]; e.Folder != "/srv/a" || e.Level != "warn" || e.Detail != "g.reason=too many" {
		t.Errorf("held event = %+v", e)
	}
	// The log itself keeps its level: only the warning reached it.
	if s := out.String(); strings.Count(s, "\n") != 1 || !strings.Contains(s, "deletes held back") {
		t.Errorf("log output:\n%s", s)
	}
}
