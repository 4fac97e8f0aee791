//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package state

import (
	"errors"
	"os"
	"time"
)

// errLockTimeout is returned by lockFile when the lock stays taken past the timeout.
var errLockTimeout = errors.New("timeout waiting for the state db lock")

// lockFile does nothing here: bbolt takes its lock when it opens the file, right
// after verification.
func lockFile(*os.File, bool, time.Duration) error { return nil }
