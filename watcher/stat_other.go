//go:build !unix

package watcher

import (
	"io/fs"
	"time"
)

// DeviceOf returns 0: device ids are not available on this system, so the
// device check is skipped.
func DeviceOf(path string) (uint64, error) { return 0, nil }

// fileIDs returns no inode and no ctime on this system: the hash cache then
// relies on size and mtime, and the settle check on mtime.
func fileIDs(fs.FileInfo) (inode uint64, ctime time.Time) { return 0, time.Time{} }
