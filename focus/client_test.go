package focus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "toggl_sk_secret_0123456789"

var testTask = Task{OrganizationID: 11, WorkspaceID: 22, TaskID: 101}

// writeFile creates a file in dir and returns an Upload for it.
func writeFile(tb testing.TB, dir, name string, data []byte, order int64) Upload {
	tb.Helper()
	p := filepath.Join(dir, strings.ReplaceAll(name, "/", "_"))
	if err := os.WriteFile(p, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return Upload{Path: p, Size: int64(len(data)), Name: name, DisplayOrder: order}
}

// newTestClient returns a client for baseURL with the test token and a fixed clock.
func newTestClient(tb testing.TB, baseURL string, now time.Time) *Client {
	tb.Helper()
	c, err := New(Options{BaseURL: baseURL + "/api/", Token: testToken, UserAgent: "focussync/test (linux/amd64)",
		StallTimeout: 10 * time.Second, Now: func() time.Time { return now }})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.CloseIdleConnections)
	return c
}

// seenPart is one multipart part as the server decoded it.
type seenPart struct {
	Form, File, Type string
	Data             []byte
}

// seenRequest is what a raw test server received.
type seenRequest struct {
	Method, Path, Query string
	Header              http.Header
	ContentLength       int64
	TransferEncoding    []string
	Received            int64
	Parts               []seenPart
	JSON                map[string]json.RawMessage
}

// recorder is a raw handler that decodes and keeps each request, then answers
// with the status and body of reply.
type recorder struct {
	mu     sync.Mutex
	seen   []seenRequest
	status int
	header http.Header
	body   string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := seenRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(),
		ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.Received = int64(len(raw))
	r.Body = io.NopCloser(bytes.NewReader(raw))
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			data, err := io.ReadAll(p)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			s.Parts = append(s.Parts, seenPart{Form: p.FormName(), File: p.FileName(), Type: p.Header.Get("Content-Type"), Data: data})
		}
	}
	if r.Header.Get("Content-Type") == "application/json" {
		if err := json.Unmarshal(raw, &s.JSON); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	rec.mu.Lock()
	rec.seen = append(rec.seen, s)
	status, body := rec.status, rec.body
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	rec.mu.Unlock()
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (rec *recorder) requests() []seenRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seenRequest(nil), rec.seen...)
}

// startRecorder serves rec on loopback.
func startRecorder(t *testing.T, rec *recorder) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return srv
}

// checkCommon asserts what every request carries.
func checkCommon(t *testing.T, s seenRequest) {
	t.Helper()
	if got, want := s.Header.Get("Authorization"), "Bearer "+testToken; got != want {
		t.Errorf("Authorization = %q, want %q", got, want)
	}
	if got, want := s.Header.Get("User-Agent"), "focussync/test (linux/amd64)"; got != want {
		t.Errorf("User-Agent = %q, want %q", got, want)
	}
	if got := s.Header.Get("Accept"); got != "application/json" {
		t.Errorf("Accept = %q, want application/json", got)
	}
	if len(s.TransferEncoding) != 0 {
		t.Errorf("TransferEncoding = %q, want none", s.TransferEncoding)
	}
}

func TestClient_CreateWireFormat(t *testing.T) {
	rec := &recorder{status: http.StatusCreated,
		body: `{"id":7,"task_id":101,"name":"report.pdf","size":5,"mime_type":"application/pdf","display_order":1024,"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05.123456Z","deleted_at":null}`}
	srv := startRecorder(t, rec)
	c := newTestClient(t, srv.URL, time.Now())
	u := writeFile(t, t.TempDir(), "report.pdf", []byte("%PDF-"), 1024)

	a, err := c.Create(context.Background(), testTask, u)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != 7 || a.Name != "report.pdf" || a.DisplayOrder != 1024 || a.Deleted() {
		t.Errorf("created attachment = %+v", a)
	}
	if got, want := a.UpdatedAt, time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC); !got.Equal(want) {
		t.Errorf("UpdatedAt = %v, want %v", got, want)
	}
	seen := rec.requests()
	if len(seen) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(seen))
	}
	s := seen[0]
	checkCommon(t, s)
	if s.Method != http.MethodPost || s.Path != "/api/organizations/11/workspaces/22/tasks/101/attachments" {
		t.Errorf("request = %s %s", s.Method, s.Path)
	}
	if s.ContentLength <= 0 || s.ContentLength != s.Received {
		t.Errorf("Content-Length = %d, bytes received = %d", s.ContentLength, s.Received)
	}
	want := []seenPart{
		{Form: "name", Data: []byte("report.pdf")},
		{Form: "display_order", Data: []byte("1024")},
		{Form: "file", File: "report.pdf", Type: "application/pdf", Data: []byte("%PDF-")},
	}
	checkParts(t, s.Parts, want)
}

// checkParts compares decoded parts with want; an empty Type in want is not checked.
func checkParts(t *testing.T, got, want []seenPart) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d parts, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Form != w.Form || g.File != w.File || !bytes.Equal(g.Data, w.Data) || (w.Type != "" && g.Type != w.Type) {
			t.Errorf("part %d = {%q %q %q %q}, want {%q %q %q %q}", i, g.Form, g.File, g.Type, g.Data, w.Form, w.File, w.Type, w.Data)
		}
	}
}

func TestClient_BulkCreateWireFormat(t *testing.T) {
	rec := &recorder{status: http.StatusCreated,
		body: `{"items":[{"id":1,"name":"a.png"},{"id":2,"name":"notes"},{"id":3,"name":"x"}]}`}
	srv := startRecorder(t, rec)
	c := newTestClient(t, srv.URL, time.Now())
	dir := t.TempDir()
	odd := `we"ird\name é.zzq`
	us := []Upload{
		writeFile(t, dir, "a.png", []byte("\x89PNG\r\n\x1a\n"), 0),
		writeFile(t, dir, "notes", []byte("plain words here\n"), 1024),
		writeFile(t, dir, odd, []byte{0, 1, 2, 3, 0xff}, 2048),
	}
	as, err := c.BulkCreate(context.Background(), testTask, us)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 3 || as[0].ID != 1 || as[2].ID != 3 {
		t.Errorf("created = %+v", as)
	}
	s := rec.requests()[0]
	checkCommon(t, s)
	if s.Path != "/api/organizations/11/workspaces/22/tasks/101/attachments/bulk" {
		t.Errorf("path = %s", s.Path)
	}
	if s.ContentLength != s.Received {
		t.Errorf("Content-Length = %d, bytes received = %d", s.ContentLength, s.Received)
	}
	checkParts(t, s.Parts, []seenPart{
		{Form: "names[0]", Data: []byte("a.png")},
		{Form: "display_orders[0]", Data: []byte("0")},
		{Form: "names[1]", Data: []byte("notes")},
		{Form: "display_orders[1]", Data: []byte("1024")},
		{Form: "names[2]", Data: []byte(odd)},
		{Form: "display_orders[2]", Data: []byte("2048")},
		{Form: "files", File: "a.png", Type: "image/png", Data: []byte("\x89PNG\r\n\x1a\n")},
		{Form: "files", File: "notes", Type: "text/plain; charset=utf-8", Data: []byte("plain words here\n")},
		{Form: "files", File: odd, Type: "application/octet-stream", Data: []byte{0, 1, 2, 3, 0xff}},
	})
}

func TestClient_BulkCreateCount(t *testing.T) {
	rec := &recorder{status: http.StatusCreated, body: `[]`}
	srv := startRecorder(t, rec)
	c := newTestClient(t, srv.URL, time.Now())
	dir := t.TempDir()
	var eleven []Upload
	for i := range 11 {
		eleven = append(eleven, writeFile(t, dir, string(rune('a'+i)), []byte("x"), 0))
	}
	for _, us := range [][]Upload{nil, eleven} {
		if _, err := c.BulkCreate(context.Background(), testTask, us); err == nil {
			t.Errorf("BulkCreate of %d files succeeded, want an error", len(us))
		}
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("server saw %d requests, want 0", n)
	}
}

func TestClient_UpdateSendsBothFields(t *testing.T) {
	rec := &recorder{status: http.StatusNoContent}
	srv := startRecorder(t, rec)
	c := newTestClient(t, srv.URL, time.Now())
	if err := c.Update(context.Background(), testTask, 55, "", 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Update(context.Background(), testTask, 55, "new ✓.txt", 3072); err != nil {
		t.Fatal(err)
	}
	seen := rec.requests()
	for i, want := range []map[string]string{
		{"name": `""`, "display_order": "0"},
		{"name": `"new ✓.txt"`, "display_order": "3072"},
	} {
		s := seen[i]
		checkCommon(t, s)
		if s.Method != http.MethodPut || s.Path != "/api/organizations/11/workspaces/22/tasks/101/attachments/55" {
			t.Errorf("request = %s %s", s.Method, s.Path)
		}
		if len(s.JSON) != 2 {
			t.Errorf("PUT body has %d fields, want exactly 2: %v", len(s.JSON), s.JSON)
		}
		for k, v := range want {
			if got := string(s.JSON[k]); got != v {
				t.Errorf("PUT %s = %s, want %s", k, got, v)
			}
		}
	}
}

func TestClient_ListDeleteView(t *testing.T) {
	rec := &recorder{status: http.StatusOK, body: `{"items":[
		{"id":1,"task_id":101,"name":"a","size":1,"display_order":0,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00+02:00","deleted_at":null},
		{"id":2,"task_id":101,"name":"b","size":2,"display_order":1024,"created_at":"2026-01-01T00:00:00.5Z","deleted_at":"2026-01-03T00:00:00Z"}]}`}
	srv := startRecorder(t, rec)
	c := newTestClient(t, srv.URL, time.Now())
	ctx := context.Background()
	all, err := c.List(ctx, testTask)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Deleted() || !all[1].Deleted() {
		t.Errorf("List = %+v", all)
	}
	live, err := c.ListLive(ctx, testTask)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 1 || live[0].ID != 1 {
		t.Errorf("ListLive = %+v", live)
	}
	s := rec.requests()[0]
	checkCommon(t, s)
	if s.Method != http.MethodGet || s.Query != "order_by=display_order" {
		t.Errorf("list request = %s ?%s", s.Method, s.Query)
	}

	rec.mu.Lock()
	rec.status, rec.body = http.StatusNoContent, ""
	rec.mu.Unlock()
	if err := c.Delete(ctx, testTask, 2); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	rec.status, rec.body = http.StatusOK, `{"id":1,"task_id":101,"name":"a","size":1}`
	rec.mu.Unlock()
	a, err := c.View(ctx, testTask, 1)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != 1 || a.Name != "a" {
		t.Errorf("View = %+v", a)
	}
	seen := rec.requests()
	if got := seen[2].Method + " " + seen[2].Path; got != "DELETE /api/organizations/11/workspaces/22/tasks/101/attachments/2" {
		t.Errorf("delete request = %s", got)
	}
	if got := seen[3].Method + " " + seen[3].Path; got != "GET /api/organizations/11/workspaces/22/tasks/101/attachments/1/view" {
		t.Errorf("view request = %s", got)
	}
}

func TestNew_BadBaseURL(t *testing.T) {
	for _, base := range []string{"ftp://x/api", "focus.toggl.com/api", "http://", "https://h/api?x=1", "http://a b/"} {
		if _, err := New(Options{BaseURL: base}); err == nil {
			t.Errorf("New(%q) succeeded, want an error", base)
		}
	}
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.base != DefaultBaseURL {
		t.Errorf("default base = %q", c.base)
	}
}

func TestClient_BadTaskSendsNothing(t *testing.T) {
	rec := &recorder{}
	srv := startRecorder(t, rec)
	c := newTestClient(t, srv.URL, time.Now())
	if _, err := c.List(context.Background(), Task{TaskID: 1}); err == nil {
		t.Error("List with zero organization and workspace succeeded")
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("server saw %d requests, want 0", n)
	}
}

func TestClient_SetToken(t *testing.T) {
	rec := &recorder{status: http.StatusOK, body: `[]`}
	srv := startRecorder(t, rec)
	c := newTestClient(t, srv.URL, time.Now())
	c.SetToken("toggl_sk_new")
	if _, err := c.List(context.Background(), testTask); err != nil {
		t.Fatal(err)
	}
	if got := rec.requests()[0].Header.Get("Authorization"); got != "Bearer toggl_sk_new" {
		t.Errorf("Authorization = %q", got)
	}
}

func TestClient_FileErrors(t *testing.T) {
	rec := &recorder{status: http.StatusCreated, body: `{"id":1}`}
	srv := startRecorder(t, rec)
	c := newTestClient(t, srv.URL, time.Now())
	dir := t.TempDir()
	ctx := context.Background()

	for _, delta := range []int64{+1, -1} {
		u := writeFile(t, dir, "f.txt", []byte("0123456789"), 0)
		u.Size += delta
		_, err := c.Create(ctx, testTask, u)
		if !errors.Is(err, ErrFileChanged) {
			t.Errorf("size off by %+d: err = %v, want ErrFileChanged", delta, err)
		}
		if IsAmbiguous(err) || KindOf(err) != KindUnknown {
			t.Errorf("size off by %+d: err = %v is ambiguous or an *Error", delta, err)
		}
	}
	missing := Upload{Path: filepath.Join(dir, "gone.bin"), Size: 3, Name: "gone.bin"}
	_, err := c.Create(ctx, testTask, missing)
	if err == nil || !strings.Contains(err.Error(), missing.Path) {
		t.Errorf("missing file: err = %v, want one naming %s", err, missing.Path)
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("server accepted %d requests, want 0", n)
	}
}

func TestInUploadOrder(t *testing.T) {
	us := []Upload{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	got := inUploadOrder(us, []Attachment{{ID: 3, Name: "c"}, {ID: 1, Name: "a"}, {ID: 2, Name: "b"}})
	if got[0].ID != 1 || got[1].ID != 2 || got[2].ID != 3 {
		t.Errorf("reordered = %+v", got)
	}
	kept := []Attachment{{ID: 9, Name: "x"}, {ID: 8, Name: "a"}, {ID: 7, Name: "b"}}
	if got := inUploadOrder(us, kept); got[0].ID != 9 {
		t.Errorf("names that do not match were reordered: %+v", got)
	}
}

// A task's listing may be larger than any other answer (it grows with the task);
// one larger than even its bound fails once, with an error that says so rather
// than a parse error of a cut-off body, and is not sent again.
func TestClient_ListResponseBounds(t *testing.T) {
	defer func(r, l int64) { maxResponse, maxListResponse = r, l }(maxResponse, maxListResponse)
	maxResponse, maxListResponse = 1<<10, 8<<10
	list := func(n int) string {
		var b strings.Builder
		b.WriteString("[")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"id":%d,"task_id":101,"name":"file-%04d.txt","size":1,"display_order":%d,"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z","deleted_at":null}`, i+1, i, i)
		}
		b.WriteString("]")
		return b.String()
	}
	rec := &recorder{status: http.StatusOK, body: list(20)} // about 3 KiB: above maxResponse
	srv := startRecorder(t, rec)
	c := newTestClient(t, srv.URL, time.Now())
	as, err := c.List(context.Background(), testTask)
	if err != nil || len(as) != 20 {
		t.Fatalf("a listing above the bound of other answers: %d attachments, %v; want 20", len(as), err)
	}
	rec.mu.Lock()
	rec.body = list(100) // about 15 KiB: above maxListResponse
	rec.mu.Unlock()
	_, err = c.List(context.Background(), testTask)
	if err == nil || !strings.Contains(err.Error(), "larger than") || Retryable(err) {
		t.Fatalf("a listing above its bound: %v; want a clear error that is not retried", err)
	}
	if n := len(rec.requests()); n != 2 {
		t.Errorf("%d requests, want 2 (the oversized listing is not sent again)", n)
	}
}
