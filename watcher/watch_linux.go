package watcher

import (
	"errors"
	"syscall"
)

// overflowHint names the kernel setting behind a queue overflow.
const overflowHint = "If this recurs, raise fs.inotify.max_queued_events, " +
	"e.g. sysctl fs.inotify.max_queued_events=65536"

// limitReason tells whether err, from setting up inotify, means that a
// kernel limit was reached; if so it returns the Reason to show while the
// folder is polled and the remedy to log.
func limitReason(err error) (reason, hint string, ok bool) {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		// inotify_add_watch: one watch per directory, per user.
		return "inotify limit reached: fs.inotify.max_user_watches",
			"raise fs.inotify.max_user_watches, e.g. sysctl fs.inotify.max_user_watches=524288 " +
				"(and in /etc/sysctl.d/ to keep it)", true
	case errors.Is(err, syscall.EMFILE):
		// inotify_init1: one instance per watched folder, per user.
		return "inotify limit reached: fs.inotify.max_user_instances",
			"raise fs.inotify.max_user_instances, e.g. sysctl fs.inotify.max_user_instances=1024 " +
				"(and in /etc/sysctl.d/ to keep it)", true
	}
	return "", "", false
}
