package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/focussync/focussync/internal/fsinfo"
)

// memoryFS are file systems held in memory, where fsync costs nothing.
var memoryFS = map[string]bool{"tmpfs": true, "ramfs": true}

// scratchBase returns the directory under which the report keeps its state dbs
// and trees, and the name of its file system. dir "" means the temp directory,
// or the user cache directory when the temp directory is in memory: the state
// db must pay for its fsyncs as on a real host.
func scratchBase(dir string) (string, string, error) {
	if dir == "" {
		dir = os.TempDir()
		if name, _, err := fsinfo.FSType(dir); err == nil && memoryFS[name] {
			cache, err := os.UserCacheDir()
			if err != nil {
				return "", "", fmt.Errorf("the temp directory %s is on %s and there is no user cache directory: give -scratch: %w", dir, name, err)
			}
			dir = filepath.Join(cache, "focussync-bench")
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("scratch directory: %w", err)
	}
	name, _, err := fsinfo.FSType(dir)
	if err != nil {
		return "", "", fmt.Errorf("scratch directory: %w", err)
	}
	if memoryFS[name] {
		logf("warning: the scratch directory %s is on %s: fsyncs cost nothing there, unlike on a host", dir, name)
	}
	return dir, name, nil
}

// loadAverage returns the 1, 5 and 15 minute load averages, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
