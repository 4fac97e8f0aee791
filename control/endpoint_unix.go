//go:build unix

package control

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// maxSocketPath is the longest unix socket path every unix takes (sun_path is
// 104 bytes on macOS and the BSDs, 108 on Linux, with a NUL).
const maxSocketPath = 103

// Listen opens the daemon's control endpoint: a unix socket of mode 0600 at
// endpoint. A socket left there by a daemon that was killed is replaced (the state
// db's lock, taken first, makes sure no other daemon uses it); any other kind of
// file is an error.
func Listen(endpoint string) (*Listener, error) {
	if len(endpoint) > maxSocketPath {
		return nil, fmt.Errorf("control socket %s: the path is longer than %d bytes, the limit of a unix socket; keep the state db at a shorter path", endpoint, maxSocketPath)
	}
	if fi, err := os.Lstat(endpoint); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("control socket %s: a file that is not a socket is in the way; remove it", endpoint)
		}
		if err := os.Remove(endpoint); err != nil {
			return nil, fmt.Errorf("control socket %s: remove the old socket: %w", endpoint, err)
		}
	}
	// Bind under a temporary name, restrict it, then give it its name: the socket
	// is never reachable with a wider mode.
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(filepath.Dir(endpoint), ".ctl"+hex.EncodeToString(rnd[:]))
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", endpoint, err)
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("control socket %s: %w", endpoint, err)
	}
	if err := os.Rename(tmp, endpoint); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("control socket %s: %w", endpoint, err)
	}
	return &Listener{
		Listener:  ln,
		endpoint:  endpoint,
		authorize: func(c net.Conn, _ *bufio.Reader) error { return checkPeer(c) },
		cleanup:   func() { os.Remove(endpoint) },
	}, nil
}

// dial connects to the daemon's socket.
func dial(ctx context.Context, endpoint string) (net.Conn, []byte, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", endpoint)
	switch {
	case err == nil:
		return conn, nil, nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
		return nil, nil, fmt.Errorf("%w on %s", ErrNotRunning, endpoint)
	case errors.Is(err, fs.ErrPermission):
		return nil, nil, fmt.Errorf("control socket %s: permission denied: only root and %s may control the daemon", endpoint, socketOwner(endpoint))
	default:
		return nil, nil, fmt.Errorf("control socket %s: %w", endpoint, err)
	}
}

// socketOwner names the owner of the socket (the daemon's user), as well as can
// be told.
func socketOwner(endpoint string) string {
	fi, err := os.Stat(endpoint)
	if err != nil {
		return "the daemon's user"
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "the daemon's user"
	}
	uid := strconv.FormatUint(uint64(st.Uid), 10)
	if u, err := user.LookupId(uid); err == nil {
		return "user " + u.Username
	}
	return "uid " + uid
}
