package syncer

import "log/slog"

// LogSkipped logs a file left alone for a lasting reason (too large,
// unreadable, refused): one line, the same for `focussync sync` and the daemon.
func LogSkipped(log *slog.Logger, s Skip) {
	log.Warn("file skipped", "file", s.Path, "reason", s.Reason)
}
