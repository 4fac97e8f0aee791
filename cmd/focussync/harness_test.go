package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
	"github.com/focussync/focussync/internal/scope"
	"github.com/focussync/focussync/syncer"
)

// The end-to-end tests run the real binary, built once, against the emulator.
var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// focussyncBin builds the binary (with the race detector when the tests have it).
func focussyncBin(t testing.TB) string {
	t.Helper()
	binOnce.Do(buildBin)
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func buildBin() {
	dir, err := os.MkdirTemp("", "focussync-bin-")
	if err != nil {
		binErr = err
		return
	}
	binPath = filepath.Join(dir, "focussync")
	args := []string{"build", "-o", binPath}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		binErr = fmt.Errorf("go build: %v\n%s", err, out)
	}
}

// e2eParallel is how many tests run at once unless -parallel says otherwise.
// The end-to-end tests wait on the binary most of the time, so more of them
// than the default of one per core; the default stays for other packages,
// whose tests (etcd clusters in the test process) do not wait that way.
const e2eParallel = 8

// TestMain builds the binary while the tests that do not need it run, when the
// whole package runs (the end-to-end tests are parallel: they start after the
// others).
func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		flag.Set("test.parallel", fmt.Sprint(max(e2eParallel, runtime.GOMAXPROCS(0))))
	}
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() == "" {
		go binOnce.Do(buildBin)
	}
	code := m.Run()
	binOnce.Do(func() {}) // a build under way ends before its directory goes
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

const (
	testToken = "toggl_sk_test_e2e"
	testOrg   = 11
	testWS    = 22
)

// env is one end-to-end scene: an emulator, a folder mapped to a task, a config
// and a state db. Scenes share nothing, so the tests that make one run in
// parallel (t.Parallel): each sets what its binary needs in its own environment
// (setenv), never in the test process's.
type env struct {
	t      *testing.T
	srv    *focustest.Server
	dir    string
	folder string
	cfg    string
	state  string
	task   int64
	extra  string // more TOML for the [[folder]] table

	extraAPI  string   // more TOML for [api]
	tokenFile string   // when set, the token comes from this file, not the environment
	vars      []string // more environment for the binary (NAME=value)
}

// setenv sets an environment variable for every run of the binary in this scene.
func (e *env) setenv(name, value string) { e.vars = append(e.vars, name+"="+value) }

type envOption func(*env, *focustest.Options)

func withQuota(n int, window time.Duration) envOption {
	return func(_ *env, o *focustest.Options) { o.Quota, o.Window = n, window }
}

func withFolderTOML(s string) envOption {
	return func(e *env, _ *focustest.Options) { e.extra += s + "\n" }
}

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, folder: filepath.Join(dir, "folder"), state: filepath.Join(dir, "state", "state.db"), task: 101}
	o := focustest.Options{Token: testToken}
	for _, opt := range opts {
		opt(e, &o)
	}
	for _, d := range []string{e.folder, filepath.Dir(e.state)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.srv = focustest.NewServer(o)
	t.Cleanup(e.srv.Close)
	e.cfg = filepath.Join(dir, "config.toml")
	e.writeConfig()
	return e
}

func (e *env) writeConfig() {
	e.t.Helper()
	cfg := fmt.Sprintf(`[api]
base_url = %q
organization_id = %d
workspace_id = %d
%s
[state]
path = %q

[status]
listen = ""

[defaults]
settle = "1ms"
rescan = "1s"

[[folder]]
path = %q
task_id = %d
%s`, e.srv.URL, testOrg, testWS, e.extraAPI, e.state, e.folder, e.task, e.extra)
	if !strings.Contains(e.extra, "[cluster]") {
		// A daemon claims each task's lease before its first pass and holds the
		// claim for lease_ttl/8 first: 1 s here rather than the default's 3.75 s.
		cfg += "\n[cluster]\nlease_ttl = \"8s\"\n"
	}
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs the binary with the config and the test token, and waits for it.
func (e *env) run(args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := e.command(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// command prepares the binary with the config appended to args.
func (e *env) command(ctx context.Context, args ...string) *exec.Cmd {
	args = append(args, "--config", e.cfg)
	cmd := exec.CommandContext(ctx, focussyncBin(e.t), args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	if e.tokenFile == "" {
		cmd.Env = append(cmd.Env, "FOCUS_API_TOKEN="+testToken)
	} else {
		cmd.Env = append(cmd.Env, "FOCUS_API_TOKEN=")
	}
	cmd.Env = append(cmd.Env, e.vars...)
	return cmd
}

// sync runs `focussync sync` and fails the test unless it exits 0.
func (e *env) sync(args ...string) result {
	e.t.Helper()
	r := e.run(append([]string{"sync"}, args...)...)
	if r.code != 0 {
		e.t.Fatalf("sync %v: %v", args, r)
	}
	return r
}

// write creates or replaces a file in the folder.
func (e *env) write(name, content string) {
	e.t.Helper()
	p := filepath.Join(e.folder, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// writeN creates n files named f000.txt... with distinct content.
func (e *env) writeN(n int, prefix string) {
	for i := range n {
		e.write(fmt.Sprintf("%s%03d.txt", prefix, i), fmt.Sprintf("content of %s %d\n", prefix, i))
	}
}

// attachments are the task's live attachments in display order.
func (e *env) attachments() []focustest.Stored { return e.srv.Attachments(e.task) }

// requests counts the logged requests by endpoint, from index from on.
func (e *env) requests(from int) map[focus.Endpoint]int {
	m := map[focus.Endpoint]int{}
	for _, r := range e.srv.Requests()[from:] {
		m[r.Endpoint]++
	}
	return m
}

func (e *env) mark() int { return len(e.srv.Requests()) }

func writes(m map[focus.Endpoint]int) int {
	n := 0
	for ep, c := range m {
		if ep.Write() {
			n += c
		}
	}
	return n
}

// assertMirrors checks that the task holds exactly one attachment per file in the
// folder (ignoring skipped names), with the file's content, and none twice.
func (e *env) assertMirrors() {

	e.t.Helper()
	want := map[string]string{}
	err := filepath.WalkDir(e.folder, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || scope.IgnoredByDefault(d.Name()) {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(e.folder, p)
		sum := sha256.Sum256(b)
		want[syncer.RemoteName(filepath.ToSlash(rel))] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	got := map[string]string{}
	var dups []string
	for _, a := range e.attachments() {
		if _, dup := got[a.Name]; dup {
			dups = append(dups, a.Name)
		}
		got[a.Name] = a.SHA256
	}
	if len(dups) > 0 {
		e.t.Errorf("duplicate attachments: %v", dups)
	}
	for name, h := range want {
		if got[name] == "" {
			e.t.Errorf("file %s has no attachment", name)
		} else if got[name] != h {
			e.t.Errorf("attachment %s has other content than the file", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			e.t.Errorf("attachment %s has no file", name)
		}
	}
}

// names are the attachments' names in display order.
func (e *env) names() []string {
	var n []string
	for _, a := range e.attachments() {
		n = append(n, a.Name)
	}
	return n
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}
