package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// echo answers "echo" with its arguments and fails "fail".
func echo(_ context.Context, op string, args json.RawMessage) (any, error) {
	switch op {
	case "echo":
		var v map[string]string
		if err := json.Unmarshal(args, &v); err != nil {
			return nil, err
		}
		return v, nil
	case "fail":
		return nil, errors.New("folder /x is not configured")
	}
	return nil, fmt.Errorf("unknown command %q", op)
}

// serve starts a server on ln and stops it at the end of the test.
func serve(t *testing.T, ln *Listener, h Handler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
}

func call(t *testing.T, endpoint, op string, args any) (map[string]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got map[string]string
	err := Call(ctx, endpoint, op, args, &got)
	return got, err
}

func TestEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"/var/lib/focussync/state.db": "/var/lib/focussync/state.sock",
		"/srv/fs/state":               "/srv/fs/state.sock",
		"/srv/fs/state.bolt":          "/srv/fs/state.bolt.sock",
	} {
		if got := Endpoint(in); got != want {
			t.Errorf("Endpoint(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCall_UnixSocket(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix sockets: the keyed endpoint is tested on every OS")
	}
	ep := filepath.Join(t.TempDir(), "state.sock")
	ln, err := Listen(ep)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(ep)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("endpoint mode = %v, want a socket of mode 0600", fi.Mode())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, echo, nil) }()

	got, err := call(t, ep, "echo", map[string]string{"folder": "/srv/acme"})
	if err != nil || got["folder"] != "/srv/acme" {
		t.Errorf("echo = %v, %v; want the arguments back", got, err)
	}
	_, err = call(t, ep, "fail", nil)
	var re *RemoteError
	if !errors.As(err, &re) || re.Msg != "folder /x is not configured" {
		t.Errorf("fail = %v, want the handler's error as a RemoteError", err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := os.Lstat(ep); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket still there after the server stopped: %v", err)
	}
	if _, err := call(t, ep, "echo", nil); !errors.Is(err, ErrNotRunning) {
		t.Errorf("call after stop = %v, want ErrNotRunning", err)
	}
}

func TestListen_StaleSocketReplaced(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix sockets")
	}
	ep := filepath.Join(t.TempDir(), "state.sock")
	// A socket left behind by a daemon that was killed: bound, nobody listening.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: ep, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close()
	if _, err := call(t, ep, "echo", nil); !errors.Is(err, ErrNotRunning) {
		t.Errorf("call to a stale socket = %v, want ErrNotRunning", err)
	}
	ln, err := Listen(ep)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	serve(t, ln, echo)
	if got, err := call(t, ep, "echo", map[string]string{"a": "b"}); err != nil || got["a"] != "b" {
		t.Errorf("echo = %v, %v", got, err)
	}
}

func TestListen_RefusesToReplaceAFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix sockets")
	}
	ep := filepath.Join(t.TempDir(), "state.sock")
	if err := os.WriteFile(ep, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Listen(ep)
	if err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen over a regular file = %v, want a refusal", err)
	}
	if b, _ := os.ReadFile(ep); string(b) != "keep me" {
		t.Errorf("the file was changed: %q", b)
	}
}

func TestListen_PathTooLong(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix sockets")
	}
	ep := filepath.Join(t.TempDir(), strings.Repeat("d", 120), "state.sock")
	if _, err := Listen(ep); err == nil || !strings.Contains(err.Error(), "shorter path") {
		t.Errorf("Listen(%d bytes) = %v, want an error saying to shorten the path", len(ep), err)
	}
}

func TestServe_OtherProtocolVersion(t *testing.T) {
	ep := filepath.Join(t.TempDir(), "state.sock")
	ln, err := listenKeyed(ep)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, ln, echo)
	conn, preamble, err := dialKeyed(context.Background(), ep)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s{\"version\":99,\"op\":\"echo\"}\n", preamble)
	b, _ := io.ReadAll(conn)
	if !strings.Contains(string(b), "protocol version 99") {
		t.Errorf("response = %s, want a protocol version error", b)
	}
}

func TestKeyed(t *testing.T) {
	dir := t.TempDir()
	ep := filepath.Join(dir, "state.sock")
	ln, err := listenKeyed(ep)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(ep); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("endpoint file: %v, %v; want mode 0600", fi.Mode(), err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, echo, nil) }()

	conn, _, err := dialKeyed(context.Background(), ep)
	if err != nil {
		t.Fatal(err)
	}
	got, err := keyedCall(t, ep, "")
	if err != nil || got["x"] != "y" {
		t.Errorf("call with the key = %v, %v", got, err)
	}
	conn.Close()

	// A caller that cannot read the file does not know the key.
	b, err := os.ReadFile(ep)
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.Split(string(b), "\n")[1]
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "%s\n{\"version\":1,\"op\":\"echo\",\"args\":{\"x\":\"y\"}}\n", strings.Repeat("0", 64))
	resp, _ := io.ReadAll(c)
	c.Close()
	if !strings.Contains(string(resp), "permission denied") || strings.Contains(string(resp), "reply") {
		t.Errorf("response to a wrong key = %s, want a refusal", resp)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ep); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("endpoint file left after stop: %v", err)
	}
	if _, _, err := dialKeyed(context.Background(), ep); !errors.Is(err, ErrNotRunning) {
		t.Errorf("dial after stop = %v, want ErrNotRunning", err)
	}
}

// keyedCall makes an echo call over the keyed transport.
func keyedCall(t *testing.T, ep, _ string) (map[string]string, error) {
	t.Helper()
	conn, preamble, err := dialKeyed(context.Background(), ep)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s{\"version\":1,\"op\":\"echo\",\"args\":{\"x\":\"y\"}}\n", preamble)
	b, err := io.ReadAll(conn)
	if err != nil {
		return nil, err
	}
	var resp Response
	if err := json.Unmarshal(b, &resp); err != nil {
		return nil, err
	}
	if resp.Error != "" {
		return nil, errors.New(resp.Error)
	}
	var got map[string]string
	return got, json.Unmarshal(resp.Reply, &got)
}
