// Package testutil holds the helpers that focussync's tests share: waiting for a
// condition with a deadline (never a fixed sleep), and small file builders.
package testutil

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// WaitUntil polls cond until it holds and returns how long that took, failing the
// test with what when timeout passes first. It never sleeps longer than 20ms
// between looks, so a busy machine only makes it slower, never wrong: give it a
// generous timeout.
func WaitUntil(tb testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	wait := time.Millisecond
	for !cond() {
		if time.Since(start) > timeout {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(wait)
		wait = min(2*wait, 20*time.Millisecond)
	}
	return time.Since(start)
}

// WriteFile writes content to the file name under dir (creating parent
// directories), failing the test on error, and returns its path.
func WriteFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}
