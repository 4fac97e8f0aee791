//go:build !linux

package watcher

import (
	"errors"
	"syscall"
)

// overflowHint names the remedy for lost events.
const overflowHint = "If this recurs, the folder may change faster than events can be read"

// limitReason tells whether err, from setting up a watch, means that a
// system limit was reached; if so it returns the Reason to show while the
// folder is polled and the remedy to log.
func limitReason(err error) (reason, hint string, ok bool) {
	switch {
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		// kqueue holds one open file per watched file and directory.
		return "open file limit reached",
			"raise the limit on open files (ulimit -n, or LimitNOFILE for a service)", true
	case errors.Is(err, syscall.ENOSPC):
		return "watch limit reached", "raise the system's limit on watches", true
	}
	return "", "", false
}
