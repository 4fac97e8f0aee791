package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A second `demo --once` over the same directory meets a new, empty emulator: it
// must upload the folder again and show the task with its files, not trust the
// state db of the first run and show an empty task.
func TestDemo_OnceTwiceOverOneDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("FOCUS_API_TOKEN", "")
	for run := 1; run <= 2; run++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var out, errb bytes.Buffer
		code := runMain(ctx, &app{stdout: &out, stderr: &errb}, []string{"demo", "--once", "--dir", dir, "--listen", "127.0.0.1:0"})
		cancel()
		if code != 0 {
			t.Fatalf("run %d: exit %d\n%s\n%s", run, code, out.String(), errb.String())
		}
		want := len(demoFiles)
		if !strings.Contains(out.String(), "uploaded 5 (") || !strings.Contains(out.String(), "now holds 5 attachment(s)") {
			t.Errorf("run %d: want %d files uploaded and shown in the task:\n%s", run, want, out.String())
		}
		for name := range demoFiles {
			if !strings.Contains(out.String(), name) {
				t.Errorf("run %d: %s not in the task:\n%s", run, name, out.String())
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "state.db")); err != nil {
		t.Errorf("state db: %v", err)
	}
}
