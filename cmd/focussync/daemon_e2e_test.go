package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/internal/testutil"
)

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// daemonProc is a running `focussync run`.
type daemonProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{}
	err    error
}

// startDaemon runs `focussync run` on the env's config, with extraEnv
// (NAME=value) added to its environment.
func (e *env) startDaemon(extraEnv ...string) *daemonProc {
	e.t.Helper()
	d := &daemonProc{t: e.t, stderr: &lockedBuffer{}, done: make(chan struct{})}
	d.cmd = e.command(context.Background(), "run")
	d.cmd.Env = append(d.cmd.Env, extraEnv...)
	d.cmd.Stderr = d.stderr
	d.cmd.Stdout = d.stderr
	if err := d.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() {
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			d.cmd.Process.Kill()
			<-d.done
		}
		if e.t.Failed() {
			e.t.Logf("daemon log:\n%s", d.stderr.String())
		}
	})
	return d
}

// stop sends SIGTERM and expects a clean exit within a few seconds.
func (d *daemonProc) stop() {
	d.t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		d.t.Fatalf("daemon did not stop within 15s of SIGTERM")
	}
	if d.err != nil {
		d.t.Fatalf("daemon exit: %v", d.err)
	}
}

func (d *daemonProc) signal(s os.Signal) { d.cmd.Process.Signal(s) }

// hasAttachment reports whether the task holds an attachment with name and content.
func (e *env) hasAttachment(name, content string) bool {
	return e.hasAttachmentSum(name, sha256Hex(content))
}

// hasAttachmentSum reports whether the task holds an attachment with name and
// content of the SHA-256 sum want (hex).
func (e *env) hasAttachmentSum(name, want string) bool {
	for _, a := range e.attachments() {
		if a.Name == name && a.SHA256 == want {
			return true
		}
	}
	return false
}

func (e *env) attachmentNamed(name string) bool {
	for _, a := range e.attachments() {
		if a.Name == name {
			return true
		}
	}
	return false
}

func TestRun_LiveChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFolderTOML(`recursive = true
settle = "2s"`))
	e.write("first.txt", "first")
	d := e.startDaemon()
	testutil.WaitUntil(t, 30*time.Second, "the initial upload", func() bool { return e.hasAttachment("first.txt", "first") })

	t.Run("slow writer uploaded once, complete", func(t *testing.T) {
		m := e.mark()
		p := filepath.Join(e.folder, "slow.bin")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		var all strings.Builder
		for i := range 8 {
			chunk := strings.Repeat(fmt.Sprintf("%d", i), 4096)
			f.WriteString(chunk)
			all.WriteString(chunk)
			time.Sleep(500 * time.Millisecond) // the writer is slow on purpose: 4s in all
		}
		f.Close()
		testutil.WaitUntil(t, 30*time.Second, "slow.bin complete", func() bool { return e.hasAttachment("slow.bin", all.String()) })
		// The emulator logs a request just after storing it: wait for the entry.
		uploads := 0
		testutil.WaitUntil(t, 10*time.Second, "the upload in the request log", func() bool {
			uploads = 0
			for _, r := range e.srv.Requests()[m:] {
				if r.Endpoint == focus.EndpointCreate || r.Endpoint == focus.EndpointBulk {
					uploads++
				}
			}
			return uploads > 0
		})
		if uploads != 1 {
			t.Errorf("slow.bin took %d uploads, want 1", uploads)
		}
	})
	t.Run("moved in from elsewhere", func(t *testing.T) {
		outside := filepath.Join(e.dir, "outside.txt")
		os.WriteFile(outside, []byte("moved in"), 0o644)
		os.Rename(outside, filepath.Join(e.folder, "moved-in.txt"))
		testutil.WaitUntil(t, 30*time.Second, "moved-in.txt", func() bool { return e.hasAttachment("moved-in.txt", "moved in") })
	})
	t.Run("rename", func(t *testing.T) {
		m := e.mark()
		os.Rename(filepath.Join(e.folder, "moved-in.txt"), filepath.Join(e.folder, "renamed.txt"))
		testutil.WaitUntil(t, 30*time.Second, "renamed.txt", func() bool { return e.hasAttachment("renamed.txt", "moved in") && !e.attachmentNamed("moved-in.txt") })
		if got := e.requests(m); got[focus.EndpointUpdate] != 1 || writes(got) != 1 {
			t.Errorf("rename sent %v, want one update", got)
		}
	})
	t.Run("delete", func(t *testing.T) {
		os.Remove(filepath.Join(e.folder, "renamed.txt"))
		testutil.WaitUntil(t, 30*time.Second, "renamed.txt deleted", func() bool { return !e.attachmentNamed("renamed.txt") })
	})
	t.Run("new subfolder", func(t *testing.T) {
		os.Mkdir(filepath.Join(e.folder, "sub"), 0o755)
		e.write("sub/inner.txt", "inner")
		testutil.WaitUntil(t, 30*time.Second, "sub/inner.txt", func() bool { return e.hasAttachment("sub/inner.txt", "inner") })
		e.write("sub/second.txt", "second")
		testutil.WaitUntil(t, 30*time.Second, "sub/second.txt", func() bool { return e.hasAttachment("sub/second.txt", "second") })
	})
	d.stop()
	e.assertMirrors()
	if !strings.Contains(d.stderr.String(), `"folder"`) || strings.Contains(d.stderr.String(), testToken) {
		t.Errorf("logs must be JSON lines naming the folder and never the token")
	}
}

func TestRun_SIGTERMDuringUploadThenRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.SetLatency(100 * time.Millisecond)
	e.writeN(60, "t")
	d := e.startDaemon()
	testutil.WaitUntil(t, 30*time.Second, "uploads to start", func() bool { return e.uploadsSeen() >= 2 })
	d.stop()
	if len(e.attachments()) >= 60 {
		t.Logf("all uploads finished before SIGTERM; the restart still must not duplicate")
	}
	e.srv.SetLatency(0)
	d = e.startDaemon()
	testutil.WaitUntil(t, 60*time.Second, "all 60 files", func() bool { return len(e.attachments()) >= 60 })
	d.stop()
	e.assertMirrors()
}

func TestRun_UnmountedRootPausesAndResumes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeN(5, "u")
	d := e.startDaemon()
	testutil.WaitUntil(t, 30*time.Second, "initial sync", func() bool { return len(e.attachments()) == 5 })
	m := e.mark()
	away := e.folder + ".unmounted"
	if err := os.Rename(e.folder, away); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(e.folder, 0o755) // the empty mount point left behind
	testutil.WaitUntil(t, 30*time.Second, "the pause to be logged", func() bool { return strings.Contains(d.stderr.String(), "is the share mounted?") })
	if got := e.requests(m)[focus.EndpointDelete]; got != 0 {
		t.Fatalf("%d deletes while the share was unmounted", got)
	}
	// The share is mounted again: what was written into the mount point meanwhile
	// is hidden under the mount, as the mount point moved aside is here.
	if err := os.Rename(e.folder, e.folder+".mountpoint"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(away, e.folder); err != nil {
		t.Fatal(err)
	}
	e.write("after.txt", "back again")
	testutil.WaitUntil(t, 30*time.Second, "resume", func() bool { return e.hasAttachment("after.txt", "back again") })
	if got := e.requests(m)[focus.EndpointDelete]; got != 0 {
		t.Errorf("%d deletes around the unmount", got)
	}
	d.stop()
	e.assertMirrors()
}

func TestRun_SIGHUPAddsFolderAndToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tokenFile := filepath.Join(e.dir, "token")
	os.WriteFile(tokenFile, []byte("toggl_sk_wrong\n"), 0o600)
	e.tokenFile = tokenFile
	e.extraAPI = fmt.Sprintf("token_file = %q\n", tokenFile)
	e.writeConfig()
	e.write("one.txt", "one")
	d := e.startDaemon()
	testutil.WaitUntil(t, 30*time.Second, "the 401 pause", func() bool { return strings.Contains(d.stderr.String(), "all folders paused") })
	if n := strings.Count(d.stderr.String(), "all folders paused"); n != 1 {
		t.Errorf("the pause was logged %d times, want once", n)
	}
	if len(e.attachments()) != 0 {
		t.Fatalf("uploads with a refused token")
	}

	// A second folder, mapped to task 202, and the right token; then SIGHUP.
	second := filepath.Join(e.dir, "second")
	os.Mkdir(second, 0o755)
	os.WriteFile(filepath.Join(second, "two.txt"), []byte("two"), 0o644)
	e.extra += fmt.Sprintf("\n[[folder]]\npath = %q\ntask_id = 202\n", second)
	e.writeConfig()
	os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600)
	d.signal(syscall.SIGHUP)
	testutil.WaitUntil(t, 30*time.Second, "both folders synced", func() bool {
		return e.hasAttachment("one.txt", "one") && len(e.srv.Attachments(202)) == 1
	})
	d.stop()
	if s := d.stderr.String(); strings.Contains(s, testToken) || strings.Contains(s, "toggl_sk_wrong") {
		t.Errorf("a token appears in the log")
	}
}

func TestRun_InvalidReloadKeepsOldConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := e.startDaemon()
	testutil.WaitUntil(t, 30*time.Second, "start", func() bool { return strings.Contains(d.stderr.String(), "watching folder") })
	good, _ := os.ReadFile(e.cfg)
	os.WriteFile(e.cfg, append(good, []byte("\nbogus_key = 1\n")...), 0o644)
	d.signal(syscall.SIGHUP)
	testutil.WaitUntil(t, 30*time.Second, "the refusal", func() bool { return strings.Contains(d.stderr.String(), "config reload refused") })
	e.write("still.txt", "still running")
	testutil.WaitUntil(t, 30*time.Second, "sync with the old config", func() bool { return e.hasAttachment("still.txt", "still running") })
	d.stop()
}

func TestRun_SIGHUPChangesFolderMidUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.SetLatency(150 * time.Millisecond)
	e.writeN(40, "h")
	d := e.startDaemon()
	testutil.WaitUntil(t, 30*time.Second, "uploads to start", func() bool { return e.uploadsSeen() >= 1 })
	// A changed setting restarts the folder's worker in the middle of its uploads.
	e.extra += "order = \"mtime\"\n"
	e.writeConfig()
	d.signal(syscall.SIGHUP)
	testutil.WaitUntil(t, 30*time.Second, "the worker to restart", func() bool {
		return strings.Contains(d.stderr.String(), "folder settings changed")
	})
	e.srv.SetLatency(0)
	testutil.WaitUntil(t, 60*time.Second, "all 40 files", func() bool { return len(e.attachments()) >= 40 })
	d.stop()
	e.assertMirrors()
}
