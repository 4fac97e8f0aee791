package focustest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEmulator_Lifecycle(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := newServer(t, Options{Now: clk.Now})

	r := postForm(t, s, taskPath(s, testTask),
		valuePart("display_order", "2048"),
		part{field: "file", filename: "report.pdf", contentType: "application/pdf", content: "%PDF-1"},
	)
	wantStatus(t, "create", r, http.StatusCreated)
	created := decodeItem(t, r.body)
	if created.ID == 0 || created.TaskID != testTask || created.Name != "report.pdf" || created.Size != 6 ||
		created.MimeType != "application/pdf" || created.DisplayOrder != 2048 {
		t.Fatalf("created %+v", created)
	}
	if created.CreatedAt != "2026-03-01T09:00:00Z" || created.UpdatedAt != created.CreatedAt {
		t.Errorf("created_at %q, updated_at %q, want 2026-03-01T09:00:00Z", created.CreatedAt, created.UpdatedAt)
	}
	if created.DeletedAt != nil {
		t.Errorf("deleted_at of a live item: %s, want null", *created.DeletedAt)
	}
	if !strings.Contains(string(r.body), `"deleted_at":null`) {
		t.Errorf("create body %s lacks deleted_at: null", r.body)
	}

	r = postForm(t, s, taskPath(s, testTask),
		filePart("file", "notes.txt", "hello"),
		valuePart("name", "renamed.txt"),
		valuePart("display_order", "1024"),
	)
	wantStatus(t, "create with name", r, http.StatusCreated)
	second := decodeItem(t, r.body)
	if second.Name != "renamed.txt" || second.ID <= created.ID || !strings.HasPrefix(second.MimeType, "text/plain") {
		t.Fatalf("second %+v: want name renamed.txt, a larger id, text/plain from the extension", second)
	}

	r = send(t, s, http.MethodGet, taskPath(s, testTask), "", nil)
	wantStatus(t, "list", r, http.StatusOK)
	if got := names(decodeItems(t, r.body)); got != "renamed.txt,report.pdf" {
		t.Errorf("list in display order: %s", got)
	}

	r = send(t, s, http.MethodGet, itemPath(s, testTask, created.ID)+"/view", "", nil)
	wantStatus(t, "view", r, http.StatusOK)
	if got := decodeItem(t, r.body); got != created {
		t.Errorf("view %+v, want %+v", got, created)
	}

	clk.Advance(time.Minute)
	r = putJSON(t, s, itemPath(s, testTask, created.ID), `{"name":"final.pdf","display_order":1}`)
	wantStatus(t, "update", r, http.StatusNoContent)
	if len(r.body) != 0 {
		t.Errorf("update body %q, want none", r.body)
	}
	got := s.Attachments(testTask)
	if storedNames(got) != "final.pdf,renamed.txt" || got[0].DisplayOrder != 1 || !got[0].UpdatedAt.Equal(clk.Now()) {
		t.Errorf("after update: %+v", got)
	}
	sum := sha256.Sum256([]byte("%PDF-1"))
	if got[0].SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("sha256 %s, want %x", got[0].SHA256, sum)
	}

	r = send(t, s, http.MethodDelete, itemPath(s, testTask, created.ID), "", nil)
	wantStatus(t, "delete", r, http.StatusNoContent)
	if got := storedNames(s.Attachments(testTask)); got != "renamed.txt" {
		t.Errorf("live after delete: %s", got)
	}
	all := s.AllAttachments(testTask)
	if len(all) != 2 || !all[0].Deleted() || !all[0].DeletedAt.Equal(clk.Now()) {
		t.Errorf("all after delete: %+v", all)
	}
	r = send(t, s, http.MethodGet, taskPath(s, testTask), "", nil)
	if got := names(decodeItems(t, r.body)); got != "renamed.txt" {
		t.Errorf("list after delete: %s", got)
	}
	r = send(t, s, http.MethodDelete, itemPath(s, testTask, created.ID), "", nil)
	wantMessage(t, "delete of a deleted item", r, http.StatusNotFound, "does not exist")
	r = putJSON(t, s, itemPath(s, testTask, created.ID), `{"name":"x","display_order":1}`)
	wantMessage(t, "update of a deleted item", r, http.StatusNotFound, "does not exist")
	r = send(t, s, http.MethodGet, itemPath(s, testTask, created.ID)+"/view", "", nil)
	wantStatus(t, "view of a deleted item", r, http.StatusNotFound)
}

func TestEmulator_Bulk(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	r := postForm(t, s, taskPath(s, testTask)+"/bulk",
		filePart("files", "a.txt", "aaa"),
		filePart("files", "b.png", "bb"),
		filePart("files", "c.bin", "c"),
		valuePart("names[1]", "photo.png"),
		valuePart("display_orders[0]", "30"),
		valuePart("display_orders[1]", "10"),
		valuePart("display_orders[2]", "20"),
	)
	wantStatus(t, "bulk", r, http.StatusCreated)
	items := decodeItems(t, r.body)
	if got := names(items); got != "a.txt,photo.png,c.bin" {
		t.Fatalf("bulk items in part order: %s", got)
	}
	if items[1].MimeType != "image/png" || items[2].MimeType != "application/octet-stream" || items[0].Size != 3 {
		t.Errorf("bulk items %+v", items)
	}
	if items[0].ID+1 != items[1].ID || items[1].ID+1 != items[2].ID {
		t.Errorf("ids %d %d %d, want consecutive", items[0].ID, items[1].ID, items[2].ID)
	}
	if got := storedNames(s.Attachments(testTask)); got != "photo.png,c.bin,a.txt" {
		t.Errorf("stored in display order: %s", got)
	}
}

func TestEmulator_CreateValidation(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	url := taskPath(s, testTask)
	file := filePart("file", "a.txt", "x")
	order := valuePart("display_order", "1")
	for _, tc := range []struct {
		name  string
		parts []part
		want  string
	}{
		{"no file", []part{order}, "file is required"},
		{"no display_order", []part{file}, "display_order is required"},
		{"display_order not an integer", []part{file, valuePart("display_order", "1.5")}, "not an integer"},
		{"empty name", []part{file, order, valuePart("name", "")}, "name must not be empty"},
		{"no name and no filename", []part{{field: "file", content: "x"}, order}, "name is required"},
		{"two files", []part{file, file, order}, "more than one file"},
		{"unknown field", []part{file, order, valuePart("colour", "red")}, `unknown field "colour"`},
		{"bulk field", []part{filePart("files", "a.txt", "x"), order}, `unknown field "files"`},
		{"name twice", []part{file, order, valuePart("name", "a"), valuePart("name", "b")}, "given twice"},
	} {
		r := postForm(t, s, url, tc.parts...)
		wantMessage(t, tc.name, r, http.StatusBadRequest, tc.want)
	}
	r := send(t, s, http.MethodPost, url, "application/json", []byte(`{"name":"a"}`))
	wantMessage(t, "not multipart", r, http.StatusBadRequest, "multipart/form-data")
	body, ct := multipartBody(t, file, order)
	r = send(t, s, http.MethodPost, url, ct, body[:len(body)-20])
	wantMessage(t, "truncated multipart", r, http.StatusBadRequest, "")
	if n := len(s.AllAttachments(testTask)); n != 0 {
		t.Errorf("%d attachments stored by refused requests", n)
	}
}

func TestEmulator_BulkValidation(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	url := taskPath(s, testTask) + "/bulk"
	many := func(n int) []part {
		var ps []part
		for i := range n {
			ps = append(ps, filePart("files", fmt.Sprintf("f%d.txt", i), "x"), valuePart(fmt.Sprintf("display_orders[%d]", i), "1"))
		}
		return ps
	}
	f0, o0 := filePart("files", "a.txt", "x"), valuePart("display_orders[0]", "1")
	for _, tc := range []struct {
		name  string
		parts []part
		want  string
	}{
		{"no files", []part{o0}, "files is required"},
		{"eleven files", many(11), "too many files"},
		{"missing display order", []part{f0, filePart("files", "b.txt", "y"), o0}, "display_orders[1] is required"},
		{"name without file", []part{f0, o0, valuePart("names[3]", "z")}, "has no file"},
		{"index out of range", []part{f0, o0, valuePart("names[10]", "z")}, "out of range"},
		{"unindexed name", []part{f0, o0, valuePart("names", "z")}, `unknown field "names"`},
		{"single-create field", []part{filePart("file", "a.txt", "x"), o0}, `unknown field "file"`},
		{"order not an integer", []part{f0, valuePart("display_orders[0]", "x")}, "not an integer"},
		{"empty name", []part{f0, o0, valuePart("names[0]", "")}, "must not be empty"},
	} {
		r := postForm(t, s, url, tc.parts...)
		wantMessage(t, tc.name, r, http.StatusBadRequest, tc.want)
	}
	r := postForm(t, s, url, many(10)...)
	wantStatus(t, "ten files", r, http.StatusCreated)
	if n := len(s.Attachments(testTask)); n != 10 {
		t.Errorf("%d attachments, want the 10 of the one valid request", n)
	}
}

func TestEmulator_BulkAllOrNothing(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	s.RejectNames("*.exe")
	r := postForm(t, s, taskPath(s, testTask)+"/bulk",
		filePart("files", "a.txt", "a"), valuePart("display_orders[0]", "1"),
		filePart("files", "setup.exe", "MZ"), valuePart("display_orders[1]", "2"),
		filePart("files", "c.txt", "c"), valuePart("display_orders[2]", "3"),
	)
	wantMessage(t, "bulk with a refused file", r, http.StatusBadRequest, "file setup.exe refused")
	if n := len(s.AllAttachments(testTask)); n != 0 {
		t.Fatalf("%d attachments created by a refused batch, want 0", n)
	}
	// The name given in names[i], not the filename, is what is checked.
	r = postForm(t, s, taskPath(s, testTask)+"/bulk",
		filePart("files", "setup.exe", "MZ"), valuePart("names[0]", "setup.bin"), valuePart("display_orders[0]", "1"))
	wantStatus(t, "renamed file", r, http.StatusCreated)
	s.RejectNames("")
	r = postForm(t, s, taskPath(s, testTask), filePart("file", "tool.exe", "MZ"), valuePart("display_order", "2"))
	wantStatus(t, "after clearing the patterns", r, http.StatusCreated)
}

func TestEmulator_RejectLarger(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	s.RejectLarger(4)
	r := postForm(t, s, taskPath(s, testTask), filePart("file", "big.txt", "12345"), valuePart("display_order", "1"))
	wantMessage(t, "create too large", r, http.StatusBadRequest, "file big.txt refused")
	r = postForm(t, s, taskPath(s, testTask)+"/bulk",
		filePart("files", "ok.txt", "1234"), valuePart("display_orders[0]", "1"),
		filePart("files", "big.txt", "12345"), valuePart("display_orders[1]", "2"))
	wantMessage(t, "bulk with a large file", r, http.StatusBadRequest, "file big.txt refused")
	r = postForm(t, s, taskPath(s, testTask), filePart("file", "ok.txt", "1234"), valuePart("display_order", "1"))
	wantStatus(t, "create at the limit", r, http.StatusCreated)
	if got := storedNames(s.AllAttachments(testTask)); got != "ok.txt" {
		t.Errorf("stored %s, want ok.txt", got)
	}
}

func TestEmulator_UpdateValidation(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	a := s.Put(testOrg, testWS, testTask, "a.txt", []byte("a"), 1)
	other := s.Put(testOrg, testWS, testTask+1, "b.txt", []byte("b"), 1)
	url := itemPath(s, testTask, a.ID)
	for _, tc := range []struct{ name, body, want string }{
		{"not JSON", `{"name":`, "invalid JSON"},
		{"not an object", `[1]`, "invalid JSON"},
		{"null", `null`, "invalid JSON"},
		{"no name", `{"display_order":1}`, "name is required"},
		{"no display_order", `{"name":"x"}`, "display_order is required"},
		{"name a number", `{"name":5,"display_order":1}`, "name must be a string"},
		{"name null", `{"name":null,"display_order":1}`, "name must be a string"},
		{"empty name", `{"name":"","display_order":1}`, "must not be empty"},
		{"order a string", `{"name":"x","display_order":"1"}`, "must be an integer"},
		{"order a fraction", `{"name":"x","display_order":1.5}`, "must be an integer"},
		{"order null", `{"name":"x","display_order":null}`, "must be an integer"},
	} {
		wantMessage(t, tc.name, putJSON(t, s, url, tc.body), http.StatusBadRequest, tc.want)
	}
	body := `{"name":"x","display_order":5}`
	wantStatus(t, "unknown id", putJSON(t, s, itemPath(s, testTask, 999), body), http.StatusNotFound)
	wantStatus(t, "id of another task", putJSON(t, s, itemPath(s, testTask, other.ID), body), http.StatusNotFound)
	wantStatus(t, "delete id of another task", send(t, s, http.MethodDelete, itemPath(s, testTask, other.ID), "", nil), http.StatusNotFound)
	wantStatus(t, "view id of another task", send(t, s, http.MethodGet, itemPath(s, testTask, other.ID)+"/view", "", nil), http.StatusNotFound)
	if got := s.Attachments(testTask)[0]; got.Name != "a.txt" || got.DisplayOrder != 1 {
		t.Errorf("refused updates changed the item: %+v", got)
	}
	wantStatus(t, "large order", putJSON(t, s, url, `{"name":"x","display_order":9007199254740993}`), http.StatusNoContent)
	if got := s.Attachments(testTask)[0].DisplayOrder; got != 9007199254740993 {
		t.Errorf("display_order %d, want 9007199254740993 exactly", got)
	}
}

func TestEmulator_PathErrors(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	base := s.URL + "/organizations/11/workspaces/22/tasks/"
	wantMessage(t, "task id", send(t, s, http.MethodGet, base+"abc/attachments", "", nil), http.StatusBadRequest, `task id "abc" is not an integer`)
	wantMessage(t, "org id", send(t, s, http.MethodGet, s.URL+"/organizations/x/workspaces/22/tasks/1/attachments", "", nil), http.StatusBadRequest, "organization id")
	wantMessage(t, "attachment id", send(t, s, http.MethodDelete, base+"1/attachments/1.5", "", nil), http.StatusBadRequest, "attachment id")
	wantStatus(t, "unknown path", send(t, s, http.MethodGet, s.URL+"/tasks", "", nil), http.StatusNotFound)
	r := send(t, s, http.MethodGet, base+"1/attachments/5", "", nil)
	wantStatus(t, "GET on an item", r, http.StatusMethodNotAllowed)
	if got := r.header.Get("Allow"); got != "PUT, DELETE" {
		t.Errorf("Allow %q, want PUT, DELETE", got)
	}
	for _, r := range []response{r, send(t, s, http.MethodGet, s.URL+"/tasks", "", nil)} {
		if r.header.Get("X-Toggl-Quota-Remaining") == "" || r.header.Get("X-Toggl-Quota-Resets-In") == "" {
			t.Errorf("quota headers missing: %v", r.header)
		}
	}
}

func TestEmulator_TaskLivesInOneWorkspace(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	s.Put(testOrg, testWS, testTask, "a.txt", []byte("a"), 1)
	url := fmt.Sprintf("%s/organizations/%d/workspaces/%d/tasks/%d/attachments", s.URL, testOrg, testWS+1, testTask)
	wantMessage(t, "list in another workspace", send(t, s, http.MethodGet, url, "", nil), http.StatusNotFound, "task 101 not found")
}

func TestEmulator_ListOrderBy(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := newServer(t, Options{Now: clk.Now})
	s.Put(testOrg, testWS, testTask, "b", []byte("22"), 3)
	clk.Advance(time.Second)
	s.Put(testOrg, testWS, testTask, "c", []byte("1"), 1)
	clk.Advance(time.Second)
	s.Put(testOrg, testWS, testTask, "a", []byte("333"), 2)
	clk.Advance(time.Second)
	s.Put(testOrg, testWS, testTask, "d", []byte("1"), 2)
	for _, tc := range []struct{ query, want string }{
		{"", "c,a,d,b"},
		{"?order_by=name", "a,b,c,d"},
		{"?order_by=-name", "d,c,b,a"},
		{"?order_by=size&order_by=-id", "d,c,b,a"},
		{"?order_by=size,name", "c,d,b,a"},
		{"?order_by=-created_at", "d,a,c,b"},
		{"?order_by=-display_order,id", "b,a,d,c"},
		{"?order_by=updated_at", "b,c,a,d"},
		{"?order_by=id", "b,c,a,d"},
	} {
		r := send(t, s, http.MethodGet, taskPath(s, testTask)+tc.query, "", nil)
		wantStatus(t, tc.query, r, http.StatusOK)
		if got := names(decodeItems(t, r.body)); got != tc.want {
			t.Errorf("list%s: %s, want %s", tc.query, got, tc.want)
		}
	}
	r := send(t, s, http.MethodGet, taskPath(s, testTask)+"?order_by=colour", "", nil)
	wantMessage(t, "unknown order_by", r, http.StatusBadRequest, `unknown field "colour"`)
	r = send(t, s, http.MethodGet, taskPath(s, 999), "", nil)
	wantStatus(t, "empty task", r, http.StatusOK)
	if strings.TrimSpace(string(r.body)) != `{"items":[]}` {
		t.Errorf("empty list %s, want {\"items\":[]}", r.body)
	}
}

func TestEmulator_Auth(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{Quota: 5})
	for _, h := range []string{"", "Bearer ", "Bearer wrong", "Basic " + testToken, testToken} {
		req, _ := http.NewRequest(http.MethodGet, taskPath(s, testTask), nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		r := do(t, s, req)
		wantMessage(t, fmt.Sprintf("Authorization %q", h), r, http.StatusUnauthorized, "bearer token")
		if r.header.Get("X-Toggl-Quota-Remaining") != "5" {
			t.Errorf("401: remaining %q, want 5 (not counted)", r.header.Get("X-Toggl-Quota-Remaining"))
		}
	}
	if rem, _ := s.QuotaState(testOrg); rem != 5 {
		t.Errorf("quota after 401s: %d left, want 5", rem)
	}
	wantStatus(t, "right token", send(t, s, http.MethodGet, taskPath(s, testTask), "", nil), http.StatusOK)

	open := NewServer(Options{})
	t.Cleanup(open.Close)
	req, _ := http.NewRequest(http.MethodGet, taskPath(open, testTask), nil)
	req.Header.Set("Authorization", "Bearer whatever")
	wantStatus(t, "any token", do(t, open, req), http.StatusOK)
}

func TestEmulator_Quota(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := newServer(t, Options{Quota: 3, Window: 2 * time.Second, Now: clk.Now})
	url := taskPath(s, testTask)
	check := func(what string, r response, status int, remaining, resetsIn string) {
		t.Helper()
		wantStatus(t, what, r, status)
		if got := r.header.Get("X-Toggl-Quota-Remaining"); got != remaining {
			t.Errorf("%s: X-Toggl-Quota-Remaining %q, want %q", what, got, remaining)
		}
		if got := r.header.Get("X-Toggl-Quota-Resets-In"); got != resetsIn {
			t.Errorf("%s: X-Toggl-Quota-Resets-In %q, want %q", what, got, resetsIn)
		}
	}
	check("first", send(t, s, http.MethodGet, url, "", nil), 200, "2", "2")
	clk.Advance(500 * time.Millisecond)
	check("second", send(t, s, http.MethodGet, url+"/1/view", "", nil), 404, "1", "2")
	check("third", postForm(t, s, url, filePart("file", "a", "a"), valuePart("display_order", "1")), 201, "0", "2")
	clk.Advance(time.Second)
	r := postForm(t, s, url, filePart("file", "b", "b"), valuePart("display_order", "2"))
	check("fourth", r, http.StatusPaymentRequired, "0", "1")
	wantMessage(t, "fourth", r, http.StatusPaymentRequired, "quota")
	if got := storedNames(s.Attachments(testTask)); got != "a" {
		t.Errorf("stored %s: the refused write was applied", got)
	}
	if rem, reset := s.QuotaState(testOrg); rem != 0 || reset != 500*time.Millisecond {
		t.Errorf("QuotaState %d, %v; want 0, 500ms", rem, reset)
	}
	if rem, _ := s.QuotaState(testOrg + 1); rem != 3 {
		t.Errorf("another organization has %d left, want 3", rem)
	}
	clk.Advance(500 * time.Millisecond)
	check("after the window", send(t, s, http.MethodGet, url, "", nil), 200, "2", "2")
	reqs := s.Requests()
	if len(reqs) != 5 || reqs[3].Fault != "quota" || reqs[3].Status != 402 {
		t.Errorf("log %+v", reqs)
	}
}

func TestEmulator_UnlimitedQuotaHeaders(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	r := send(t, s, http.MethodGet, taskPath(s, testTask), "", nil)
	if r.header.Get("X-Toggl-Quota-Remaining") != fmt.Sprint(UnlimitedRemaining) || r.header.Get("X-Toggl-Quota-Resets-In") != "3600" {
		t.Errorf("headers %v", r.header)
	}
}

func TestEmulator_Concurrent(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			body, ct := multipartBody(t, filePart("file", fmt.Sprintf("f%d", i), "x"), valuePart("display_order", "1"))
			req, _ := http.NewRequest(http.MethodPost, taskPath(s, testTask), strings.NewReader(string(body)))
			req.Header.Set("Authorization", "Bearer "+testToken)
			req.Header.Set("Content-Type", ct)
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			_ = s.Requests()
			_ = s.Attachments(testTask)
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	for _, a := range s.Attachments(testTask) {
		if seen[a.ID] {
			t.Errorf("id %d given twice", a.ID)
		}
		seen[a.ID] = true
	}
	if len(seen) != 8 {
		t.Errorf("%d attachments, want 8", len(seen))
	}
	if n := len(s.Requests()); n != 8 {
		t.Errorf("%d requests logged, want 8", n)
	}
}
