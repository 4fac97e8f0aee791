package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeCheckConfig writes body as config.toml in a new temporary directory that
// also holds the folders "a" and "b" and a token file "token" (mode 0600).
// Relative paths in body resolve against that directory.
func writeCheckConfig(t *testing.T, body string) (path, dir string) {
	t.Helper()
	dir = t.TempDir()
	for _, d := range []string{"a", "b"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("toggl_sk_test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, dir
}

// runCheckCmd runs focussync with args and returns its exit code and outputs.
func runCheckCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = runMain(context.Background(), &app{stdout: &out, stderr: &errOut}, args)
	return code, out.String(), errOut.String()
}

// checkHead takes lines 1-6; the first [[folder]] of a test body is on line 7.
const checkHead = `[api]
organization_id = 11
workspace_id = 22
token_file = "token"
[state]
path = "state/state.db"
`

const checkFolder = "[[folder]]\npath = \"a\"\ntask_id = 101\n"

func TestCheck_Valid(t *testing.T) {
	t.Setenv("FOCUS_API_TOKEN", "")
	path, dir := writeCheckConfig(t, checkHead+checkFolder+"exclude = [\"*.tmp\"]\nmarker = \".mounted\"\n"+
		"[[folder]]\npath = \"b\"\ntask_id = 102\nmax_delete = 20\nrescan = \"1h30m\"\n")
	for _, flag := range []string{"--config", "-c"} {
		code, out, errOut := runCheckCmd(t, "check", flag, path)
		if code != 0 {
			t.Fatalf("check %s: exit %d, stderr:\n%s", flag, code, errOut)
		}
		for _, want := range []string{
			path + ": valid",
			"token:  found in " + filepath.Join(dir, "token"),
			"state:  " + filepath.Join(dir, "state", "state.db"),
			"2 folders:",
			filepath.Join(dir, "a") + " -> task 101 (organization 11, workspace 22)",
			"settle 3s, rescan 10m, verify 24h, watch auto, order name",
			"max_delete 50%, max_file_size 100MiB",
			"exclude *.tmp; marker .mounted",
			filepath.Join(dir, "b") + " -> task 102",
			"rescan 1h30m",
			"max_delete 20,",
			"status: http://127.0.0.1:7788/status",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("check %s: stdout lacks %q:\n%s", flag, want, out)
			}
		}
		if errOut != "" {
			t.Errorf("check %s: stderr = %q, want nothing", flag, errOut)
		}
	}
}

func TestCheck_TokenFromEnv(t *testing.T) {
	t.Setenv("FOCUS_API_TOKEN", "toggl_sk_env")
	path, _ := writeCheckConfig(t, "[api]\norganization_id = 11\nworkspace_id = 22\n[state]\npath = \"s.db\"\n"+checkFolder)
	code, out, errOut := runCheckCmd(t, "check", "--config", path)
	if code != 0 || !strings.Contains(out, "token:  found in $FOCUS_API_TOKEN") {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, "toggl_sk_env") {
		t.Errorf("the token was printed")
	}
}

func TestCheck_TokenProblems(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		t.Setenv("FOCUS_API_TOKEN", "")
		path, _ := writeCheckConfig(t, "[api]\norganization_id = 11\nworkspace_id = 22\n[state]\npath = \"s.db\"\n"+checkFolder)
		code, out, errOut := runCheckCmd(t, "check", "--config", path)
		if code != 1 || !strings.Contains(errOut, "no API token: set FOCUS_API_TOKEN or [api] token_file") || !strings.Contains(out, "token:  missing") {
			t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
	})
	t.Run("token file readable by others", func(t *testing.T) {
		t.Setenv("FOCUS_API_TOKEN", "")
		path, dir := writeCheckConfig(t, checkHead+checkFolder)
		if err := os.Chmod(filepath.Join(dir, "token"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := runCheckCmd(t, "check", "--config", path)
		if code != 0 || !strings.HasPrefix(errOut, "warning: token file "+filepath.Join(dir, "token")) {
			t.Errorf("exit %d, stderr:\n%s", code, errOut)
		}
	})
	t.Run("token file missing", func(t *testing.T) {
		t.Setenv("FOCUS_API_TOKEN", "")
		path, dir := writeCheckConfig(t, checkHead+checkFolder)
		if err := os.Remove(filepath.Join(dir, "token")); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := runCheckCmd(t, "check", "--config", path)
		if code != 1 || !strings.Contains(errOut, filepath.Join(dir, "token")) {
			t.Errorf("exit %d, stderr:\n%s", code, errOut)
		}
	})
}

func TestCheck_Invalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want []string
	}{
		{"syntax error", checkHead + checkFolder + "settle = \"3s\" x\n", []string{"config.toml:10:15: "}},
		{"unknown key", checkHead + checkFolder + "settel = \"3s\"\n", []string{"config.toml:10:1: folder[1].settel: unknown key"}},
		{"unknown key in api", "[api]\norganisation_id = 11\n" + checkFolder, []string{"config.toml:2:1: api.organisation_id: unknown key"}},
		{"missing task_id", checkHead + "[[folder]]\npath = \"a\"\n", []string{"config.toml:7: folder[1].task_id: is required"}},
		{"missing folder directory", checkHead + "[[folder]]\npath = \"gone\"\ntask_id = 101\n", []string{"config.toml:8: folder[1].path: ", "gone: no such directory"}},
		{"negative settle", checkHead + checkFolder + "settle = \"-3s\"\n", []string{`config.toml:10: folder[1].settle: must be greater than 0 (got "-3s")`}},
		{"duplicate folder", checkHead + checkFolder + "[[folder]]\npath = \"a\"\ntask_id = 102\n", []string{"config.toml:11: folder[2].path: same directory as folder[1]"}},
		{"duplicate task", checkHead + checkFolder + "[[folder]]\npath = \"b\"\ntask_id = 101\n", []string{"config.toml:12: folder[2].task_id: task 101 in organization 11 is already mirrored by folder[1]"}},
		{"several problems", checkHead + "[log]\nlevel = \"loud\"\n[[folder]]\npath = \"a\"\nwatch = \"x\"\n", []string{
			"\n" + "config.toml:8: log.level: must be one of",
			"\n" + "config.toml:9: folder[1].task_id: is required",
			"\n" + "config.toml:11: folder[1].watch: must be one of auto, events, poll",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("FOCUS_API_TOKEN", "")
			path, dir := writeCheckConfig(t, tc.body)
			code, out, errOut := runCheckCmd(t, "check", "--config", path)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
			for _, want := range tc.want {
				// Every problem is on its own line, prefixed with the file's path.
				want = strings.ReplaceAll(want, "config.toml:", filepath.Join(dir, "config.toml")+":")
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
		})
	}
}

func TestCheck_Usage(t *testing.T) {
	code, _, errOut := runCheckCmd(t, "check", "--config", filepath.Join(t.TempDir(), "missing.toml"))
	if code != 1 || !strings.Contains(errOut, "missing.toml") {
		t.Errorf("check with a missing file: exit %d, stderr:\n%s", code, errOut)
	}
	code, _, _ = runCheckCmd(t, "check", "-h")
	if code != 0 {
		t.Errorf("check -h: exit %d, want 0", code)
	}
}
