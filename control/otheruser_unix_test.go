//go:build unix

package control

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The other-user tests run this test binary again as uid 65534 (nobody), which
// makes one call and prints its outcome.
const helperEnv = "FOCUSSYNC_CONTROL_TEST_CALL"

func TestHelperCall(t *testing.T) {
	ep := os.Getenv(helperEnv)
	if ep == "" {
		t.Skip("run by the other-user tests")
	}
	_, err := call(t, ep, "echo", map[string]string{"x": "y"})
	fmt.Printf("uid %d: err=%v\n", os.Getuid(), err)
}

// asNobody runs the helper as uid and gid 65534 against ep and returns its output.
func asNobody(t *testing.T, ep string) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("runs a process as another user on Linux")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a process as another user")
	}
	// The test binary, where nobody may run it.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "focussync-control-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "control.test")
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run=^TestHelperCall$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+ep)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "uid 65534:") {
		t.Fatalf("the helper did not run as uid 65534:\n%s", out)
	}
	return string(out)
}

// openDir returns a directory under the system temp dir that every user may enter.
func openDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "focussync-ctl-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCall_OtherUserRefusedBySocketMode(t *testing.T) {
	ep := filepath.Join(openDir(t), "state.sock")
	calls := 0
	ln, err := Listen(ep)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, ln, func(ctx context.Context, op string, args json.RawMessage) (any, error) {
		calls++
		return echo(ctx, op, args)
	})
	out := asNobody(t, ep)
	if !strings.Contains(out, "permission denied: only root and") {
		t.Errorf("nobody's call: %s\nwant permission denied", out)
	}
	if calls != 0 {
		t.Errorf("the handler ran %d time(s) for another user", calls)
	}
	// Root may.
	if got, err := call(t, ep, "echo", map[string]string{"x": "y"}); err != nil || got["x"] != "y" {
		t.Errorf("root's call = %v, %v", got, err)
	}
}

func TestCall_OtherUserRefusedByPeerCredentials(t *testing.T) {
	ep := filepath.Join(openDir(t), "state.sock")
	calls := 0
	ln, err := Listen(ep)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, ln, func(ctx context.Context, op string, args json.RawMessage) (any, error) {
		calls++
		return echo(ctx, op, args)
	})
	// A socket opened wide by mistake (or by a person): the kernel's word on the
	// caller still keeps other users out.
	if err := os.Chmod(ep, 0o666); err != nil {
		t.Fatal(err)
	}
	out := asNobody(t, ep)
	if !strings.Contains(out, "permission denied: uid 65534") {
		t.Errorf("nobody's call: %s\nwant a refusal naming uid 65534", out)
	}
	if calls != 0 {
		t.Errorf("the handler ran %d time(s) for another user", calls)
	}
}
