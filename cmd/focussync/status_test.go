package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/daemon"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/syncer"
)

// statusEnv is a config with one folder for the status command, and its state db path.
type statusEnv struct {
	cfgPath string
	cfg     *config.Config
	key     state.FolderKey // the folder's key in the state db
}

// newStatusEnv writes a config whose [status] listen is listen and loads it.
func newStatusEnv(t *testing.T, listen string) *statusEnv {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	body := "[api]\norganization_id = 11\nworkspace_id = 22\n" +
		"[state]\npath = \"state/state.db\"\n" +
		"[status]\nlisten = \"" + listen + "\"\n" +
		"[[folder]]\npath = \"docs\"\ntask_id = 101\n"
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("load the test config: %v", err)
	}
	return &statusEnv{cfgPath: path, cfg: cfg, key: syncer.FolderKey(cfg.Folders[0])}
}

// status runs `focussync status --config F` with extra arguments.
func (e *statusEnv) status(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv(config.TokenEnv, "") // status needs no token
	var out, errb bytes.Buffer
	code = runMain(context.Background(), &app{stdout: &out, stderr: &errb}, append([]string{"status", "--config", e.cfgPath}, args...))
	return code, out.String(), errb.String()
}

// fillState writes records, a meta and an open intent for the folder.
func (e *statusEnv) fillState(t *testing.T, lastPass time.Time) {
	t.Helper()
	st, err := state.Open(e.cfg.State.Path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.Commit(e.key, state.Change{
		Put: []state.FileRecord{
			{Path: "a.pdf", Size: 10, Hash: "aa", AttachmentID: 1, RemoteName: "a.pdf", DisplayOrder: 1024},
			{Path: "b.pdf", Size: 20, Hash: "bb", AttachmentID: 2, RemoteName: "b.pdf", DisplayOrder: 2048},
			{Path: "c.pdf", Size: 30, Hash: "cc", AttachmentID: 3, RemoteName: "c.pdf", DisplayOrder: 3072},
			{Path: "huge.iso", Size: 1 << 30, Refused: &state.Refusal{Hash: "dd", LastError: "400 file too large", Attempts: 1}},
		},
		Meta:  &state.Meta{Listed: true, LastPass: lastPass, LastError: "list task 101: 503 Service Unavailable"},
		Begin: []*state.Intent{{Op: state.IntentDelete, AttachmentID: 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// tableRow returns the fields of the output line that starts with first.
func tableRow(t *testing.T, out, first string) []string {
	t.Helper()
	for l := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(l, first+" ") {
			return strings.Fields(strings.TrimPrefix(l, first))
		}
	}
	t.Fatalf("no row for %s in\n%s", first, out)
	return nil
}

// statusHeader is the header of the folder table, running or not.
const statusHeader = "FOLDER TASK STATE WATCH FILES PENDING UNCONFIRMED FAILURES LAST PASS"

// assertStatusHeader checks that out holds the folder table's one header.
func assertStatusHeader(t *testing.T, out string) {
	t.Helper()
	for l := range strings.SplitSeq(out, "\n") {
		if strings.Join(strings.Fields(l), " ") == statusHeader {
			return
		}
	}
	t.Errorf("no table header %q in\n%s", statusHeader, out)
}

// assertStatusLayout checks that a status --json output has exactly the keys of
// the one layout, at the top and in every folder, whether the daemon runs or not.
func assertStatusLayout(t *testing.T, out string) {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &top); err != nil {
		t.Fatal(err)
	}
	want := []string{"folders", "note", "paused", "quota", "running", "source", "started", "version"}
	if got := slices.Sorted(maps.Keys(top)); !slices.Equal(got, want) {
		t.Errorf("status --json keys = %q, want %q", got, want)
	}
	var folders []map[string]json.RawMessage
	if err := json.Unmarshal(top["folders"], &folders); err != nil {
		t.Fatal(err)
	}
	wantF := []string{"failures", "files", "held", "held_deletes", "last_error", "last_pass", "path", "paused", "pending",
		"refused", "skipped", "state", "task_id", "unconfirmed_writes", "watch"}
	for _, f := range folders {
		if got := slices.Sorted(maps.Keys(f)); !slices.Equal(got, wantF) {
			t.Errorf("status --json folder keys = %q, want %q", got, wantF)
		}
	}
}

func TestStatusCommand_Daemon(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The config needs the server's address and the status needs the config's
	// folder: the status is set once both exist.
	var cur atomic.Pointer[daemon.Status]
	addr, err := startStatusServer(ctx, "127.0.0.1:0", func() daemon.Status { return *cur.Load() }, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newStatusEnv(t, addr)
	st := sampleStatus(time.Now())
	st.Folders[0].Path = e.key.Path
	cur.Store(&st)

	code, out, errOut := e.status(t)
	if code != 0 {
		t.Fatalf("status: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	t.Logf("output:\n%s", out)
	assertStatusHeader(t, out)
	// FOLDER TASK STATE WATCH FILES PENDING UNCONFIRMED FAILURES LAST-PASS
	if got, want := tableRow(t, out, e.key.Path), []string{"101", "idle", "events", "42", "0", "0", "1", "3m", "ago"}; !reflect.DeepEqual(got, want) {
		t.Errorf("row of %s = %q, want %q", e.key.Path, got, want)
	}
	if got, want := tableRow(t, out, oddFolder), []string{"102", "paused", "poll", "7", "3", "0", "0", "never"}; !reflect.DeepEqual(got, want) {
		t.Errorf("row of %s = %q, want %q", oddFolder, got, want)
	}
	for _, want := range []string{
		"focussync 1.2.3, running for 3h (http://" + addr + "/status)\n",
		"Failures:\n  " + filepath.Join(e.key.Path, "big.iso") + ": 400 file too large (refused by the server; retried when the file changes)\n",
		oddFolder + ": paused: folder root is missing\n",
		oddFolder + ": last error: scan: permission denied\n",
		"Quota:\n  organization 11: 23 left, resets in 41m\n  organization 12: not known yet",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if errOut != "" {
		t.Errorf("stderr: %s", errOut)
	}

	code, out, errOut = e.status(t, "--json")
	if code != 0 {
		t.Fatalf("status --json: exit %d\n%s%s", code, out, errOut)
	}
	var rep statusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if !rep.Running || rep.Source != "http://"+addr+"/status" || rep.Version != "1.2.3" || len(rep.Folders) != 2 {
		t.Fatalf("status --json = %s", out)
	}
	if got := rep.Folders[0]; got.Path != e.key.Path || got.Files != 42 || len(got.Failures) != 1 || got.Pending == nil || *got.Pending != 0 {
		t.Errorf("status --json folder = %+v", got)
	}
	if q := rep.Quota[0]; !q.Known || q.Remaining != 23 {
		t.Errorf("status --json quota = %+v", q)
	}
	assertStatusLayout(t, out)
}

// TestStatusCommand_StateDB covers a daemon that is not running, both with the
// status server off and with nothing answering on its address.
func TestStatusCommand_StateDB(t *testing.T) {
	for name, listen := range map[string]string{"server off": "", "nothing listening": freeAddr(t)} {
		t.Run(name, func(t *testing.T) {
			e := newStatusEnv(t, listen)
			lastPass := time.Now().Add(-2*time.Hour - 5*time.Minute - 10*time.Second).Truncate(time.Second)
			e.fillState(t, lastPass)

			code, out, errOut := e.status(t)
			if code != 0 {
				t.Fatalf("status: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			t.Logf("output:\n%s", out)
			assertStatusHeader(t, out)
			if want := "daemon not running (read from the state db " + e.cfg.State.Path + ")\n"; !strings.HasPrefix(out, want) {
				t.Errorf("output does not start with %q", want)
			}
			// FOLDER TASK STATE WATCH FILES PENDING UNCONFIRMED FAILURES LAST-PASS
			if got, want := tableRow(t, out, e.key.Path), []string{"101", "stopped", "-", "3", "-", "1", "1", "2h5m", "ago"}; !reflect.DeepEqual(got, want) {
				t.Errorf("row = %q, want %q", got, want)
			}
			for _, want := range []string{
				"Notes:\n  " + e.key.Path + ": last error: list task 101: 503 Service Unavailable\n",
				e.key.Path + ": 1 file(s) refused by the server",
				"Unconfirmed writes were sent",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q", want)
				}
			}

			code, out, errOut = e.status(t, "--json")
			if code != 0 {
				t.Fatalf("status --json: exit %d\n%s%s", code, out, errOut)
			}
			var rep statusReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("status --json: %v\n%s", err, out)
			}
			want := statusReport{Source: e.cfg.State.Path, Folders: []folderStatus{{
				Path: e.key.Path, Task: 101, State: "stopped", Files: 3, Refused: 1, UnconfirmedWrites: 1,
				LastPass: &lastPass, LastError: "list task 101: 503 Service Unavailable",
				Failures: []syncer.Failure{}, Skipped: []syncer.Skip{},
			}}, Quota: []daemon.QuotaStatus{}}
			if lp := rep.Folders[0].LastPass; lp == nil || !lp.Equal(lastPass) {
				t.Errorf("last pass = %v, want %v", lp, lastPass)
			}
			rep.Folders[0].LastPass = &lastPass
			if !reflect.DeepEqual(rep, want) {
				t.Errorf("status --json =\n%+v\nwant\n%+v", rep, want)
			}
			assertStatusLayout(t, out)
		})
	}
}

// TestStatusCommand_NoStateDB covers a config that never synced: no db yet.
func TestStatusCommand_NoStateDB(t *testing.T) {
	e := newStatusEnv(t, "")
	code, out, errOut := e.status(t)
	if code != 0 {
		t.Fatalf("status: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "does not exist yet") {
		t.Errorf("output does not say the db is missing:\n%s", out)
	}
	if got, want := tableRow(t, out, e.key.Path), []string{"101", "stopped", "-", "0", "-", "0", "0", "never"}; !reflect.DeepEqual(got, want) {
		t.Errorf("row = %q, want %q", got, want)
	}
	if _, err := os.Stat(e.cfg.State.Path); err == nil {
		t.Errorf("status created the state db")
	}
}

// TestStatusCommand_Locked holds the state db open read-write, as a running daemon
// does: a read-only open is refused (flock on Linux belongs to the open file, so
// this works within one process), and status explains how to reach the daemon.
func TestStatusCommand_Locked(t *testing.T) {
	for name, listen := range map[string]string{"server off": "", "nothing listening": freeAddr(t)} {
		t.Run(name, func(t *testing.T) {
			e := newStatusEnv(t, listen)
			e.fillState(t, time.Now())
			st, err := state.Open(e.cfg.State.Path, state.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()

			code, out, errOut := e.status(t)
			if code != 1 {
				t.Fatalf("status: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			if out != "" {
				t.Errorf("stdout: %s", out)
			}
			wants := []string{"the daemon seems to be running", e.cfg.State.Path, "is locked", "[status] listen", e.cfgPath}
			if listen == "" {
				wants = append(wants, "status server is off", `listen = "127.0.0.1:7788"`, "restart the daemon")
			} else {
				wants = append(wants, "did not answer", listen)
			}
			for _, want := range wants {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
		})
	}
}

func TestStatusCommand_Errors(t *testing.T) {
	e := newStatusEnv(t, "")
	var out, errb bytes.Buffer
	if code := runMain(context.Background(), &app{&out, &errb}, []string{"status", "--config", e.cfgPath, "extra"}); code != 2 {
		t.Errorf("status with an argument: exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	missing := filepath.Join(t.TempDir(), "none.toml")
	if code := runMain(context.Background(), &app{&out, &errb}, []string{"status", "--config", missing}); code != 1 || !strings.Contains(errb.String(), "none.toml") {
		t.Errorf("status with a missing config: exit %d, stderr %q", code, errb.String())
	}
	// A file that is not a state db.
	if err := os.MkdirAll(filepath.Dir(e.cfg.State.Path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.cfg.State.Path, bytes.Repeat([]byte("x"), 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := e.status(t)
	if code != 1 || !strings.Contains(stderr, "not a focussync state db") {
		t.Errorf("status over a file that is not a state db: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// TestStatusCommand_NotFocussync covers an address where something else answers:
// the command does not trust it and falls back to the state db.
func TestStatusCommand_NotFocussync(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 6\r\nConnection: close\r\n\r\n<html>"))
			c.Close()
		}
	}()
	e := newStatusEnv(t, ln.Addr().String())
	code, out, errOut := e.status(t)
	if code != 0 || !strings.HasPrefix(out, "daemon not running") {
		t.Errorf("status: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

func TestStatusURL(t *testing.T) {
	for listen, want := range map[string]string{
		"127.0.0.1:7788": "http://127.0.0.1:7788/status",
		":7788":          "http://127.0.0.1:7788/status",
		"0.0.0.0:7788":   "http://127.0.0.1:7788/status",
		"[::]:7788":      "http://[::1]:7788/status",
		"[::1]:7788":     "http://[::1]:7788/status",
		"localhost:80":   "http://localhost:80/status",
	} {
		if got := statusURL(listen); got != want {
			t.Errorf("statusURL(%q) = %q, want %q", listen, got, want)
		}
	}
}

func TestRoughDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:                    "0s",
		0:                               "0s",
		45 * time.Second:                "45s",
		41*time.Minute + 59*time.Second: "41m",
		time.Hour:                       "1h",
		2*time.Hour + 5*time.Minute:     "2h5m",
		26 * time.Hour:                  "1d2h",
		72 * time.Hour:                  "3d",
	} {
		if got := roughDuration(d); got != want {
			t.Errorf("roughDuration(%v) = %q, want %q", d, got, want)
		}
	}
	now := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Time{}, "never"},
		{now, "just now"},
		{now.Add(time.Minute), "just now"}, // a clock step back
		{now.Add(-3 * time.Minute), "3m ago"},
	} {
		if got := ago(tc.t, now); got != tc.want {
			t.Errorf("ago(%v) = %q, want %q", tc.t, got, tc.want)
		}
	}
	for _, tc := range []struct {
		q    daemon.QuotaStatus
		want string
	}{
		{daemon.QuotaStatus{}, "not known yet (no request sent)"},
		{daemon.QuotaStatus{Known: true, Remaining: 23, ResetAt: now.Add(41 * time.Minute)}, "23 left, resets in 41m"},
		{daemon.QuotaStatus{Known: true, Remaining: 0, ResetAt: now.Add(-time.Second)}, "0 left, resets now"},
		{daemon.QuotaStatus{Known: true, Remaining: 5}, "5 left"},
	} {
		if got := quotaLine(tc.q, now); got != tc.want {
			t.Errorf("quotaLine(%+v) = %q, want %q", tc.q, got, tc.want)
		}
	}
}

func TestPrintable(t *testing.T) {
	for s, want := range map[string]string{
		"/srv/a b":   "/srv/a b",
		"/srv/é":     "/srv/é",
		"/srv/a\nb":  `"/srv/a\nb"`,
		"/srv/\xff":  `"/srv/\xff"`,
		"/srv/\x1b[": `"/srv/\x1b["`,
	} {
		if got := printable(s); got != want {
			t.Errorf("printable(%q) = %s, want %s", s, got, want)
		}
	}
}

// TestStatusCommand_MissingFolder covers a folder whose directory is gone (an
// unmounted share): status still reports it, with a warning.
func TestStatusCommand_MissingFolder(t *testing.T) {
	e := newStatusEnv(t, "")
	e.fillState(t, time.Now().Add(-time.Minute))
	if err := os.Remove(e.key.Path); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := e.status(t)
	if code != 0 {
		t.Fatalf("status: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if got, want := tableRow(t, out, e.key.Path), []string{"101", "stopped", "-", "3", "-", "1", "1", "1m", "ago"}; !reflect.DeepEqual(got, want) {
		t.Errorf("row = %q, want %q", got, want)
	}
	if !strings.HasPrefix(errOut, "warning: ") || !strings.Contains(errOut, e.key.Path) {
		t.Errorf("stderr does not warn about %s:\n%s", e.key.Path, errOut)
	}
}
