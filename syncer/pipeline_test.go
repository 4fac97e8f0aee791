package syncer_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/syncer"
)

// gate is a transport that holds each upload until another one is in flight
// (or a deadline passes), and notes the most uploads it saw at once.
type gate struct {
	next http.RoundTripper
	mu   sync.Mutex
	in   int
	max  int
}

func (g *gate) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPost {
		return g.next.RoundTrip(r)
	}
	g.mu.Lock()
	g.in++
	g.max = max(g.max, g.in)
	deadline := time.Now().Add(3 * time.Second)
	for g.in < 2 && time.Now().Before(deadline) {
		g.mu.Unlock()
		time.Sleep(time.Millisecond)
		g.mu.Lock()
	}
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.in--
		g.mu.Unlock()
	}()
	return g.next.RoundTrip(r)
}

func TestEngine_UploadsTwoBatchesAtOnce(t *testing.T) {
	srv := focustest.NewServer(focustest.Options{Token: "tok"})
	defer srv.Close()
	g := &gate{next: http.DefaultTransport}
	c, err := focus.New(focus.Options{BaseURL: srv.URL, Token: "tok", HTTPClient: &http.Client{Transport: g}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e := &engineEnv{srv: srv, engine: syncer.NewEngine(c, st, nil), folder: config.Folder{
		Path: t.TempDir(), OrganizationID: 1, WorkspaceID: 2, TaskID: 3,
		Settle: time.Millisecond, Order: "name", DeleteRemote: true, MaxDelete: config.Limit{Percent: 50},
	}}
	const n = 45 // five batches, the last of five files
	for i := range n {
		e.write(t, fmt.Sprintf("f%02d.txt", i), strings.Repeat("x", i+1))
	}
	res, err := e.engine.Sync(context.Background(), e.folder, syncer.PassOptions{WaitSettle: true})
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if !res.Converged() || res.Uploaded != n {
		t.Fatalf("uploaded %d of %d, failed %v", res.Uploaded, n, res.Failed)
	}
	if g.max < 2 {
		t.Errorf("at most %d upload in flight, want 2", g.max)
	}
	got := map[string]int{}
	for _, a := range srv.Attachments(3) {
		got[a.Name]++
	}
	for i := range n {
		if name := fmt.Sprintf("f%02d.txt", i); got[name] != 1 {
			t.Errorf("%s: %d attachments, want 1", name, got[name])
		}
	}
	if ups := res.Requests[focus.EndpointBulk] + res.Requests[focus.EndpointCreate]; ups != 5 {
		t.Errorf("upload requests = %d, want 5 (batches of 10)", ups)
	}
	stats, err := st.Stats(syncer.FolderKey(e.folder))
	if err != nil {
		t.Fatal(err)
	}
	if stats.OpenIntents != 0 || stats.Managed != n {
		t.Errorf("state: %d open intents, %d managed records; want 0 and %d", stats.OpenIntents, stats.Managed, n)
	}
}
