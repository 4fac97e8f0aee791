//go:build unix

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
	"github.com/focussync/focussync/internal/testutil"
)

// Hostile-share end-to-end tests: the real binary while someone who can write to
// the folder swaps files for symlinks, FIFOs, sockets and devices between the scan
// and the upload, with a secret file outside the folder that the service can read.

// secret is a file outside the folder, of 31 bytes (the size of a token file),
// and a watch on every request body for any 12-byte piece of it.
type secret struct {
	path, content string
	watch         *focustest.SecretWatch
}

// plantSecret writes the secret beside the folder and taps the emulator's bodies.
func (e *env) plantSecret() *secret {
	e.t.Helper()
	b := make([]byte, 12)
	rand.Read(b)
	s := &secret{path: filepath.Join(e.dir, "token"), content: "toggl_sk_" + hex.EncodeToString(b)[:22]}
	if len(s.content) != 31 {
		e.t.Fatalf("secret of %d bytes", len(s.content))
	}
	if err := os.WriteFile(s.path, []byte(s.content), 0o600); err != nil {
		e.t.Fatal(err)
	}
	s.watch = focustest.NewSecretWatch([]byte(s.content), 12)
	e.srv.SetBodyTap(s.watch.Tap)
	return s
}

// assertNeverSent checks that no request body held a piece of the secret and no
// attachment, deleted ones included, ever held its content.
func (s *secret) assertNeverSent(e *env) {
	e.t.Helper()
	if n := s.watch.Seen(); n != 0 {
		e.t.Errorf("%d request bodies held bytes of the secret (%v)", n, s.watch.Endpoints())
	}
	h := sha256Hex(s.content)
	for _, a := range e.srv.AllAttachments(e.task) {
		if a.SHA256 == h {
			e.t.Errorf("attachment %d (%s) holds the secret", a.ID, a.Name)
		}
	}
}

// swapIn puts what make creates at the folder path rel, as an attacker would:
// create beside it, then rename over it (a directory is removed first).
func (e *env) swapIn(rel string, make func(tmp string) error) {
	e.t.Helper()
	p := filepath.Join(e.folder, filepath.FromSlash(rel))
	tmp := filepath.Join(filepath.Dir(p), ".swap")
	if err := make(tmp); err != nil {
		e.t.Fatal(err)
	}
	if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
		if err := os.RemoveAll(p); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := os.Rename(tmp, p); err != nil {
		e.t.Fatal(err)
	}
}

// proc is a command started in the background.
type proc struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
	code int
}

func (e *env) start(args ...string) *proc {
	e.t.Helper()
	return e.startEnv(nil, args...)
}

// startEnv is start with more environment variables ("NAME=value").
func (e *env) startEnv(vars []string, args ...string) *proc {
	e.t.Helper()
	p := &proc{out: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = e.command(context.Background(), args...)
	p.cmd.Env = append(p.cmd.Env, vars...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if e.t.Failed() {
			e.t.Logf("output of %v:\n%s", args, p.out.String())
		}
	})
	return p
}

// wait waits for the process to end, failing the test when it takes longer.
func (p *proc) wait(t *testing.T, within time.Duration, what string) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("%s: still running after %s", what, within)
	}
}

// swaps are the things a file can be replaced with.
func swaps(s *secret) map[string]func(tmp string) error {
	return map[string]func(string) error{
		"symlink": func(tmp string) error { return os.Symlink(s.path, tmp) },
		"fifo":    func(tmp string) error { return syscall.Mkfifo(tmp, 0o644) },
		"socket": func(tmp string) error {
			ln, err := net.Listen("unix", tmp)
			if err == nil {
				ln.(*net.UnixListener).SetUnlinkOnClose(false)
				go func() { // accept and feed the secret to whoever connects
					for {
						c, err := ln.Accept()
						if err != nil {
							return
						}
						io.WriteString(c, s.content)
						c.Close()
					}
				}()
			}
			return err
		},
		// The zero device: endless bytes, and no size to compare.
		"device": func(tmp string) error { return syscall.Mknod(tmp, syscall.S_IFCHR|0o644, 1<<8|5) },
	}
}

// TestHostileE2E_SwapDuringQuotaWait: the scan found report.txt (31 bytes); while
// sync waits for the quota (1 request per 3 s: the first listing used it), the file
// is replaced by a symlink to a secret of the same size, by a FIFO, a unix socket or
// a device node, or, in a recursive folder, its directory is replaced by a symlink
// to a directory outside holding a file of that name. Nothing of the secret reaches
// the server, nothing hangs, and the other file of the batch still goes up.
func TestHostileE2E_SwapDuringQuotaWait(t *testing.T) {
	kinds := []string{"symlink", "fifo", "socket", "device", "directory symlink"}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withQuota(1, 3*time.Second), withFolderTOML("recursive = true"))
			s := e.plantSecret()
			target := "report.txt"
			if kind == "directory symlink" {
				target = "docs/report.txt"
			}
			e.write("keep.txt", "kept, and sent as it is.......\n")
			e.write(target, strings.Repeat("r", 30)+"\n")
			p := e.start("sync")
			testutil.WaitUntil(t, 30*time.Second, "the first listing", func() bool { return len(e.srv.Requests()) >= 1 })
			if got := e.srv.Requests()[0].Endpoint; got != focus.EndpointList {
				t.Fatalf("first request %s, want the listing that spends the quota", got)
			}
			if kind == "directory symlink" {
				outside := filepath.Join(e.dir, "outside")
				if err := os.MkdirAll(outside, 0o755); err != nil {
					t.Fatal(err)
				}
				// Through the swapped directory, docs/report.txt is a copy of the secret.
				if err := os.WriteFile(filepath.Join(outside, "report.txt"), []byte(s.content), 0o600); err != nil {
					t.Fatal(err)
				}
				e.swapIn("docs", func(tmp string) error { return os.Symlink(outside, tmp) })
			} else {
				e.swapIn(target, swaps(s)[kind])
			}
			p.wait(t, 90*time.Second, "sync after the swap")
			s.assertNeverSent(e)
			if !e.hasAttachment("keep.txt", "kept, and sent as it is.......\n") {
				t.Errorf("keep.txt was not uploaded; attachments %v", e.names())
			}
			if e.attachmentNamed(target) {
				t.Errorf("an attachment %s exists; its file was swapped before it was sent", target)
			}
			if p.code != 0 {
				t.Errorf("sync exit %d, want 0 (the swapped file is out of scope at the next scan)\n%s", p.code, p.out.String())
			}
			if !strings.Contains(p.out.String(), "not the file that was scanned") {
				t.Errorf("the log does not report the swap:\n%s", p.out.String())
			}
		})
	}
}

// TestHostileE2E_SwapWhileBatchStreams: under run, with no quota pressure, a large
// file and a small one go up in one bulk create; while the large one streams over a
// slow link, the small one is swapped for a symlink to the secret. The request is
// cut short before the small file's bytes, nothing of the secret is sent, and the
// large file goes up on the next round.
func TestHostileE2E_SwapWhileBatchStreams(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.plantSecret()
	// Larger than what the loopback socket buffers hold, so that the small file
	// is still unread when the swap happens.
	big := make([]byte, 24<<20)
	rand.Read(big)
	e.write("a-big.bin", string(big))
	e.write("z-report.txt", strings.Repeat("z", 30)+"\n")
	var streaming atomic.Bool
	e.srv.SetBodyTap(func(ep focus.Endpoint) io.Writer {
		if ep == focus.EndpointBulk {
			streaming.Store(true)
		}
		return s.watch.Tap(ep)
	})
	e.srv.SetReadRate(6 << 20) // 4 s for the large file
	d := e.startDaemon()
	testutil.WaitUntil(t, 30*time.Second, "the bulk upload to stream", streaming.Load)
	e.swapIn("z-report.txt", func(tmp string) error { return os.Symlink(s.path, tmp) })
	bigSum := sha256Hex(string(big))
	testutil.WaitUntil(t, 3*time.Minute, "a-big.bin to go up", func() bool { return e.hasAttachmentSum("a-big.bin", bigSum) })
	d.stop()
	s.assertNeverSent(e)
	if e.attachmentNamed("z-report.txt") {
		t.Errorf("z-report.txt has an attachment: it was read before the swap, the test proves nothing")
	}
	if !strings.Contains(d.stderr.String(), "not the file that was scanned") {
		t.Errorf("the log does not report the swap:\n%s", d.stderr.String())
	}
}

// TestHostileE2E_TokenFileFIFO: a token_file that is a FIFO (nobody writing to
// it) does not hang check, sync or run: each refuses it at once, naming the file.
func TestHostileE2E_TokenFileFIFO(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fifo := filepath.Join(e.dir, "token")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	e.tokenFile = fifo
	e.extraAPI = fmt.Sprintf("token_file = %q\n", fifo)
	e.writeConfig()
	for _, cmd := range []string{"check", "sync", "run"} {
		p := e.start(cmd)
		p.wait(t, 20*time.Second, cmd+" with a FIFO as token_file")
		out := p.out.String()
		if p.code == 0 || !strings.Contains(out, fifo) || !strings.Contains(out, "fifo") {
			t.Errorf("%s: exit %d, output %q; want a failure naming %s as a fifo", cmd, p.code, out, fifo)
		}
	}
}
