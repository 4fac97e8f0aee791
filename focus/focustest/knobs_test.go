package focustest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/internal/testutil"
)

func TestEmulator_FailNext(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{Quota: 100})
	s.FailNext(focus.EndpointCreate, 2, http.StatusServiceUnavailable)
	s.FailNext("", 1, http.StatusForbidden)
	create := func() response {
		return postForm(t, s, taskPath(s, testTask), filePart("file", "a.txt", "a"), valuePart("display_order", "1"))
	}
	wantStatus(t, "list is not concerned by a create fault", send(t, s, http.MethodGet, taskPath(s, testTask), "", nil), http.StatusForbidden)
	r := create()
	wantMessage(t, "first create", r, http.StatusServiceUnavailable, "injected")
	if r.header.Get("X-Toggl-Quota-Remaining") != "98" {
		t.Errorf("a failed request counts: remaining %q, want 98", r.header.Get("X-Toggl-Quota-Remaining"))
	}
	wantStatus(t, "second create", create(), http.StatusServiceUnavailable)
	if n := len(s.AllAttachments(testTask)); n != 0 {
		t.Fatalf("%d attachments: a failed write was applied", n)
	}
	wantStatus(t, "third create", create(), http.StatusCreated)
	var faults []string
	for _, rq := range s.Requests() {
		faults = append(faults, fmt.Sprintf("%s:%d:%s", rq.Endpoint, rq.Status, rq.Fault))
	}
	if got, want := strings.Join(faults, " "), "list:403:fail create:503:fail create:503:fail create:201:"; got != want {
		t.Errorf("log %s, want %s", got, want)
	}
}

func TestEmulator_RateLimitNext(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	s.RateLimitNext(focus.EndpointDelete, 1, 2500*time.Millisecond)
	a := s.Put(testOrg, testWS, testTask, "a", nil, 1)
	r := send(t, s, http.MethodDelete, itemPath(s, testTask, a.ID), "", nil)
	wantStatus(t, "rate limited", r, http.StatusTooManyRequests)
	if got := r.header.Get("Retry-After"); got != "3" {
		t.Errorf("Retry-After %q, want 3", got)
	}
	if len(s.Attachments(testTask)) != 1 {
		t.Fatal("a rate-limited delete was applied")
	}
	wantStatus(t, "then", send(t, s, http.MethodDelete, itemPath(s, testTask, a.ID), "", nil), http.StatusNoContent)
	if got := s.Requests()[0].Fault; got != "ratelimit" {
		t.Errorf("fault %q, want ratelimit", got)
	}
}

func TestEmulator_DropAfterCommit(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	s.DropAfterCommit(focus.EndpointBulk, 1)
	body, ct := multipartBody(t, filePart("files", "a.txt", "a"), valuePart("display_orders[0]", "1"))
	req, _ := http.NewRequest(http.MethodPost, taskPath(s, testTask)+"/bulk", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", ct)
	resp, err := s.Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("dropped request answered %d, want a transport error", resp.StatusCode)
	}
	if got := storedNames(s.Attachments(testTask)); got != "a.txt" {
		t.Errorf("stored %q: the write must be applied before the drop", got)
	}
	reqs := s.Requests()
	if len(reqs) != 1 || reqs[0].Status != 0 || reqs[0].Fault != "drop" || reqs[0].Files != 1 {
		t.Errorf("log %+v", reqs)
	}
	wantStatus(t, "next request", send(t, s, http.MethodGet, taskPath(s, testTask), "", nil), http.StatusOK)
}

func TestEmulator_SetFaults(t *testing.T) {
	t.Parallel()
	outcomes := func(seed int64) string {
		s := newServer(t, Options{})
		s.SetFaults(Faults{ServerErrorRate: 0.3, RateLimitRate: 0.3, RetryAfter: time.Second, Endpoints: []focus.Endpoint{focus.EndpointList}, Seed: seed})
		var out []string
		for range 20 {
			out = append(out, fmt.Sprint(send(t, s, http.MethodGet, taskPath(s, testTask), "", nil).status))
		}
		wantStatus(t, "view is not concerned", send(t, s, http.MethodGet, itemPath(s, testTask, 1)+"/view", "", nil), http.StatusNotFound)
		return strings.Join(out, ",")
	}
	a, b := outcomes(7), outcomes(7)
	if a != b {
		t.Errorf("same seed, different faults:\n%s\n%s", a, b)
	}
	for _, status := range []string{"200", "500", "429"} {
		if !strings.Contains(a, status) {
			t.Errorf("20 draws at 30%%/30%%/40%% gave no %s: %s", status, a)
		}
	}

	s := newServer(t, Options{})
	s.SetFaults(Faults{DropAfterCommitRate: 1})
	a1 := s.Put(testOrg, testWS, testTask, "a", nil, 1)
	req, _ := http.NewRequest(http.MethodDelete, itemPath(s, testTask, a1.ID), nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if resp, err := s.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("answered %d, want a dropped connection", resp.StatusCode)
	}
	if len(s.Attachments(testTask)) != 0 {
		t.Error("the delete was not applied before the drop")
	}
	s.SetFaults(Faults{})
	wantStatus(t, "faults off", send(t, s, http.MethodGet, taskPath(s, testTask), "", nil), http.StatusOK)
}

func TestEmulator_LatencyHonoursContext(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	s.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	body, ct := multipartBody(t, filePart("file", "a.txt", "a"), valuePart("display_order", "1"))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, taskPath(s, testTask), strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", ct)
	done := make(chan error, 1)
	go func() {
		resp, err := s.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	testutil.WaitUntil(t, 20*time.Second, "the upload to be stored", func() bool { return len(s.Attachments(testTask)) == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("request error %v, want context.Canceled", err)
	}
	testutil.WaitUntil(t, 20*time.Second, "the handler to give up waiting", func() bool { return len(s.Requests()) == 1 })
	if rq := s.Requests()[0]; rq.Status != 0 || rq.Fault != "canceled" {
		t.Errorf("log %+v, want status 0, fault canceled", rq)
	}
}

func TestEmulator_CloseEndsLatency(t *testing.T) {
	t.Parallel()
	s := NewServer(Options{})
	s.SetLatency(time.Hour)
	req, _ := http.NewRequest(http.MethodGet, taskPath(s, testTask), nil)
	req.Header.Set("Authorization", "Bearer x")
	done := make(chan error, 1)
	go func() {
		resp, err := s.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	testutil.WaitUntil(t, 20*time.Second, "the request to arrive", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		w := s.quotas[testOrg]
		return w != nil && w.used == 1
	})
	s.Close()
	if err := <-done; err == nil {
		t.Error("a request cut by Close was answered")
	}
	if n := len(s.Requests()); n != 1 {
		t.Errorf("%d requests logged after Close, want 1", n)
	}
}

func TestEmulator_EmptyCreatedBody(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	s.SetEmptyCreatedBody(true)
	r := postForm(t, s, taskPath(s, testTask), filePart("file", "a.txt", "a"), valuePart("display_order", "1"))
	wantStatus(t, "create", r, http.StatusCreated)
	r2 := postForm(t, s, taskPath(s, testTask)+"/bulk", filePart("files", "b.txt", "b"), valuePart("display_orders[0]", "2"))
	wantStatus(t, "bulk", r2, http.StatusCreated)
	if len(r.body) != 0 || len(r2.body) != 0 {
		t.Errorf("bodies %q and %q, want empty", r.body, r2.body)
	}
	if got := storedNames(s.Attachments(testTask)); got != "a.txt,b.txt" {
		t.Errorf("stored %s", got)
	}
}

func TestEmulator_ListDeleted(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := newServer(t, Options{Now: clk.Now})
	a := s.Put(testOrg, testWS, testTask, "a", nil, 1)
	s.Put(testOrg, testWS, testTask, "b", nil, 2)
	wantStatus(t, "delete", send(t, s, http.MethodDelete, itemPath(s, testTask, a.ID), "", nil), http.StatusNoContent)
	s.SetListDeleted(true)
	r := send(t, s, http.MethodGet, taskPath(s, testTask), "", nil)
	items := decodeItems(t, r.body)
	if names(items) != "a,b" || items[0].DeletedAt == nil || *items[0].DeletedAt != "2026-03-01T09:00:00Z" || items[1].DeletedAt != nil {
		t.Errorf("list with deleted: %s", r.body)
	}
	wantStatus(t, "view of a deleted item", send(t, s, http.MethodGet, itemPath(s, testTask, a.ID)+"/view", "", nil), http.StatusNotFound)
	s.SetListDeleted(false)
	r = send(t, s, http.MethodGet, taskPath(s, testTask), "", nil)
	if got := names(decodeItems(t, r.body)); got != "b" {
		t.Errorf("list without deleted: %s", got)
	}
}

func TestEmulator_RequestLog(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	r := postForm(t, s, taskPath(s, testTask)+"/bulk",
		filePart("files", "a.txt", "aa"),
		part{field: "files", filename: "b.png", contentType: "image/png", content: "b"},
		valuePart("display_orders[0]", "1"),
		valuePart("names[1]", "c.png"),
		valuePart("display_orders[1]", "2"),
	)
	wantStatus(t, "bulk", r, http.StatusCreated)
	id := decodeItems(t, r.body)[0].ID
	wantStatus(t, "put", putJSON(t, s, itemPath(s, testTask, id), `{"name":"z","display_order":3}`), http.StatusNoContent)

	// A body of unknown length goes chunked.
	body, ct := multipartBody(t, filePart("file", "d.txt", "d"), valuePart("display_order", "4"))
	req, _ := http.NewRequest(http.MethodPost, taskPath(s, testTask), struct{ *strings.Reader }{strings.NewReader(string(body))})
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", ct)
	wantStatus(t, "chunked create", do(t, s, req), http.StatusCreated)

	reqs := s.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests logged, want 3", len(reqs))
	}
	b := reqs[0]
	wantFields := []string{"files", "files", "display_orders[0]", "names[1]", "display_orders[1]"}
	wantTypes := []string{"application/octet-stream", "image/png", "", "", ""}
	if b.Method != "POST" || b.Endpoint != focus.EndpointBulk || b.TaskID != testTask || b.Status != 201 || b.Fault != "" ||
		b.Chunked || b.ContentLength <= 0 || !strings.HasPrefix(b.ContentType, "multipart/form-data; boundary=") ||
		b.Files != 2 || !slices.Equal(b.Fields, wantFields) || !slices.Equal(b.PartContentTypes, wantTypes) ||
		!strings.HasSuffix(b.Path, "/tasks/101/attachments/bulk") || b.Time.IsZero() {
		t.Errorf("bulk logged as %+v", b)
	}
	if p := reqs[1]; p.Endpoint != focus.EndpointUpdate || p.Body != `{"name":"z","display_order":3}` || p.Status != 204 {
		t.Errorf("put logged as %+v", p)
	}
	if c := reqs[2]; !c.Chunked || c.ContentLength != -1 || c.Files != 1 {
		t.Errorf("chunked create logged as %+v", c)
	}
	reqs[0].Fields[0] = "changed"
	if s.Requests()[0].Fields[0] != "files" {
		t.Error("Requests returned the log's own slices")
	}
	s.ResetRequests()
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests after ResetRequests", n)
	}
}

func TestEmulator_LogLimit(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{LogLimit: 2})
	for i := range 3 {
		send(t, s, http.MethodGet, taskPath(s, int64(i+1)), "", nil)
	}
	reqs := s.Requests()
	if len(reqs) != 2 || reqs[0].TaskID != 2 || reqs[1].TaskID != 3 {
		t.Errorf("log %+v, want the last two", reqs)
	}
}

func TestEmulator_Page(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	s.Put(testOrg, testWS, testTask, "<b>bold</b>.txt", []byte("12345"), 7)
	req, err := http.NewRequest(http.MethodGet, s.PageURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("", testToken)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{`http-equiv="refresh" content="2"`, "Task 101", "&lt;b&gt;bold&lt;/b&gt;.txt", "<td class=\"n\">5</td>", "<td class=\"n\">7</td>"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "<b>bold") {
		t.Error("page does not escape names")
	}
}

func TestEmulator_PageAsksForToken(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{Token: "secret-token"})
	s.Put(testOrg, testWS, testTask, "private.pdf", []byte("12345"), 7)
	get := func(set func(*http.Request)) (int, string, string) {
		req, err := http.NewRequest(http.MethodGet, s.PageURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		set(req)
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(b)
	}
	for name, set := range map[string]func(*http.Request){
		"no token":     func(*http.Request) {},
		"wrong token":  func(r *http.Request) { r.SetBasicAuth("me", "guess") },
		"wrong bearer": func(r *http.Request) { r.Header.Set("Authorization", "Bearer guess") },
	} {
		code, auth, body := get(set)
		if code != http.StatusUnauthorized || !strings.HasPrefix(auth, "Basic ") || strings.Contains(body, "private.pdf") {
			t.Errorf("%s: %d %q, body %q; want 401 asking for basic auth, no names", name, code, auth, body)
		}
	}
	for name, set := range map[string]func(*http.Request){
		"basic":  func(r *http.Request) { r.SetBasicAuth("anyone", "secret-token") },
		"bearer": func(r *http.Request) { r.Header.Set("Authorization", "Bearer secret-token") },
	} {
		if code, _, body := get(set); code != http.StatusOK || !strings.Contains(body, "private.pdf") {
			t.Errorf("%s: %d, body %q; want 200 with the names", name, code, body)
		}
	}
}
