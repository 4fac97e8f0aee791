// Package control is the local control channel of a running focussync daemon: the
// daemon listens on an endpoint beside its state db, and commands such as
// `focussync pause` or `focussync sync` reach it there instead of opening the state
// db a second time.
//
// Only root and the daemon's own user may use it. On unix the endpoint is a socket
// of mode 0600, and on Linux the daemon also checks each caller's uid with
// SO_PEERCRED. On Windows, which has no such sockets in every version, it is a
// loopback TCP port whose address and a random key are written to a file readable
// only by its owner, SYSTEM and Administrators; a caller proves that it could read
// the file by sending the key.
//
// The protocol is one JSON request line and one JSON response line per connection.
package control

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
)

// ProtocolVersion is the version of the request and response layout. A daemon
// refuses a request of another version with a message that says to use the
// daemon's own binary.
const ProtocolVersion = 1

// maxMessage bounds one request or response line.
const maxMessage = 16 << 20

// Request is one command sent to the daemon.
type Request struct {
	Version int             `json:"version"`
	Op      string          `json:"op"`
	Args    json.RawMessage `json:"args,omitempty"`
}

// Response is the daemon's answer: Error is set when the command failed, else
// Reply holds the command's result.
type Response struct {
	Error string          `json:"error,omitempty"`
	Reply json.RawMessage `json:"reply,omitempty"`
}

// ErrNotRunning is returned by Call when no daemon listens on the endpoint: the
// endpoint does not exist or nothing answers on it.
var ErrNotRunning = errors.New("no focussync daemon is listening")

// RemoteError is an error the daemon returned for a command.
type RemoteError struct{ Msg string }

func (e *RemoteError) Error() string { return e.Msg }

// Endpoint returns the control endpoint of the daemon that uses the state db at
// statePath: the db's path with ".sock" in place of a ".db" extension
// (/var/lib/focussync/state.db -> /var/lib/focussync/state.sock). It lies in the
// state directory, which only the service's user (and root) can enter.
func Endpoint(statePath string) string {
	base := strings.TrimSuffix(statePath, filepath.Ext(statePath))
	if filepath.Ext(statePath) != ".db" {
		base = statePath
	}
	return base + ".sock"
}
