package focustest

import (
	"io"
	"sync"
	"sync/atomic"

	"github.com/focussync/focussync/focus"
)

// SecretWatch looks for pieces of a secret in request bodies: any run of Window
// consecutive bytes of it, across chunk boundaries. Hand its Tap to SetBodyTap.
// It answers whether a byte sequence of the secret ever reached the server, which
// the stored attachments alone cannot tell (a request cut short stores nothing).
type SecretWatch struct {
	window int
	pieces map[string]struct{}
	seen   atomic.Int64
	mu     sync.Mutex
	where  []focus.Endpoint
}

// NewSecretWatch watches for runs of window bytes of secret (the whole secret
// when it is shorter). A secret of random bytes makes a false match unlikely
// for a window of 12 bytes or more.
func NewSecretWatch(secret []byte, window int) *SecretWatch {
	window = max(1, min(window, len(secret)))
	w := &SecretWatch{window: window, pieces: map[string]struct{}{}}
	for i := 0; i+window <= len(secret); i++ {
		w.pieces[string(secret[i:i+window])] = struct{}{}
	}
	return w
}

// Tap returns the writer for one request body; pass w.Tap to SetBodyTap.
func (w *SecretWatch) Tap(ep focus.Endpoint) io.Writer {
	return &secretTap{w: w, ep: ep}
}

// Seen is the number of request bodies that held a piece of the secret.
func (w *SecretWatch) Seen() int { return int(w.seen.Load()) }

// Endpoints are the endpoints of the bodies that held a piece, in order.
func (w *SecretWatch) Endpoints() []focus.Endpoint {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]focus.Endpoint(nil), w.where...)
}

// secretTap scans one body; tail holds its last window-1 bytes.
type secretTap struct {
	w     *SecretWatch
	ep    focus.Endpoint
	tail  []byte
	found bool
}

func (t *secretTap) Write(p []byte) (int, error) {
	if t.found || len(t.w.pieces) == 0 {
		return len(p), nil
	}
	n := t.w.window
	buf := append(t.tail, p...)
	for i := 0; i+n <= len(buf); i++ {
		if _, ok := t.w.pieces[string(buf[i:i+n])]; ok {
			t.found = true
			t.w.seen.Add(1)
			t.w.mu.Lock()
			t.w.where = append(t.w.where, t.ep)
			t.w.mu.Unlock()
			return len(p), nil
		}
	}
	keep := min(len(buf), n-1)
	t.tail = append(t.tail[:0], buf[len(buf)-keep:]...)
	return len(p), nil
}
