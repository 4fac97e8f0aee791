package focus_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
)

const emuToken = "toggl_sk_emulated_secret"

var emuTask = focus.Task{OrganizationID: 11, WorkspaceID: 22, TaskID: 101}

// startEmulator serves an emulator on loopback and returns it with a client for it.
func startEmulator(tb testing.TB, opts focustest.Options) (*focustest.Server, *focus.Client) {
	tb.Helper()
	if opts.Token == "" {
		opts.Token = emuToken
	}
	srv := focustest.NewServer(opts)
	tb.Cleanup(srv.Close)
	c, err := focus.New(focus.Options{BaseURL: srv.URL, Token: opts.Token, UserAgent: "focussync/test"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.CloseIdleConnections)
	return srv, c
}

// localFile writes data to a new file and returns an Upload of it and its SHA-256.
func localFile(tb testing.TB, name, data string, order int64) (focus.Upload, string) {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), filepath.Base(name))
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256([]byte(data))
	return focus.Upload{Path: p, Size: int64(len(data)), Name: name, DisplayOrder: order}, hex.EncodeToString(sum[:])
}

func names(as []focus.Attachment) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Name)
	}
	return out
}

func storedNames(ss []focustest.Stored) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out
}

func TestClient_Conformance(t *testing.T) {
	srv, c := startEmulator(t, focustest.Options{Quota: 30})
	ctx := context.Background()

	one, oneSum := localFile(t, "one.pdf", "%PDF-1.4 one", 1024)
	created, err := c.Create(ctx, emuTask, one)
	if err != nil {
		t.Fatal(err)
	}
	if created.ID <= 0 || created.Name != "one.pdf" || created.Size != one.Size || created.DisplayOrder != 1024 {
		t.Errorf("Create = %+v", created)
	}

	var ups []focus.Upload
	sums := map[string]string{"one.pdf": oneSum}
	for i, n := range []string{"b.txt", "a ü \"quoted\".txt", "c.bin"} {
		u, sum := localFile(t, n, strings.Repeat(n, i+1), int64(2048+1024*i))
		ups = append(ups, u)
		sums[n] = sum
	}
	bulk, err := c.BulkCreate(ctx, emuTask, ups)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(bulk), []string{"b.txt", "a ü \"quoted\".txt", "c.bin"}; !slices.Equal(got, want) {
		t.Errorf("BulkCreate names = %q, want %q", got, want)
	}

	list, err := c.List(ctx, emuTask)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(list), []string{"one.pdf", "b.txt", "a ü \"quoted\".txt", "c.bin"}; !slices.Equal(got, want) {
		t.Errorf("List names = %q, want %q", got, want)
	}
	for _, s := range srv.Attachments(emuTask.TaskID) {
		if s.SHA256 != sums[s.Name] {
			t.Errorf("stored %q has SHA-256 %s, want %s", s.Name, s.SHA256, sums[s.Name])
		}
	}

	if err := c.Update(ctx, emuTask, bulk[0].ID, "renamed.txt", 1); err != nil {
		t.Fatal(err)
	}
	v, err := c.View(ctx, emuTask, bulk[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "renamed.txt" || v.DisplayOrder != 1 {
		t.Errorf("View after update = %+v", v)
	}
	if err := c.Delete(ctx, emuTask, created.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.View(ctx, emuTask, 999999); focus.KindOf(err) != focus.KindNotFound {
		t.Errorf("View of an unknown id: err = %v, want not found", err)
	}

	srv.SetListDeleted(true)
	all, err := c.List(ctx, emuTask)
	if err != nil {
		t.Fatal(err)
	}
	live, err := c.ListLive(ctx, emuTask)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 || len(live) != 3 || slices.ContainsFunc(live, func(a focus.Attachment) bool { return a.ID == created.ID }) {
		t.Errorf("with deleted items listed: List = %q, ListLive = %q", names(all), names(live))
	}
	if got, want := names(live), []string{"renamed.txt", "a ü \"quoted\".txt", "c.bin"}; !slices.Equal(got, want) {
		t.Errorf("ListLive names = %q, want %q", got, want)
	}

	reqs := srv.Requests()
	for _, r := range reqs {
		if r.Chunked || (r.Endpoint.Write() && r.Method != http.MethodDelete && r.ContentLength <= 0) {
			t.Errorf("%s %s: chunked %v, Content-Length %d", r.Method, r.Endpoint, r.Chunked, r.ContentLength)
		}
	}
	if got, want := reqs[0].Fields, []string{"name", "display_order", "file"}; !slices.Equal(got, want) {
		t.Errorf("create fields = %q, want %q", got, want)
	}
	if got, want := reqs[0].PartContentTypes[2], "application/pdf"; got != want {
		t.Errorf("create file part type = %q, want %q", got, want)
	}
	wantBulk := []string{"names[0]", "display_orders[0]", "names[1]", "display_orders[1]", "names[2]", "display_orders[2]", "files", "files", "files"}
	if got := reqs[1].Fields; !slices.Equal(got, wantBulk) {
		t.Errorf("bulk fields = %q, want %q", got, wantBulk)
	}
	st := c.Quota(emuTask.OrganizationID).State()
	if !st.Known || st.Remaining != 30-len(reqs) {
		t.Errorf("quota view = %+v after %d requests of 30", st, len(reqs))
	}
}

func TestClient_EmulatorFaults(t *testing.T) {
	ctx := context.Background()
	t.Run("dropped after commit", func(t *testing.T) {
		srv, c := startEmulator(t, focustest.Options{})
		srv.DropAfterCommit(focus.EndpointCreate, 1)
		u, _ := localFile(t, "kept.txt", "stored before the hang-up", 0)
		_, err := c.Create(ctx, emuTask, u)
		if focus.KindOf(err) != focus.KindTransport || !focus.IsAmbiguous(err) {
			t.Fatalf("err = %v, want an ambiguous transport error", err)
		}
		if got := storedNames(srv.Attachments(emuTask.TaskID)); !slices.Equal(got, []string{"kept.txt"}) {
			t.Errorf("stored after the drop = %q, want [kept.txt]", got)
		}
		srv.DropAfterCommit(focus.EndpointUpdate, 1)
		id := srv.Attachments(emuTask.TaskID)[0].ID
		if err := c.Update(ctx, emuTask, id, "x.txt", 5); focus.KindOf(err) != focus.KindTransport || focus.IsAmbiguous(err) {
			t.Errorf("update: err = %v, want a transport error that is not ambiguous", err)
		}
	})
	t.Run("bulk is all or nothing", func(t *testing.T) {
		srv, c := startEmulator(t, focustest.Options{})
		srv.RejectNames("*.exe")
		a, _ := localFile(t, "a.txt", "fine", 0)
		b, _ := localFile(t, "setup.exe", "refused", 1)
		_, err := c.BulkCreate(ctx, emuTask, []focus.Upload{a, b})
		var e *focus.Error
		if !errors.As(err, &e) || e.Kind != focus.KindInvalid || e.Ambiguous || !strings.Contains(e.Message, "setup.exe") {
			t.Fatalf("err = %v, want an invalid-request error naming setup.exe", err)
		}
		if got := srv.Attachments(emuTask.TaskID); len(got) != 0 {
			t.Errorf("a refused bulk stored %q", storedNames(got))
		}
	})
	t.Run("empty 201 body", func(t *testing.T) {
		srv, c := startEmulator(t, focustest.Options{})
		srv.SetEmptyCreatedBody(true)
		u, _ := localFile(t, "a.txt", "x", 0)
		_, err := c.Create(ctx, emuTask, u)
		if !errors.Is(err, focus.ErrIDsUnknown) || focus.KindOf(err) != focus.KindUnknown {
			t.Errorf("create: err = %v, want ErrIDsUnknown and no *Error", err)
		}
		_, err = c.BulkCreate(ctx, emuTask, []focus.Upload{u})
		if !errors.Is(err, focus.ErrIDsUnknown) {
			t.Errorf("bulk: err = %v, want ErrIDsUnknown", err)
		}
		if n := len(srv.Attachments(emuTask.TaskID)); n != 2 {
			t.Errorf("stored %d attachments, want 2", n)
		}
	})
	t.Run("server error on bulk", func(t *testing.T) {
		srv, c := startEmulator(t, focustest.Options{})
		srv.FailNext(focus.EndpointBulk, 1, http.StatusServiceUnavailable)
		u, _ := localFile(t, "a.txt", "x", 0)
		_, err := c.BulkCreate(ctx, emuTask, []focus.Upload{u})
		if focus.KindOf(err) != focus.KindServer || !focus.IsAmbiguous(err) {
			t.Errorf("err = %v, want an ambiguous server error", err)
		}
	})
	t.Run("rate limited", func(t *testing.T) {
		srv, c := startEmulator(t, focustest.Options{})
		srv.RateLimitNext(focus.EndpointList, 1, 9*time.Second)
		_, err := c.List(ctx, emuTask)
		var e *focus.Error
		if !errors.As(err, &e) || e.Kind != focus.KindRateLimited || e.RetryAfter != 9*time.Second {
			t.Errorf("err = %v, want rate limited for 9s", err)
		}
	})
	t.Run("quota exhausted", func(t *testing.T) {
		_, c := startEmulator(t, focustest.Options{Quota: 1})
		if _, err := c.List(ctx, emuTask); err != nil {
			t.Fatal(err)
		}
		_, err := c.List(ctx, emuTask)
		var e *focus.Error
		if !errors.As(err, &e) || e.Kind != focus.KindQuota || e.ResetIn <= 0 {
			t.Fatalf("err = %v, want quota exhausted with a reset time", err)
		}
		if st := c.Quota(emuTask.OrganizationID).State(); st.Remaining != 0 || !st.ResetAt.After(time.Now()) {
			t.Errorf("quota view after 402 = %+v", st)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		srv, _ := startEmulator(t, focustest.Options{})
		c, err := focus.New(focus.Options{BaseURL: srv.URL, Token: "toggl_sk_wrong"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseIdleConnections()
		_, err = c.List(ctx, emuTask)
		if focus.KindOf(err) != focus.KindAuth || strings.Contains(err.Error(), "toggl_sk_wrong") {
			t.Errorf("err = %v, want an auth error without the token", err)
		}
	})
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestClient_CreateStreamsLargeFile(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 256 MiB")
	}
	// Four times the memory bound below: a client that held the file (or a
	// copy of it) in memory fails; the race detector makes each byte slow, so
	// no larger.
	const size = 1 << 28
	p := filepath.Join(t.TempDir(), "big.bin")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	srv, c := startEmulator(t, focustest.Options{})

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	// Sample the heap while the upload runs, to see its peak and not only its end.
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var m runtime.MemStats
		var top uint64
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&m)
			top = max(top, m.HeapInuse)
			select {
			case <-done:
				peak <- top
				return
			case <-tick.C:
			}
		}
	}()
	a, err := c.Create(context.Background(), emuTask, focus.Upload{Path: p, Size: size, Name: "big.bin"})
	close(done)
	top := <-peak
	if err != nil {
		t.Fatal(err)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	heap := int64(after.HeapInuse) - int64(before.HeapInuse)
	peakGrowth := int64(top) - int64(before.HeapInuse)
	sys := int64(after.Sys) - int64(before.Sys)
	t.Logf("256 MiB upload: HeapInuse %+.1f MiB after, %+.1f MiB at peak (%.1f MiB); Sys %+.1f MiB (now %.1f MiB)",
		float64(heap)/(1<<20), float64(peakGrowth)/(1<<20), float64(top)/(1<<20), float64(sys)/(1<<20), float64(after.Sys)/(1<<20))
	if heap > 64<<20 || peakGrowth > 64<<20 || sys > 64<<20 {
		t.Errorf("memory grew by %d bytes of heap (%d at peak) and %d bytes from the OS, want < 64 MiB", heap, peakGrowth, sys)
	}
	if a.Size != size {
		t.Errorf("created size = %d, want %d", a.Size, size)
	}
	h := sha256.New()
	if _, err := io.CopyN(h, zeros{}, size); err != nil {
		t.Fatal(err)
	}
	stored := srv.Attachments(emuTask.TaskID)
	if len(stored) != 1 || stored[0].SHA256 != hex.EncodeToString(h.Sum(nil)) {
		t.Errorf("stored = %+v, want one attachment of 256 MiB of zeros", stored)
	}
	r := srv.Requests()[0]
	if r.Chunked || r.ContentLength <= size {
		t.Errorf("request: chunked %v, Content-Length %d", r.Chunked, r.ContentLength)
	}
}

// ExampleClient_BulkCreate uploads two files in one request to a local emulator
// of the API and lists the task.
func ExampleClient_BulkCreate() {
	srv := focustest.NewServer(focustest.Options{Token: "toggl_sk_example", Quota: 30})
	defer srv.Close()

	dir, err := os.MkdirTemp("", "focus-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	var uploads []focus.Upload
	for i, name := range []string{"notes.txt", "plan.pdf"} {
		p := filepath.Join(dir, name)
		data := "content of " + name
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			panic(err)
		}
		uploads = append(uploads, focus.Upload{Path: p, Size: int64(len(data)), Name: name, DisplayOrder: int64(1024 * i)})
	}

	c, err := focus.New(focus.Options{BaseURL: srv.URL, Token: "toggl_sk_example", UserAgent: "focussync/example"})
	if err != nil {
		panic(err)
	}
	task := focus.Task{OrganizationID: 11, WorkspaceID: 22, TaskID: 101}
	ctx := context.Background()
	if _, err := c.BulkCreate(ctx, task, uploads); err != nil {
		panic(err)
	}
	list, err := c.ListLive(ctx, task)
	if err != nil {
		panic(err)
	}
	for _, a := range list {
		fmt.Println(a.DisplayOrder, a.Name, a.Size, a.MimeType)
	}
	fmt.Println("requests left this hour:", c.Quota(task.OrganizationID).State().Remaining)
	// Output:
	// 0 notes.txt 20 text/plain; charset=utf-8
	// 1024 plan.pdf 19 application/pdf
	// requests left this hour: 28
}
