package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCheck_StateDBInsideFolder: a state db inside a watched folder (below it, for
// a recursive one) is refused by
// check and by sync (a share others write to could damage it, and it would be
// uploaded); nothing is sent.
func TestCheck_StateDBInsideFolder(t *testing.T) {
	t.Parallel()
	for _, where := range []string{"state.db", "sub/dir/state.db"} {
		t.Run(where, func(t *testing.T) {
			var opts []envOption
			if strings.Contains(where, "/") {
				opts = append(opts, withFolderTOML("recursive = true"))
			}
			e := newEnv(t, opts...)
			e.write("a.txt", "a")
			e.state = filepath.Join(e.folder, filepath.FromSlash(where))
			e.writeConfig()
			for _, cmd := range []string{"check", "sync"} {
				r := e.run(cmd)
				if r.code != 1 || !strings.Contains(r.stderr, "state.path") ||
					!strings.Contains(r.stderr, "inside the watched folder") {
					t.Errorf("%s: want exit 1 naming state.path inside the folder: %v", cmd, r)
				}
			}
			if n := len(e.srv.Requests()); n != 0 {
				t.Errorf("%d requests sent, want 0", n)
			}
		})
	}
}

// asUnprivileged makes cmd run as nobody when the tests run as root (root reads
// any file whatever its mode), and hands the env's files to nobody.
func (e *env) asUnprivileged(cmd *exec.Cmd) {
	e.t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	const nobody = 65534
	// The binary's and the env's directories, and their parents, must be
	// reachable; the folder and the state directory writable.
	for _, d := range []string{filepath.Dir(focussyncBin(e.t)), e.dir, filepath.Dir(e.dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			e.t.Fatal(err)
		}
	}
	err := filepath.Walk(e.dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, nobody, nobody)
	})
	if err != nil {
		e.t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
}

// TestSync_UnreadableFileFails: a file that cannot be read is a failure of the
// pass: sync exits 1 naming it; the readable files still go up.
func TestSync_UnreadableFileFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.write("a.txt", "a")
	e.write("secret.txt", "no")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := e.command(ctx, "sync")
	e.asUnprivileged(cmd)
	if err := os.Chmod(filepath.Join(e.folder, "secret.txt"), 0); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("sync with an unreadable file: %v, want exit 1\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "FAILED secret.txt") || !strings.Contains(out.String(), "permission denied") {
		t.Errorf("sync does not name the unreadable file as failed:\n%s", out.String())
	}
	if got := e.names(); len(got) != 1 || got[0] != "a.txt" {
		t.Errorf("attachments %v, want [a.txt]", got)
	}
}

// TestCheck_Warnings: check warns, and still exits 0, about a folder that is the
// root of the file system, absurd durations, a status server reachable from other
// machines and a base_url over plain http to another machine.
func TestCheck_Warnings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.folder = "/"
	e.extra = "settle = \"41610d\"\nrescan = \"30d\"\nverify = \"400d\"\n"
	e.writeConfig()
	cfg, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(cfg), `listen = ""`, `listen = "0.0.0.0:7788"`, 1)
	s = strings.Replace(s, e.srv.URL, "http://focus.example.com/api", 1)
	if err := os.WriteFile(e.cfg, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.run("check")
	if r.code != 0 {
		t.Fatalf("check: %v, want exit 0 with warnings", r)
	}
	for _, want := range []string{
		"folder[1].path: / is the root of a file system",
		"folder[1].settle: 41610d is very long (more than 1h)",
		"folder[1].rescan: 30d is very long (more than 7d)",
		"folder[1].verify: 400d is very long (more than 90d)",
		`[status] listen = "0.0.0.0:7788" is reachable from other machines`,
		"api.base_url: http://focus.example.com/api is plain http to focus.example.com",
		"token would travel unencrypted",
	} {
		if !strings.Contains(r.stderr, "warning: ") || !strings.Contains(r.stderr, want) {
			t.Errorf("check does not warn %q:\n%s", want, r.stderr)
		}
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Errorf("check sent %d requests", n)
	}
}
