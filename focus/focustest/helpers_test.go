package focustest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testOrg   = 11
	testWS    = 22
	testTask  = 101
	testToken = "toggl_sk_test"
)

// newServer starts an emulator that requires testToken and closes it at the end
// of the test.
func newServer(tb testing.TB, opts Options) *Server {
	tb.Helper()
	if opts.Token == "" {
		opts.Token = testToken
	}
	s := NewServer(opts)
	tb.Cleanup(s.Close)
	return s
}

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// taskPath is the attachments collection of a task.
func taskPath(s *Server, task int64) string {
	return fmt.Sprintf("%s/organizations/%d/workspaces/%d/tasks/%d/attachments", s.URL, testOrg, testWS, task)
}

func itemPath(s *Server, task, id int64) string {
	return fmt.Sprintf("%s/%d", taskPath(s, task), id)
}

// part is one multipart part; a part with a filename is a file.
type part struct {
	field, filename, contentType, content string
}

func filePart(field, filename, content string) part {
	return part{field: field, filename: filename, contentType: "application/octet-stream", content: content}
}

func valuePart(field, value string) part { return part{field: field, content: value} }

// multipartBody encodes parts and returns the body and its Content-Type.
func multipartBody(tb testing.TB, parts ...part) ([]byte, string) {
	tb.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		disp := fmt.Sprintf(`form-data; name=%q`, p.field)
		if p.filename != "" {
			disp += fmt.Sprintf(`; filename=%q`, p.filename)
		}
		h.Set("Content-Disposition", disp)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := io.WriteString(w, p.content); err != nil {
			tb.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

// response is a read answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// send makes one request with the test token and reads the answer.
func send(tb testing.TB, s *Server, method, url, contentType string, body []byte) response {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return do(tb, s, req)
}

func do(tb testing.TB, s *Server, req *http.Request) response {
	tb.Helper()
	resp, err := s.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading the body: %v", req.Method, req.URL.Path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// postForm sends a create or bulk create.
func postForm(tb testing.TB, s *Server, url string, parts ...part) response {
	tb.Helper()
	body, ct := multipartBody(tb, parts...)
	return send(tb, s, http.MethodPost, url, ct, body)
}

func putJSON(tb testing.TB, s *Server, url, body string) response {
	tb.Helper()
	return send(tb, s, http.MethodPut, url, "application/json", []byte(body))
}

// wantStatus fails the test when r has another status.
func wantStatus(tb testing.TB, what string, r response, want int) {
	tb.Helper()
	if r.status != want {
		tb.Fatalf("%s: status %d, want %d; body %s", what, r.status, want, r.body)
	}
}

// wantMessage checks a 400-like answer: the status and a message containing sub.
func wantMessage(tb testing.TB, what string, r response, status int, sub string) {
	tb.Helper()
	wantStatus(tb, what, r, status)
	var m struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(r.body, &m); err != nil {
		tb.Fatalf("%s: error body %q is not JSON: %v", what, r.body, err)
	}
	if !strings.Contains(m.Message, sub) {
		tb.Fatalf("%s: message %q does not contain %q", what, m.Message, sub)
	}
}

// wireItem is an attachment as a client decodes it.
type wireItem struct {
	ID           int64   `json:"id"`
	TaskID       int64   `json:"task_id"`
	Name         string  `json:"name"`
	Size         int64   `json:"size"`
	MimeType     string  `json:"mime_type"`
	DisplayOrder int64   `json:"display_order"`
	CreatedAt    string  `json:"created_at"`
	UpdatedAt    string  `json:"updated_at"`
	DeletedAt    *string `json:"deleted_at"`
}

func decodeItem(tb testing.TB, b []byte) wireItem {
	tb.Helper()
	var it wireItem
	if err := json.Unmarshal(b, &it); err != nil {
		tb.Fatalf("decoding attachment %q: %v", b, err)
	}
	return it
}

func decodeItems(tb testing.TB, b []byte) []wireItem {
	tb.Helper()
	var l struct {
		Items []wireItem `json:"items"`
	}
	if err := json.Unmarshal(b, &l); err != nil {
		tb.Fatalf("decoding list %q: %v", b, err)
	}
	return l.Items
}

func names(items []wireItem) string {
	var out []string
	for _, it := range items {
		out = append(out, it.Name)
	}
	return strings.Join(out, ",")
}

func storedNames(items []Stored) string {
	var out []string
	for _, it := range items {
		out = append(out, it.Name)
	}
	return strings.Join(out, ",")
}
