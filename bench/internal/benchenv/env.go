// Package benchenv runs the real focussync binary against an in-process
// emulator of the Focus API: it builds the binary, writes its config, runs
// `focussync sync` and `focussync run`, and reads what the emulator and /proc
// saw. The benchmarks and the soak under bench/ share it.
package benchenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
)

// Token is the API token the emulator accepts and the binary is given.
const Token = "toggl_sk_bench"

// Org and Workspace hold every task of a bench run.
const (
	Org       = 11
	Workspace = 22
)

// Build compiles ./cmd/focussync of the module that holds the working directory
// into dir and returns the binary's path.
func Build(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("build focussync: go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("build focussync: run from inside the focussync module")
	}
	bin := filepath.Join(dir, "focussync")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/focussync")
	cmd.Dir = filepath.Dir(mod)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build focussync: %w\n%s", err, b)
	}
	return bin, nil
}

// Folder is one [[folder]] of the config.
type Folder struct {
	Path  string
	Task  int64
	Extra string // more TOML lines for the folder's table
}

// Env is one scene: an emulator, folders mapped to tasks, a config file and a
// state db, all under Dir.
type Env struct {
	Bin     string
	Dir     string
	Srv     *focustest.Server
	Folders []Folder
	// Defaults are TOML lines of the [defaults] table.
	Defaults string
	// StatusListen is the [status] listen address; "" turns the server off.
	StatusListen string
	// ExtraEnv is added to the binary's environment (e.g. FOCUSSYNC_RETRY_INITIAL=50ms).
	ExtraEnv []string
	// Tables is more TOML appended after the folders (e.g. a [cluster] table).
	Tables string

	cfg, state string
}

// NewEnv creates the directories of a scene under dir (which must exist) with
// one folder "folder" mapped to task 101, and an emulator configured by opts
// (its Token is set to Token). The caller must Close it.
func NewEnv(bin, dir string, opts focustest.Options) (*Env, error) {
	opts.Token = Token
	e := &Env{
		Bin:      bin,
		Dir:      dir,
		Folders:  []Folder{{Path: filepath.Join(dir, "folder"), Task: 101}},
		Defaults: "settle = \"1ms\"\nrescan = \"10m\"\nmax_file_size = \"4GiB\"\n",
		cfg:      filepath.Join(dir, "config.toml"),
		state:    filepath.Join(dir, "state", "state.db"),
	}
	for _, d := range []string{e.Folders[0].Path, filepath.Dir(e.state)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("new bench env: %w", err)
		}
	}
	e.Srv = focustest.NewServer(opts)
	return e, nil
}

// Twin returns a second host of the scene, as another machine that mounts the
// same folders: the same emulator, folders and settings, with its own config file
// and state db (named after name) and its own status address. Closing the Env
// that Twin was called on closes the twin's emulator too; the twin itself needs
// no Close.
func (e *Env) Twin(name string) (*Env, error) {
	t := *e
	t.Folders = append([]Folder(nil), e.Folders...)
	t.cfg = filepath.Join(e.Dir, name+".toml")
	t.state = filepath.Join(e.Dir, name, "state.db")
	if err := os.MkdirAll(filepath.Dir(t.state), 0o755); err != nil {
		return nil, fmt.Errorf("twin %s: %w", name, err)
	}
	if e.StatusListen != "" {
		addr, err := FreePort()
		if err != nil {
			return nil, err
		}
		t.StatusListen = addr
	}
	return &t, nil
}

// Close stops the emulator.
func (e *Env) Close() { e.Srv.Close() }

// Folder is the path of the first folder.
func (e *Env) Folder() string { return e.Folders[0].Path }

// Task is the task of the first folder.
func (e *Env) Task() int64 { return e.Folders[0].Task }

// ConfigPath is the config file the binary is given.
func (e *Env) ConfigPath() string { return e.cfg }

// StatePath is the state db.
func (e *Env) StatePath() string { return e.state }

// WriteConfig writes the config file from the Env's fields.
func (e *Env) WriteConfig() error {
	var b strings.Builder
	fmt.Fprintf(&b, "[api]\nbase_url = %q\norganization_id = %d\nworkspace_id = %d\n\n", e.Srv.URL, Org, Workspace)
	fmt.Fprintf(&b, "[state]\npath = %q\n\n[log]\nformat = \"json\"\n\n[status]\nlisten = %q\n\n", e.state, e.StatusListen)
	fmt.Fprintf(&b, "[defaults]\n%s\n", e.Defaults)
	for _, f := range e.Folders {
		fmt.Fprintf(&b, "[[folder]]\npath = %q\ntask_id = %d\n%s\n", f.Path, f.Task, f.Extra)
	}
	b.WriteString(e.Tables)
	if err := os.WriteFile(e.cfg, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}

// Result is one finished run of the binary.
type Result struct {
	Stdout, Stderr string
	Code           int
	Wall           time.Duration
	PeakRSS        int64 // bytes (VmHWM), sampled while it ran; 0 when not sampled
	PeakAnon       int64 // bytes, the highest RssAnon sampled (PeakRSS without mapped files)
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr (tail):\n%s", r.Code, r.Stdout, tail(r.Stderr, 4000))
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// Command prepares the binary with args and the config.
func (e *Env) Command(ctx context.Context, args ...string) *exec.Cmd {
	args = append(args, "--config", e.cfg)
	cmd := exec.CommandContext(ctx, e.Bin, args...)
	cmd.Env = append(os.Environ(), "FOCUS_API_TOKEN="+Token, "NO_COLOR=1")
	cmd.Env = append(cmd.Env, e.ExtraEnv...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Run runs the binary (e.g. "sync") and waits for it. With sampleRSS it polls
// the process's VmHWM until it exits. A non-zero exit is not an error.
func (e *Env) Run(ctx context.Context, sampleRSS bool, args ...string) (Result, error) {
	cmd := e.Command(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("start focussync %v: %w", args, err)
	}
	var peak <-chan Peak
	if sampleRSS {
		peak = WatchPeak(cmd.Process.Pid)
	}
	err := cmd.Wait()
	wall := time.Since(start)
	r := Result{Stdout: out.String(), Stderr: errb.String(), Wall: wall}
	if peak != nil {
		p := <-peak
		r.PeakRSS, r.PeakAnon = p.RSS, p.Anon
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		return r, fmt.Errorf("run focussync %v: %w", args, err)
	}
	if ctx.Err() != nil {
		return r, fmt.Errorf("run focussync %v: %w", args, ctx.Err())
	}
	return r, nil
}

// Sync runs `focussync sync` and fails unless it exits 0.
func (e *Env) Sync(ctx context.Context, args ...string) (Result, error) {
	r, err := e.Run(ctx, false, append([]string{"sync"}, args...)...)
	if err != nil {
		return r, err
	}
	if r.Code != 0 {
		return r, fmt.Errorf("focussync sync %v: %v", args, r)
	}
	return r, nil
}

// Mark is the length of the emulator's request log, to count from.
func (e *Env) Mark() int { return len(e.Srv.Requests()) }

// Since counts the requests logged from mark on, by endpoint.
func (e *Env) Since(mark int) map[focus.Endpoint]int {
	m := map[focus.Endpoint]int{}
	for _, r := range e.Srv.Requests()[mark:] {
		m[r.Endpoint]++
	}
	return m
}

// Total adds the counts of m.
func Total(m map[focus.Endpoint]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}

// FreePort returns a loopback address with a port free at the time of the call.
func FreePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}
