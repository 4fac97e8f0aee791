package focus

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestClient_ErrorKinds(t *testing.T) {
	now := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	long := strings.Repeat("too long ", 100)
	cases := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		kind       Kind
		message    string
		retryAfter time.Duration
		resetIn    time.Duration
	}{
		{name: "401", status: 401, body: `{"message":"token expired"}`, kind: KindAuth, message: "token expired"},
		{name: "402", status: 402, header: http.Header{"X-Toggl-Quota-Resets-In": {"120"}, "X-Toggl-Quota-Remaining": {"0"}},
			kind: KindQuota, resetIn: 120 * time.Second},
		{name: "403", status: 403, body: "forbidden\n", kind: KindForbidden, message: "forbidden"},
		{name: "404", status: 404, body: `{"error":"Task attachment does not exist"}`, kind: KindNotFound, message: "Task attachment does not exist"},
		{name: "400 message", status: 400, body: `{"message":"display_order must be an integer"}`, kind: KindInvalid, message: "display_order must be an integer"},
		{name: "400 nested", status: 400, body: `{"error":{"message":"bad name"}}`, kind: KindInvalid, message: "bad name"},
		{name: "400 text", status: 400, body: long, kind: KindInvalid, message: strings.TrimSpace(long[:200]) + "…"},
		{name: "429 seconds", status: 429, header: http.Header{"Retry-After": {"7"}}, kind: KindRateLimited, retryAfter: 7 * time.Second},
		{name: "429 date", status: 429, header: http.Header{"Retry-After": {now.Add(30 * time.Second).Format(http.TimeFormat)}},
			kind: KindRateLimited, retryAfter: 30 * time.Second},
		{name: "500", status: 500, body: "Internal Server Error", kind: KindServer, message: "Internal Server Error"},
		{name: "503", status: 503, kind: KindServer},
		{name: "token echoed", status: 401, body: `{"message":"bad key ` + testToken + `"}`, kind: KindAuth, message: "bad key [token]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startRecorder(t, &recorder{status: tc.status, header: tc.header, body: tc.body})
			c := newTestClient(t, srv.URL, now)
			err := c.Delete(context.Background(), testTask, 55)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if e.Kind != tc.kind || e.Status != tc.status || e.Endpoint != EndpointDelete || e.Ambiguous {
				t.Errorf("got kind %v status %d endpoint %s ambiguous %v, want %v %d delete false",
					e.Kind, e.Status, e.Endpoint, e.Ambiguous, tc.kind, tc.status)
			}
			if e.Op != "delete attachment 55 of task 101" {
				t.Errorf("Op = %q", e.Op)
			}
			if e.Message != tc.message {
				t.Errorf("Message = %q, want %q", e.Message, tc.message)
			}
			if e.RetryAfter != tc.retryAfter || e.ResetIn != tc.resetIn {
				t.Errorf("RetryAfter %v ResetIn %v, want %v %v", e.RetryAfter, e.ResetIn, tc.retryAfter, tc.resetIn)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error text %q carries the token", err)
			}
			if tc.kind == KindQuota {
				st := c.Quota(testTask.OrganizationID).State()
				if !st.Known || st.Remaining != 0 || !st.ResetAt.Equal(now.Add(tc.resetIn)) {
					t.Errorf("quota after 402 = %+v", st)
				}
			}
		})
	}
}

func TestClient_QuotaFromHeaders(t *testing.T) {
	now := time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)
	rec := &recorder{status: 200, body: `{"items":[]}`,
		header: http.Header{"X-Toggl-Quota-Remaining": {"17"}, "X-Toggl-Quota-Resets-In": {"1800"}}}
	srv := startRecorder(t, rec)
	c := newTestClient(t, srv.URL, now)
	q := c.Quota(testTask.OrganizationID)
	if q != c.Quota(testTask.OrganizationID) {
		t.Fatal("Quota returned two views for one organization")
	}
	changed := q.Changed()
	if _, err := c.List(context.Background(), testTask); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Error("the quota view did not signal a change")
	}
	st := q.State()
	if !st.Known || st.Remaining != 17 || !st.ResetAt.Equal(now.Add(30*time.Minute)) {
		t.Errorf("quota = %+v, want 17 left, reset at %v", st, now.Add(30*time.Minute))
	}
	if other := c.Quota(999).State(); other.Known {
		t.Errorf("another organization's quota changed: %+v", other)
	}
}

func TestClient_Ambiguous(t *testing.T) {
	ctx := context.Background()
	t.Run("5xx on create", func(t *testing.T) {
		srv := startRecorder(t, &recorder{status: 502})
		c := newTestClient(t, srv.URL, time.Now())
		_, err := c.Create(ctx, testTask, writeFile(t, t.TempDir(), "a.txt", []byte("abc"), 0))
		if KindOf(err) != KindServer || !IsAmbiguous(err) {
			t.Errorf("err = %v, want an ambiguous server error", err)
		}
	})
	t.Run("5xx on bulk", func(t *testing.T) {
		srv := startRecorder(t, &recorder{status: 500})
		c := newTestClient(t, srv.URL, time.Now())
		_, err := c.BulkCreate(ctx, testTask, []Upload{writeFile(t, t.TempDir(), "a.txt", []byte("abc"), 0)})
		if KindOf(err) != KindServer || !IsAmbiguous(err) {
			t.Errorf("err = %v, want an ambiguous server error", err)
		}
	})
	t.Run("5xx on update", func(t *testing.T) {
		srv := startRecorder(t, &recorder{status: 500})
		c := newTestClient(t, srv.URL, time.Now())
		err := c.Update(ctx, testTask, 1, "a", 0)
		if KindOf(err) != KindServer || IsAmbiguous(err) {
			t.Errorf("err = %v, want a server error that is not ambiguous", err)
		}
	})
	t.Run("dropped after the body", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			hangUp(w)
		}))
		t.Cleanup(srv.Close)
		c := newTestClient(t, srv.URL, time.Now())
		_, err := c.Create(ctx, testTask, writeFile(t, t.TempDir(), "a.txt", []byte("abc"), 0))
		if KindOf(err) != KindTransport || !IsAmbiguous(err) {
			t.Errorf("err = %v, want an ambiguous transport error", err)
		}
		err = c.Delete(ctx, testTask, 1)
		if KindOf(err) != KindTransport || IsAmbiguous(err) {
			t.Errorf("delete: err = %v, want a transport error that is not ambiguous", err)
		}
	})
	t.Run("dial refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c := newTestClient(t, "http://"+addr, time.Now())
		_, err = c.Create(ctx, testTask, writeFile(t, t.TempDir(), "a.txt", []byte("abc"), 0))
		if KindOf(err) != KindTransport || IsAmbiguous(err) {
			t.Errorf("err = %v, want a transport error that is not ambiguous", err)
		}
		if strings.Contains(err.Error(), testToken) {
			t.Errorf("error text %q carries the token", err)
		}
	})
}

// hangUp closes the connection under w without answering.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic("bug: test server cannot hijack: " + err.Error())
	}
	conn.Close()
}

func TestClient_StallTimeout(t *testing.T) {
	// A server that accepts connections, swallows what it is sent and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				io.Copy(io.Discard, conn)
			}()
		}
	}()
	c, err := New(Options{BaseURL: "http://" + ln.Addr().String() + "/api", Token: testToken, StallTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = c.Create(ctx, testTask, writeFile(t, t.TempDir(), "a.txt", []byte("abc"), 0))
	if KindOf(err) != KindTransport || !IsAmbiguous(err) {
		t.Errorf("create: err = %v, want an ambiguous transport error", err)
	}
	if testing.Verbose() {
		t.Log(err)
	}
	if ctx.Err() != nil {
		t.Errorf("the request ended only with the test's own deadline: %v", err)
	}
	_, err = c.List(ctx, testTask)
	if KindOf(err) != KindTransport || IsAmbiguous(err) {
		t.Errorf("list: err = %v, want a transport error that is not ambiguous", err)
	}
}

func TestClient_ContextCanceled(t *testing.T) {
	srv := startRecorder(t, &recorder{status: 200, body: "[]"})
	c := newTestClient(t, srv.URL, time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.List(ctx, testTask)
	if !errors.Is(err, context.Canceled) || KindOf(err) != KindTransport {
		t.Errorf("err = %v, want a transport error wrapping context.Canceled", err)
	}
}

func TestParseSeconds(t *testing.T) {
	for v, want := range map[string]time.Duration{
		"120": 120 * time.Second, " 1.5 ": 1500 * time.Millisecond, "0": 0,
		"": -1, "-3": -1, "NaN": -1, "Inf": -1, "soon": -1,
	} {
		if got := parseSeconds(v); got != want {
			t.Errorf("parseSeconds(%q) = %v, want %v", v, got, want)
		}
	}
}
