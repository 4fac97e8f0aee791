//go:build unix

package watcher

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// DeviceOf returns the device id (st_dev) of the file or directory at path,
// following symlinks. An unmounted share shows up as a change of device.
func DeviceOf(path string) (uint64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("device of %s: %w", path, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("device of %s: no stat data", path)
	}
	return uint64(st.Dev), nil
}

// fileIDs returns the inode and the status change time (ctime) of fi; zero
// values when the system does not provide them.
func fileIDs(fi fs.FileInfo) (inode uint64, ctime time.Time) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, time.Time{}
	}
	sec, nsec := ctimeOf(st)
	if sec == 0 && nsec == 0 {
		return uint64(st.Ino), time.Time{}
	}
	return uint64(st.Ino), time.Unix(sec, nsec)
}
