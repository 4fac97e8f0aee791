package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to write from a command and read from a test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestEmulatorCommand_UsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--quota", "30"}, "invalid --quota"},
		{[]string{"--quota", "x/1h"}, "invalid --quota"},
		{[]string{"--quota", "30/soon"}, "invalid --quota"},
		{[]string{"--quota", "30/0s"}, "invalid --quota"},
		{[]string{"--fail-rate", "1.5"}, "invalid --fail-rate"},
		{[]string{"--fail-rate", "0.6", "--drop-rate", "0.6"}, "add up to more than 1"},
		{[]string{"--listen", "0.0.0.0:8765"}, "--public"},
		{[]string{"--listen", ":8765"}, "--public"},
		{[]string{"--listen", "nonsense"}, "invalid --listen"},
		{[]string{"--latency", "-1s"}, "invalid --latency"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		var stdout, stderr syncBuffer
		code := runMain(context.Background(), &app{stdout: &stdout, stderr: &stderr}, append([]string{"emulator"}, tc.args...))
		if code != 2 {
			t.Errorf("emulator %v: exit %d, want 2; stderr %s", tc.args, code, stderr.String())
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("emulator %v: stderr %q lacks %q", tc.args, stderr.String(), tc.want)
		}
	}
}

func TestParseQuotaFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in     string
		n      int
		window time.Duration
	}{{"0", 0, 0}, {"30/1h", 30, time.Hour}, {"3/2s", 3, 2 * time.Second}, {"0/1h", 0, time.Hour}} {
		n, w, err := parseQuotaFlag(tc.in)
		if err != nil || n != tc.n || w != tc.window {
			t.Errorf("parseQuotaFlag(%q) = %d, %v, %v; want %d, %v", tc.in, n, w, err, tc.n, tc.window)
		}
	}
}

func TestEmulatorCommand_Serves(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runMain(ctx, &app{stdout: &stdout, stderr: &stderr},
			[]string{"emulator", "--listen", "127.0.0.1:0", "--token", "secret", "--quota", "2/1h", "--data", t.TempDir()})
	}()
	re := regexp.MustCompile(`API at (http://127\.0\.0\.1:\d+/api), page at (\S+)/ `)
	var base string
	deadline := time.Now().Add(20 * time.Second)
	for base == "" {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("emulator exited %d before serving: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no address printed; stdout %q", stdout.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	get := func(token string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, base+"/organizations/1/workspaces/2/tasks/3/attachments", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := get("wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", resp.StatusCode)
	}
	if resp := get("secret"); resp.StatusCode != http.StatusOK || resp.Header.Get("X-Toggl-Quota-Remaining") != "1" {
		t.Errorf("list: %d, remaining %q; want 200, 1", resp.StatusCode, resp.Header.Get("X-Toggl-Quota-Remaining"))
	}
	get("secret")
	page := func(password string) int {
		req, _ := http.NewRequest(http.MethodGet, strings.TrimSuffix(base, "/api")+"/", nil)
		if password != "" {
			req.SetBasicAuth("me", password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := page(""); code != http.StatusUnauthorized {
		t.Errorf("page without the token: %d, want 401", code)
	}
	if code := page("secret"); code != http.StatusOK {
		t.Errorf("page with the token: %d, want 200", code)
	}
	if !strings.Contains(stdout.String(), "asks for the token") {
		t.Errorf("the emulator does not say that its page asks for the token: %q", stdout.String())
	}
	if resp := get("secret"); resp.StatusCode != http.StatusPaymentRequired {
		t.Errorf("third request on a quota of 2: %d, want 402", resp.StatusCode)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after cancel, want 0; stderr %s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("emulator did not stop after its context was cancelled")
	}
}
