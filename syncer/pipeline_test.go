package syncer_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
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
	g := &gate{next: http.DefaultTransport}
	e := newEngineEnvOver(t, focustest.Options{}, g)
	srv, st := e.srv, e.st
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

// TestEngine_NewFilesHashedWhileSent: new files are hashed by their upload (the
// scan leaves them unhashed): each record holds the SHA-256 of its file, the same
// as the emulator's. A file written to between the scan and its upload (same
// size, another mtime) is not recorded from that upload: the request is cut short,
// nothing is stored, and the next round sends the file as it is now.
func TestEngine_NewFilesHashedWhileSent(t *testing.T) {
	e := newEngineEnv(t)
	srv, st := e.srv, e.st
	const n = 12
	for i := range n {
		e.write(t, fmt.Sprintf("f%02d.txt", i), strings.Repeat("y", i+1))
	}
	busy := filepath.Join(e.folder.Path, "busy.txt")
	e.write(t, "busy.txt", "before the write")
	written := false
	opt := syncer.PassOptions{WaitSettle: true, Progress: func(p syncer.Progress) {
		// Called just before each upload request: busy.txt is written to in place,
		// keeping its size, once the scan has measured it.
		if !written && p.Current != "" {
			written = true
			fi, err := os.Stat(busy)
			if err != nil {
				t.Error(err)
				return
			}
			if err := os.WriteFile(busy, []byte("after the write!"), 0o644); err != nil {
				t.Error(err)
			}
			if err := os.Chtimes(busy, fi.ModTime(), fi.ModTime().Add(-10*time.Second)); err != nil {
				t.Error(err)
			}
		}
	}}
	res, err := e.engine.Sync(context.Background(), e.folder, opt)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if !written {
		t.Fatal("busy.txt was never written to: the test proves nothing")
	}
	if !res.Converged() {
		t.Fatalf("not converged: %+v", res.Failed)
	}
	stored := map[string]focustest.Stored{}
	for _, a := range srv.AllAttachments(3) {
		if _, dup := stored[a.Name]; dup {
			t.Errorf("%s: stored twice", a.Name)
		}
		stored[a.Name] = a
	}
	fo, err := st.Load(syncer.FolderKey(e.folder))
	if err != nil {
		t.Fatal(err)
	}
	if len(fo.Files) != n+1 || len(stored) != n+1 {
		t.Fatalf("%d records, %d attachments; want %d", len(fo.Files), len(stored), n+1)
	}
	for path, r := range fo.Files {
		data, err := os.ReadFile(filepath.Join(e.folder.Path, path))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		want := hex.EncodeToString(sum[:])
		if r.Hash != want || stored[path].SHA256 != want || stored[path].ID != r.AttachmentID {
			t.Errorf("%s: record hash %q (attachment %d), stored %q (attachment %d); want %q",
				path, r.Hash, r.AttachmentID, stored[path].SHA256, stored[path].ID, want)
		}
	}
	// The request that read busy.txt after the write was cut short: one more
	// upload request than batches.
	if ups := res.Requests[focus.EndpointBulk] + res.Requests[focus.EndpointCreate]; ups < 3 {
		t.Errorf("upload requests = %d, want at least 3 (2 batches, one cut short and sent again)", ups)
	}
}

// TestEngine_NewRefusedFileSentOnce: a new file, hashed while it is sent, that the
// server refuses is recorded with the hash of what was refused, so it is not sent
// again until it changes.
func TestEngine_NewRefusedFileSentOnce(t *testing.T) {
	e := newEngineEnv(t)
	e.srv.RejectNames("*.exe")
	e.write(t, "tool.exe", "MZ, refused")
	res, err := e.engine.Sync(context.Background(), e.folder, syncer.PassOptions{WaitSettle: true})
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if len(res.Failed) != 1 {
		t.Fatalf("failures = %+v, want tool.exe refused", res.Failed)
	}
	res, err = e.engine.Sync(context.Background(), e.folder, syncer.PassOptions{WaitSettle: true})
	if err != nil {
		t.Fatalf("second Sync: %v", err)
	}
	var sent []focus.Endpoint
	for _, r := range e.srv.Requests() {
		sent = append(sent, r.Endpoint)
	}
	if len(sent) != 2 || sent[1] != focus.EndpointCreate {
		t.Errorf("requests = %v, want one list and one create in all", sent)
	}
}

// An executed plan lets go of its upload batches' files as they are sent, so a
// large first sync does not hold every file's intent to its end; its cost is
// still what the pass sent.
func TestEngine_ExecutedPlanLetsGoOfItsUploads(t *testing.T) {
	e := newEngineEnv(t)
	for i := range 25 {
		e.write(t, fmt.Sprintf("f%02d.txt", i), fmt.Sprintf("one %d", i))
	}
	sync := func() *syncer.Result {
		t.Helper()
		res, err := e.engine.Sync(context.Background(), e.folder, syncer.PassOptions{WaitSettle: true})
		if err != nil || !res.Converged() {
			t.Fatalf("Sync: %v, failed %v", err, res.Failed)
		}
		return res
	}
	sync()
	// Two new versions (each replaces its old attachment) and one new file.
	e.write(t, "f03.txt", "two 3")
	e.write(t, "f17.txt", "two 17")
	e.write(t, "g.txt", "new")
	res := sync()
	p := res.Plan
	if p == nil || len(p.Uploads) != 1 {
		t.Fatalf("plan = %+v, want one upload batch", p)
	}
	for i, b := range p.Uploads {
		if b.Files != nil {
			t.Errorf("upload batch %d still holds %d files after the pass", i, len(b.Files))
		}
	}
	if got := p.Replaces(); got != 2 {
		t.Errorf("Replaces() = %d after the pass, want 2", got)
	}
	if cost, sent := p.Cost(), res.WriteRequests(); cost != 3 || sent != 3 {
		t.Errorf("Cost() = %d, write requests sent = %d; want 3 (a bulk create and 2 deletes)", cost, sent)
	}
}
