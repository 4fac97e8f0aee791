//go:build darwin || ios || freebsd || netbsd

package watcher

import "syscall"

func ctimeOf(st *syscall.Stat_t) (sec, nsec int64) { return st.Ctimespec.Unix() }
