//go:build unix

package config

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A token_file that is a FIFO (or a device) is refused at once, naming the file:
// opening it for reading would otherwise wait for a writer forever.
func TestConfig_TokenFileSpecial(t *testing.T) {
	t.Setenv(TokenEnv, "")
	dir := t.TempDir()
	fifo := filepath.Join(dir, "token-fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{fifo: "fifo"}
	dev := filepath.Join(dir, "token-dev")
	if err := syscall.Mknod(dev, syscall.S_IFCHR|0o600, 1<<8|5); err == nil {
		paths[dev] = "character device" // the zero device: endless bytes
	}
	for p, kind := range paths {
		done := make(chan error, 1)
		go func() {
			c := &Config{API: API{TokenFile: p}}
			_, _, err := c.Token()
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), kind) || !strings.Contains(err.Error(), "regular file") {
				t.Errorf("Token() with a %s = %v, want an error naming %s as a %s, not a regular file", kind, err, p, kind)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Token() blocked on a %s", kind)
		}
	}
}
