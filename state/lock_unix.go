//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package state

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// errLockTimeout is returned by lockFile when the lock stays taken past the timeout.
var errLockTimeout = errors.New("timeout waiting for the state db lock")

// lockFile takes bbolt's own lock on f (flock: exclusive for a writer, shared for
// a reader), waiting up to timeout. bbolt locks the same open file again when it
// opens it, which is a no-op, so the lock is held from verification to close.
func lockFile(f *os.File, exclusive bool, timeout time.Duration) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
		}
		if time.Now().After(deadline) {
			return errLockTimeout
		}
		time.Sleep(50 * time.Millisecond)
	}
}
