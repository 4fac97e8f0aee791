//go:build unix

package cluster

import "syscall"

// noFollow makes an open fail on a symbolic link instead of following it, and
// nonBlock keeps an open of a FIFO from waiting for a writer.
const (
	noFollow = syscall.O_NOFOLLOW
	nonBlock = syscall.O_NONBLOCK
)
