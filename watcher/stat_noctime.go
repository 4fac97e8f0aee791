//go:build unix && !(linux || openbsd || dragonfly || solaris || illumos || darwin || ios || freebsd || netbsd)

package watcher

import "syscall"

// ctimeOf reports no ctime where the stat layout is not known here; the
// settle check then relies on mtime alone.
func ctimeOf(*syscall.Stat_t) (sec, nsec int64) { return 0, 0 }
