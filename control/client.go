package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Call sends one command to the daemon whose endpoint is endpoint and decodes its
// reply into reply (unless reply is nil). It returns an error wrapping
// ErrNotRunning when no daemon listens there, a *RemoteError when the daemon
// refused or failed the command, and ctx.Err() when ctx ends first (the command
// may still run to its end in the daemon).
func Call(ctx context.Context, endpoint, op string, args, reply any) error {
	conn, preamble, err := dial(ctx, endpoint)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	req := Request{Version: ProtocolVersion, Op: op}
	if args != nil {
		if req.Args, err = json.Marshal(args); err != nil {
			return fmt.Errorf("encode %s request: %w", op, err)
		}
	}
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode %s request: %w", op, err)
	}
	_, werr := conn.Write(append(preamble, append(b, '\n')...))
	// A daemon that refuses the caller answers before it reads the request: its
	// answer says why, even when the write failed.
	line, err := readLine(bufio.NewReaderSize(conn, 64<<10))
	if err != nil {
		if werr != nil {
			err = werr
		}
		return callError(ctx, endpoint, err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return fmt.Errorf("control endpoint %s: not a focussync response: %w", endpoint, err)
	}
	if resp.Error != "" {
		return &RemoteError{Msg: resp.Error}
	}
	if reply != nil {
		if err := json.Unmarshal(resp.Reply, reply); err != nil {
			return fmt.Errorf("control endpoint %s: decode %s reply: %w", endpoint, op, err)
		}
	}
	return nil
}

func callError(ctx context.Context, endpoint string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("control endpoint %s: the daemon closed the connection without an answer", endpoint)
	}
	return fmt.Errorf("control endpoint %s: %w", endpoint, err)
}
