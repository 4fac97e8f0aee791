package focus

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// newHTTPClient returns the default HTTP client: bounded dial, TLS handshake and
// response header waits, no overall timeout (a large upload may take as long as it
// needs), no redirects (the API does not redirect; following one would resend or
// drop an upload), and connections that fail after stall without progress.
func newHTTPClient(stall time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &stallConn{Conn: conn, stall: stall}, nil
		},
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: max(2*time.Minute, 2*stall),
		// An idle connection is dropped before its stall deadline would break it.
		IdleConnTimeout:     stall / 2,
		MaxIdleConnsPerHost: 4,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// maxStallChunk bounds one write so that a slow but moving upload renews its
// deadline often: a write fails only if maxStallChunk bytes take longer than the
// stall timeout (with the default of 60 s, a link slower than about 4 KB/s).
const maxStallChunk = 256 << 10

// copyBuffers hold the buffers a request body is copied through: one read of
// the body and one write to the connection per maxStallChunk bytes, rather
// than per 32 KiB, as io.Copy would.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, maxStallChunk); return &b }}

// stallConn is a connection whose reads and writes fail once no byte has moved,
// in either direction, for stall. Every read and every write (in chunks of at most
// maxStallChunk) pushes the deadline of both directions forward, so a request
// that is sending a large body does not time out its pending response read, and a
// response that keeps arriving is never cut short.
//
// The clock sees this side of the connection only: once the last body bytes sit in
// the kernel's send buffer, the time the network takes to drain that buffer plus
// the server's time to answer must fit in one stall period. With the default of
// 60 s that holds for any link faster than a few tens of KB/s; a slower one sees an
// ambiguous timeout, which the caller resolves by listing the task.
type stallConn struct {
	net.Conn
	stall time.Duration
}

// Read implements net.Conn.
func (c *stallConn) Read(p []byte) (int, error) {
	if err := c.Conn.SetDeadline(time.Now().Add(c.stall)); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.Conn.SetDeadline(time.Now().Add(c.stall))
	}
	return n, err
}

// ReadFrom copies a request body to the connection through a buffer of
// maxStallChunk bytes.
func (c *stallConn) ReadFrom(r io.Reader) (int64, error) {
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	return io.CopyBuffer(struct{ io.Writer }{c}, r, *buf)
}

// Write implements net.Conn.
func (c *stallConn) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), maxStallChunk)]
		if err := c.Conn.SetDeadline(time.Now().Add(c.stall)); err != nil {
			return written, err
		}
		n, err := c.Conn.Write(chunk)
		written += n
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}
