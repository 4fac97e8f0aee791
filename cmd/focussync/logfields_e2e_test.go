package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/focussync/focussync/internal/testutil"
)

// jsonLines parses a JSON log, one object a line, failing on any other line.
func jsonLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON log line: %q", l)
		}
		out = append(out, m)
	}
	return out
}

func linesWith(lines []map[string]any, msg string) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// TestLog_SameFieldsInSyncAndRun checks that `sync` and `run` log an upload
// and a file too large to send the same way, with sizes readable and exact,
// and durations as duration strings.
func TestLog_SameFieldsInSyncAndRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFolderTOML(`max_file_size = "16B"`))
	e.write("big.bin", "more than sixteen bytes of content")
	e.write("a.txt", "0123456789")
	r := e.sync()
	synced := jsonLines(t, r.stderr)

	e.write("b.txt", "0123456789")
	d := e.startDaemon()
	testutil.WaitUntil(t, 30*time.Second, "b.txt", func() bool { return e.attachmentNamed("b.txt") })
	testutil.WaitUntil(t, 30*time.Second, "the pass to be logged", func() bool { return strings.Contains(d.stderr.String(), "folder in sync") })
	d.stop()
	ran := jsonLines(t, d.stderr.String())

	for name, lines := range map[string][]map[string]any{"sync": synced, "run": ran} {
		skipped := linesWith(lines, "file skipped")
		if len(skipped) != 1 {
			t.Errorf("%s: %d \"file skipped\" lines, want 1:\n%v", name, len(skipped), lines)
		} else if s := skipped[0]; s["file"] != "big.bin" || !strings.HasPrefix(s["reason"].(string), "larger than max_file_size") {
			t.Errorf("%s: skipped line %v", name, s)
		}
		up := linesWith(lines, "uploaded")
		if len(up) != 1 {
			t.Fatalf("%s: %d \"uploaded\" lines, want 1", name, len(up))
		}
		if up[0]["size"] != "10 B" || up[0]["bytes"] != float64(10) {
			t.Errorf("%s: uploaded line has size %#v and bytes %#v, want \"10 B\" and 10", name, up[0]["size"], up[0]["bytes"])
		}
	}
	if len(linesWith(synced, "cannot read")) != 0 {
		t.Errorf("sync logs the too-large file a second way")
	}
	for _, msg := range []string{"folder in sync", "watching folder"} {
		for _, l := range linesWith(ran, msg) {
			for _, k := range []string{"took", "rescan"} {
				v, ok := l[k]
				if !ok {
					continue
				}
				s, isString := v.(string)
				if _, err := time.ParseDuration(s); !isString || err != nil {
					t.Errorf("run: %q %s = %#v, want a duration string", msg, k, v)
				}
			}
		}
	}
	if l := linesWith(ran, "folder in sync"); len(l) == 0 || l[0]["took"] == nil {
		t.Errorf("run logs no pass with its duration")
	}
}

func TestSync_UnauthorizedSaysItOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.tokenFile = filepath.Join(e.dir, "token")
	if err := os.WriteFile(e.tokenFile, []byte("toggl_sk_wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.extraAPI = fmt.Sprintf("token_file = %q\n", e.tokenFile)
	e.writeConfig()
	e.write("a.txt", "a")
	r := e.run("sync")
	if r.code != 1 {
		t.Fatalf("sync with a wrong token: %v", r)
	}
	out := r.stdout + r.stderr
	if !strings.Contains(out, "list task 101: auth (HTTP 401)") || strings.Contains(out, "list task: list task") {
		t.Errorf("the 401 is not reported once and plainly:\n%s", out)
	}
}

// TestRun_LogFile checks that run --log-file writes the log there (JSON lines,
// mode 0600) and nothing to stderr.
func TestRun_LogFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	logPath := filepath.Join(e.dir, "logs", "focussync.log")
	e.write("a.txt", "a")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.command(ctx, "run", "--log-file", logPath)
	var stderr lockedBuffer
	cmd.Stderr, cmd.Stdout = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("log file:\n%s\nstderr:\n%s", b, stderr.String())
		}
	})
	testutil.WaitUntil(t, 60*time.Second, "a.txt", func() bool { return e.attachmentNamed("a.txt") })
	testutil.WaitUntil(t, 30*time.Second, "the pass in the log file", func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), "folder in sync")
	})
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := jsonLines(t, string(b))
	if len(linesWith(lines, "focussync starting")) != 1 || len(linesWith(lines, "focussync stopped")) != 1 {
		t.Errorf("the log file lacks the start or the stop:\n%s", b)
	}
	if stderr.String() != "" {
		t.Errorf("stderr = %q, want nothing: the log goes to the file", stderr.String())
	}
	if st, err := os.Stat(logPath); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("log file mode: %v %v", st, err)
	}
}
