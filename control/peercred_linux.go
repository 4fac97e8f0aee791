package control

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// checkPeer lets in root and the daemon's own user, as the kernel reports the
// caller (SO_PEERCRED), whatever the socket's mode.
func checkPeer(c net.Conn) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("control connection is not a unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return fmt.Errorf("control connection: %w", err)
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return fmt.Errorf("control connection: %w", err)
	}
	if credErr != nil {
		return fmt.Errorf("control connection: read the caller's credentials: %w", credErr)
	}
	own := os.Geteuid()
	if cred.Uid != 0 && int(cred.Uid) != own {
		return fmt.Errorf("permission denied: uid %d (pid %d) may not control this daemon; only root and uid %d may", cred.Uid, cred.Pid, own)
	}
	return nil
}
