package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Handler runs one command. args are the request's arguments (nil when there are
// none); the returned value is encoded as the reply. ctx ends when the server
// stops. An error is sent to the caller as its message.
type Handler func(ctx context.Context, op string, args json.RawMessage) (any, error)

// readTimeout bounds the wait for a caller's request line.
const readTimeout = 10 * time.Second

// Serve answers requests on ln with h until ctx ends, then closes ln (removing
// its endpoint) and waits for the commands in flight to return. Each connection is
// first checked: a caller that is neither root nor the daemon's user gets an error
// and nothing runs.
func Serve(ctx context.Context, ln *Listener, h Handler, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer wg.Wait()
	defer ln.Close() // waits for a Close under way, which removes the endpoint
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("control endpoint %s: accept: %w", ln.endpoint, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			serveConn(ctx, conn, ln.authorize, h, log)
		}()
	}
}

// serveConn answers one connection: check the caller, read its request, run it,
// write the response.
func serveConn(ctx context.Context, conn net.Conn, authorize func(net.Conn, *bufio.Reader) error, h Handler, log *slog.Logger) {
	defer conn.Close()
	// A caller that disconnects ends nothing: the command (a sync pass, say) runs
	// to its end in the daemon; only its answer is lost.
	_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
	r := bufio.NewReaderSize(conn, 64<<10)
	if err := authorize(conn, r); err != nil {
		log.Warn("control request refused", "err", err)
		writeResponse(conn, Response{Error: err.Error()})
		drain(conn)
		return
	}
	line, err := readLine(r)
	if err != nil {
		writeResponse(conn, Response{Error: "read request: " + err.Error()})
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		writeResponse(conn, Response{Error: "not a focussync control request: " + err.Error()})
		return
	}
	if req.Version != ProtocolVersion {
		writeResponse(conn, Response{Error: fmt.Sprintf("control protocol version %d is not this daemon's (%d): use the focussync binary the daemon runs", req.Version, ProtocolVersion)})
		return
	}
	log.Debug("control request", "op", req.Op)
	reply, err := h(ctx, req.Op, req.Args)
	if err != nil {
		writeResponse(conn, Response{Error: err.Error()})
		return
	}
	b, err := json.Marshal(reply)
	if err != nil {
		writeResponse(conn, Response{Error: "encode reply: " + err.Error()})
		return
	}
	writeResponse(conn, Response{Reply: b})
}

// readLine reads one line of at most maxMessage bytes, without its newline.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return nil, err
		}
		line = append(line, chunk...)
		if len(line) > maxMessage {
			return nil, fmt.Errorf("message longer than %d bytes", maxMessage)
		}
		if !isPrefix {
			return line, nil
		}
	}
}

// drain ends a refused connection gently: the caller's unread request would
// otherwise make the close a reset that can discard the refusal before it is read.
func drain(conn net.Conn) {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	_, _ = io.Copy(io.Discard, io.LimitReader(conn, maxMessage))
}

func writeResponse(conn net.Conn, resp Response) {
	b, err := json.Marshal(resp)
	if err != nil {
		b = []byte(`{"error":"encode response"}`)
	}
	_ = conn.SetWriteDeadline(time.Now().Add(readTimeout))
	_, _ = conn.Write(append(b, '\n'))
}
