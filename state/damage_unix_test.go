//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package state

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestOpen_NotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.db")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for _, path := range []string{fifo, dir} {
		for _, ro := range []bool{false, true} {
			done := make(chan error, 1)
			go func() {
				_, err := Open(path, Options{ReadOnly: ro, MoveAsideDamaged: true})
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, ErrForeign) || !strings.Contains(err.Error(), "not a regular file") {
					t.Errorf("Open(%s, ReadOnly=%v) = %v, want ErrForeign: not a regular file", path, ro, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("Open(%s, ReadOnly=%v) hangs", path, ro)
			}
		}
	}
}
