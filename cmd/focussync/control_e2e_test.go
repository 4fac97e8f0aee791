//go:build unix

package main

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/focussync/focussync/control"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/internal/testutil"
)

// withStatusServer gives the env's daemon a status server on a free loopback
// port and returns its address.
func withStatusServer(t *testing.T, e *env) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	b, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "listen = \"\"", "listen = \""+addr+"\"", 1)
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return addr
}

// metric returns the value of the sample whose line starts with prefix in the
// daemon's /metrics, or "" when there is none.
func metric(t *testing.T, addr, prefix string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, prefix) {
			return l[strings.LastIndexByte(l, ' ')+1:]
		}
	}
	return ""
}

// With `focussync run` going, every control command reaches it through its
// socket: sync now, the plan, held deletes confirmed, pause and resume (kept
// across a restart); no command ever meets "state db is in use".
func TestControl_RunningDaemon(t *testing.T) {
	t.Parallel()
	// The daemon passes by itself only at start: every later pass is asked for.
	e := newEnv(t, withFolderTOML("watch = \"poll\"\nrescan = \"1h\"\nverify = \"24h\"\nmax_delete = 1"))
	addr := withStatusServer(t, e)
	for _, n := range []string{"a", "b", "c"} {
		e.write(n+".txt", n)
	}
	d := e.startDaemon()
	testutil.WaitUntil(t, 30*time.Second, "the first pass", func() bool {
		return len(e.attachments()) == 3 && strings.Contains(d.stderr.String(), `"msg":"folder in sync"`)
	})
	sock := control.Endpoint(e.state)
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket %s: %v, %v; want a socket of mode 0600", sock, fi.Mode(), err)
	}
	noLockError := func(r result) {
		t.Helper()
		if strings.Contains(r.stdout+r.stderr, "in use") {
			t.Errorf("a command met the locked state db:\n%v", r)
		}
	}

	t.Run("relist", func(t *testing.T) {
		m := e.mark()
		r := e.run("sync", "--relist", e.folder)
		noLockError(r)
		if got := e.requests(m); r.code != 0 || got[focus.EndpointList] != 1 || writes(got) != 0 {
			t.Fatalf("relist sent %v, want one list and no write:\n%v", got, r)
		}
	})

	t.Run("sync now", func(t *testing.T) {
		e.write("d.txt", "d")
		r := e.run("sync")
		noLockError(r)
		if r.code != 0 || !strings.Contains(r.stderr, "the running daemon ran the pass") || !strings.Contains(r.stdout, "uploaded 1 (") {
			t.Fatalf("sync through the daemon:\n%v", r)
		}
		if !e.hasAttachment("d.txt", "d") {
			t.Error("d.txt not uploaded by the daemon's pass")
		}
	})

	t.Run("plan", func(t *testing.T) {
		e.write("e.txt", "e")
		m := e.mark()
		r := e.run("sync", "--dry-run", e.folder)
		noLockError(r)
		if r.code != 0 || !strings.Contains(r.stderr, "the running daemon made the plan") ||
			!strings.Contains(r.stdout, "upload  batch 1: 1 file(s)") || !strings.Contains(r.stdout, "e.txt, order") ||
			!strings.Contains(r.stdout, "cost: 1 write request(s); dry run, nothing sent") {
			t.Fatalf("plan through the daemon:\n%v", r)
		}
		if got := e.requests(m); len(got) != 0 || e.attachmentNamed("e.txt") {
			t.Errorf("the dry run sent %v", got)
		}
		e.sync()
	})

	t.Run("held deletes confirmed", func(t *testing.T) {
		for _, n := range []string{"a", "b"} {
			os.Remove(filepath.Join(e.folder, n+".txt"))
		}
		r := e.run("sync")
		noLockError(r)
		if r.code != 1 || !strings.Contains(r.stdout, "HELD: would delete 2 of 5 attachments, over max_delete 1") {
			t.Fatalf("sync over 2 removed files:\n%v", r)
		}
		st := e.run("status")
		if !strings.Contains(st.stdout, "held: 2 deletes (confirm with focussync sync --allow-mass-delete FOLDER)") {
			t.Errorf("status does not show the held deletes:\n%v", st)
		}
		if got := metric(t, addr, "focussync_held_deletes{"); got != "2" {
			t.Errorf("focussync_held_deletes = %q, want 2", got)
		}
		if got := metric(t, addr, "focussync_pending_operations{"); got != "2" {
			t.Errorf("focussync_pending_operations = %q, want 2 (the held deletes)", got)
		}
		m := e.mark()
		r = e.run("sync", "--allow-mass-delete", e.folder)
		noLockError(r)
		if r.code != 0 || !strings.Contains(r.stdout, "deleted 2,") {
			t.Fatalf("confirmed sync:\n%v", r)
		}
		if got := e.requests(m); got[focus.EndpointDelete] != 2 || e.attachmentNamed("a.txt") || e.attachmentNamed("b.txt") {
			t.Errorf("confirmation sent %v; attachments %v", got, e.names())
		}
		if got := metric(t, addr, "focussync_held_deletes{"); got != "0" {
			t.Errorf("focussync_held_deletes after the confirmation = %q, want 0", got)
		}
	})

	t.Run("pause and resume", func(t *testing.T) {
		r := e.run("pause", e.folder)
		noLockError(r)
		if r.code != 0 || !strings.Contains(r.stdout, "paused (paused by root with 'focussync pause')") {
			t.Fatalf("pause:\n%v", r)
		}
		e.write("f.txt", "f")
		r = e.run("sync")
		if !strings.Contains(r.stdout, "PAUSED: paused by root") || e.attachmentNamed("f.txt") {
			t.Fatalf("sync of a paused folder:\n%v", r)
		}
		if st := e.run("status"); !strings.Contains(st.stdout, "paused") {
			t.Errorf("status of a paused folder:\n%v", st)
		}
		// The pause outlives a restart.
		d.stop()
		d = e.startDaemon()
		testutil.WaitUntil(t, 30*time.Second, "the restarted daemon's control socket", func() bool {
			_, err := os.Lstat(sock)
			return err == nil && strings.Contains(d.stderr.String(), "folder paused by a person")
		})
		r = e.run("sync", "--dry-run")
		if !strings.Contains(r.stdout, "PAUSED: paused by root") || !strings.Contains(r.stdout, "f.txt, order") {
			t.Errorf("the plan of the paused folder after a restart:\n%v", r)
		}
		if e.attachmentNamed("f.txt") {
			t.Fatal("the restarted daemon synced the paused folder")
		}
		m := e.mark()
		r = e.run("resume", e.folder)
		if r.code != 0 || !strings.Contains(r.stdout, "resumed; the daemon syncs it now") {
			t.Fatalf("resume:\n%v", r)
		}
		testutil.WaitUntil(t, 30*time.Second, "f.txt after the resume", func() bool { return e.hasAttachment("f.txt", "f") })
		// The emulator logs a request once it has answered, after the attachment
		// shows: wait for the log too, so that the next test counts from a quiet log.
		testutil.WaitUntil(t, 10*time.Second, "the upload in the request log", func() bool { return e.requests(m)[focus.EndpointCreate] >= 1 })
	})

	t.Run("another user cannot use it", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to run the client as another user")
		}
		// Let uid 65534 reach the socket's directory, read the config and run the
		// binary: only the socket's mode stands in its way.
		open := openTree(t, e)
		m := e.mark()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, args := range [][]string{{"sync", "--allow-mass-delete"}, {"pause", e.folder}, {"sync", "--dry-run"}} {
			cmd := exec.CommandContext(ctx, open.bin, append(args, "--config", open.cfg)...)
			cmd.Env = []string{"PATH=/usr/bin:/bin", "NO_COLOR=1", "FOCUS_API_TOKEN=" + testToken}
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), "permission denied: only root and user root may control the daemon") {
				t.Errorf("%v as uid 65534: %v\n%s\nwant a refusal", args, err, out)
			}
		}
		if got := e.requests(m); len(got) != 0 {
			t.Errorf("another user's commands sent %v", got)
		}
		if st := e.run("status"); strings.Contains(st.stdout, "paused") {
			t.Errorf("another user paused the folder:\n%v", st)
		}
	})
	d.stop()
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("control socket left after the daemon stopped: %v", err)
	}
}

// openTree makes the env's directories traversable by every user and copies the
// binary and the config where uid 65534 can run and read them.
func openTree(t *testing.T, e *env) (open struct{ bin, cfg string }) {
	t.Helper()
	for p := e.dir; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Dir(e.state), 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "focussync-other-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A hard link, not a copy: a file just written may still be open for writing
	// in a child that another test forks at that moment, and exec of it would
	// fail with "text file busy".
	open.bin = filepath.Join(dir, "focussync")
	if err := os.Link(focussyncBin(t), open.bin); err != nil {
		t.Fatal(err)
	}
	c, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	open.cfg = filepath.Join(dir, "config.toml")
	if err := os.WriteFile(open.cfg, c, 0o644); err != nil {
		t.Fatal(err)
	}
	return open
}

// Without a daemon, pause and resume act on the state db, and `sync` honours them.
func TestControl_NoDaemon(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.write("a.txt", "a")
	r := e.run("pause", "--reason", "share being migrated", e.folder)
	if r.code != 0 || !strings.Contains(r.stdout, "paused (share being migrated) in the state db") {
		t.Fatalf("pause without a daemon:\n%v", r)
	}
	r = e.run("sync")
	if r.code != 1 || !strings.Contains(r.stdout, "PAUSED: share being migrated") || len(e.srv.Requests()) != 0 {
		t.Fatalf("sync of a paused folder:\n%v\nrequests %v", r, e.srv.Requests())
	}
	if st := e.run("status"); !strings.Contains(st.stdout, "paused: share being migrated (since ") {
		t.Errorf("status without a daemon does not show the pause:\n%v", st)
	}
	r = e.run("sync", "--dry-run")
	if !strings.Contains(r.stdout, "PAUSED: share being migrated") || !strings.Contains(r.stdout, "a.txt, order") {
		t.Errorf("plan of a paused folder:\n%v", r)
	}
	if r := e.run("pause", filepath.Join(e.dir, "elsewhere")); r.code != 2 || !strings.Contains(r.stderr, "is not a folder of") {
		t.Errorf("pause of an unknown folder:\n%v", r)
	}
	r = e.run("resume", e.folder)
	if r.code != 0 || !strings.Contains(r.stdout, "resumed in the state db") {
		t.Fatalf("resume:\n%v", r)
	}
	e.sync()
	if !e.hasAttachment("a.txt", "a") {
		t.Error("a.txt not uploaded after the resume")
	}
}

// `focussync status` reads a running daemon's status from its control socket when
// its status server is off.
func TestControl_StatusWithoutStatusServer(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // [status] listen = ""
	e.write("a.txt", "a")
	d := e.startDaemon()
	testutil.WaitUntil(t, 30*time.Second, "the first pass", func() bool {
		return strings.Contains(d.stderr.String(), `"msg":"folder in sync"`)
	})
	r := e.run("status")
	if r.code != 0 || !strings.Contains(r.stdout, e.folder) || !strings.Contains(r.stdout, "idle") || strings.Contains(r.stdout+r.stderr, "locked") {
		t.Errorf("status with the status server off:\n%v", r)
	}
	d.stop()
}
