package control

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// The keyed endpoint (Windows): a loopback TCP port, and a file at the endpoint's
// path that holds its address and a random key. A caller proves it may read the
// file, which only the daemon's user, SYSTEM and Administrators can, by sending
// the key as its first line.

// keyedMagic opens the endpoint file.
const keyedMagic = "focussync-control 1"

// listenKeyed opens a keyed endpoint on a loopback port and writes its file.
func listenKeyed(endpoint string) (*Listener, error) {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("control endpoint %s: make a key: %w", endpoint, err)
	}
	secret := hex.EncodeToString(key[:])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("control endpoint %s: %w", endpoint, err)
	}
	content := keyedMagic + "\n" + ln.Addr().String() + "\n" + secret + "\n"
	if err := writePrivate(endpoint, content); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control endpoint %s: %w", endpoint, err)
	}
	return &Listener{
		Listener: ln,
		endpoint: endpoint,
		authorize: func(_ net.Conn, r *bufio.Reader) error {
			line, err := readLine(r)
			if err != nil {
				return fmt.Errorf("read key: %w", err)
			}
			if subtle.ConstantTimeCompare(line, []byte(secret)) != 1 {
				return errors.New("permission denied: wrong control key; only root (Administrators) and the daemon's user may control it")
			}
			return nil
		},
		cleanup: func() { removeIfOurs(endpoint, content) },
	}, nil
}

// writePrivate writes content to path readable only by its owner (and, on
// Windows, SYSTEM and Administrators), replacing it in one rename.
func writePrivate(path, content string) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".ctl*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = restrictFile(f)
	if err == nil {
		_, err = f.WriteString(content)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// removeIfOurs removes the endpoint file unless another daemon has written its own.
func removeIfOurs(path, content string) {
	if b, err := os.ReadFile(path); err == nil && string(b) == content {
		os.Remove(path)
	}
}

// dialKeyed reads the endpoint file and connects to the port it names; the key
// is the preamble to send first.
func dialKeyed(ctx context.Context, endpoint string) (net.Conn, []byte, error) {
	b, err := os.ReadFile(endpoint)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil, fmt.Errorf("%w on %s", ErrNotRunning, endpoint)
	case errors.Is(err, fs.ErrPermission):
		return nil, nil, fmt.Errorf("control endpoint %s: permission denied: only Administrators and the daemon's user may control the daemon", endpoint)
	case err != nil:
		return nil, nil, fmt.Errorf("control endpoint %s: %w", endpoint, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) != 3 || lines[0] != keyedMagic {
		return nil, nil, fmt.Errorf("control endpoint %s: not a focussync endpoint file", endpoint)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", lines[1])
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, nil, fmt.Errorf("%w on %s (%s)", ErrNotRunning, endpoint, lines[1])
		}
		return nil, nil, fmt.Errorf("control endpoint %s (%s): %w", endpoint, lines[1], err)
	}
	return conn, []byte(lines[2] + "\n"), nil
}
