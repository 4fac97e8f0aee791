package syncer_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
	"github.com/focussync/focussync/internal/testutil"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/syncer"
)

// Adversarial tests: each one breaks something on purpose (edits made by hand in
// Focus, dropped answers, 404s, 429s, failed deletes, lost state, odd local
// changes) and checks what a user would check: the attachments in Focus and the
// requests spent.

func (e *engineEnv) sync(t *testing.T) *syncer.Result {
	t.Helper()
	res, err := e.engine.Sync(context.Background(), e.folder, syncer.PassOptions{WaitSettle: true})
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return res
}

// client is a second client, standing for a person editing the task in Focus.
func (e *engineEnv) client(t *testing.T) *focus.Client {
	t.Helper()
	c, err := focus.New(focus.Options{BaseURL: e.srv.URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *engineEnv) put(name, content string, order int64) focus.Attachment {
	f := e.folder.Task()
	return e.srv.Put(f.OrganizationID, f.WorkspaceID, f.TaskID, name, []byte(content), order)
}

// byName returns the live attachments grouped by name.
func (e *engineEnv) byName() map[string][]focustest.Stored {
	m := map[string][]focustest.Stored{}
	for _, a := range e.srv.Attachments(e.folder.TaskID) {
		m[a.Name] = append(m[a.Name], a)
	}
	return m
}

// byID returns the attachment with id, soft-deleted ones included.
func (e *engineEnv) byID(id int64) (focustest.Stored, bool) {
	for _, a := range e.srv.AllAttachments(e.folder.TaskID) {
		if a.ID == id {
			return a, true
		}
	}
	return focustest.Stored{}, false
}

// mark is the length of the request log.
func (e *engineEnv) mark() int { return len(e.srv.Requests()) }

// since counts the requests from index from on, by endpoint.
func (e *engineEnv) since(from int) map[focus.Endpoint]int {
	m := map[focus.Endpoint]int{}
	for _, r := range e.srv.Requests()[from:] {
		m[r.Endpoint]++
	}
	return m
}

// writeIDs returns the attachment ids named by the update and delete requests
// from index from on.
func (e *engineEnv) writeIDs(t *testing.T, from int) []int64 {
	t.Helper()
	var ids []int64
	for _, r := range e.srv.Requests()[from:] {
		if r.Endpoint != focus.EndpointUpdate && r.Endpoint != focus.EndpointDelete {
			continue
		}
		id, err := strconv.ParseInt(r.Path[strings.LastIndex(r.Path, "/")+1:], 10, 64)
		if err != nil {
			t.Fatalf("request path %s names no attachment id", r.Path)
		}
		ids = append(ids, id)
	}
	return ids
}

func shaOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// expectFiles checks that the task holds exactly one live attachment per name in
// want, with that content, and nothing else but the hand-made attachments in hand
// (unchanged: same name, order and content).
func (e *engineEnv) expectFiles(t *testing.T, want map[string]string, hand ...focustest.Stored) {
	t.Helper()
	handIDs := map[int64]focustest.Stored{}
	for _, h := range hand {
		handIDs[h.ID] = h
		got, ok := e.byID(h.ID)
		switch {
		case !ok || got.Deleted():
			t.Errorf("hand-made attachment %d (%s) was deleted", h.ID, h.Name)
		case got.Name != h.Name || got.DisplayOrder != h.DisplayOrder || got.SHA256 != h.SHA256:
			t.Errorf("hand-made attachment %d changed: was %s order %d, now %s order %d", h.ID, h.Name, h.DisplayOrder, got.Name, got.DisplayOrder)
		}
	}
	count := map[string]int{}
	for _, a := range e.srv.Attachments(e.folder.TaskID) {
		if _, ok := handIDs[a.ID]; ok {
			continue
		}
		content, ok := want[a.Name]
		if !ok {
			t.Errorf("attachment %d %q has no file", a.ID, a.Name)
			continue
		}
		count[a.Name]++
		if a.SHA256 != shaOf(content) {
			t.Errorf("attachment %d %q has other content than the file", a.ID, a.Name)
		}
	}
	for name := range want {
		if count[name] != 1 {
			t.Errorf("%d live attachments for %s, want 1", count[name], name)
		}
	}
	if t.Failed() {
		for _, a := range e.srv.AllAttachments(e.folder.TaskID) {
			t.Logf("  attachment %d %q size %d order %d deleted=%v", a.ID, a.Name, a.Size, a.DisplayOrder, a.Deleted())
		}
	}
}

// stored returns the stored form of an attachment, for expectFiles.
func (e *engineEnv) stored(t *testing.T, a focus.Attachment) focustest.Stored {
	t.Helper()
	s, ok := e.byID(a.ID)
	if !ok {
		t.Fatalf("attachment %d not found", a.ID)
	}
	return s
}

func (e *engineEnv) remove(t *testing.T, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(e.folder.Path, name)); err != nil {
		t.Fatal(err)
	}
}

func (e *engineEnv) rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(filepath.Join(e.folder.Path, from), filepath.Join(e.folder.Path, to)); err != nil {
		t.Fatal(err)
	}
}

// idOf returns the id of the single live attachment named name.
func (e *engineEnv) idOf(t *testing.T, name string) int64 {
	t.Helper()
	as := e.byName()[name]
	if len(as) != 1 {
		t.Fatalf("%d live attachments named %s, want 1", len(as), name)
	}
	return as[0].ID
}

// --- 1. remote verification ---

// ageVerify makes the last verification a day and a half old.
func (e *engineEnv) ageVerify(t *testing.T) {
	t.Helper()
	fo, err := e.engine.Store.Load(syncer.FolderKey(e.folder))
	if err != nil {
		t.Fatal(err)
	}
	m := fo.Meta
	m.LastVerify = time.Now().Add(-36 * time.Hour)
	if err := e.engine.Store.Commit(syncer.FolderKey(e.folder), state.Change{Meta: &m}); err != nil {
		t.Fatal(err)
	}
}

func TestAdversarial_VerifyRestoresHandEditsAndSparesHandMade(t *testing.T) {
	e := newEngineEnv(t)
	e.folder.Verify = 24 * time.Hour
	files := map[string]string{"a.txt": "alpha", "b.txt": "bravo", "c.txt": "charlie"}
	for n, c := range files {
		e.write(t, n, c)
	}
	hand := e.stored(t, e.put("hand.txt", "made by a person", 5000))
	e.sync(t)
	e.expectFiles(t, files, hand)

	ctx := context.Background()
	c := e.client(t)
	aID := e.idOf(t, "a.txt")
	a, _ := e.byID(aID)
	if err := c.Update(ctx, e.folder.Task(), aID, "renamed by hand.txt", a.DisplayOrder); err != nil {
		t.Fatal(err)
	}
	bID := e.idOf(t, "b.txt")
	if err := c.Delete(ctx, e.folder.Task(), bID); err != nil {
		t.Fatal(err)
	}

	e.ageVerify(t)
	from := e.mark()
	res := e.sync(t)
	if !res.Converged() {
		t.Errorf("not converged: %+v", res.Failed)
	}
	e.expectFiles(t, files, hand)
	if got, _ := e.byID(aID); got.Deleted() || got.Name != "a.txt" {
		t.Errorf("attachment %d of a.txt: name %q deleted=%v, want its name back", aID, got.Name, got.Deleted())
	}
	n := e.since(from)
	if n[focus.EndpointCreate]+n[focus.EndpointBulk] != 1 || n[focus.EndpointUpdate] != 1 || n[focus.EndpointDelete] != 0 {
		t.Errorf("requests = %v, want 1 upload (b.txt), 1 update (a.txt's name), 0 delete", n)
	}
	for _, id := range e.writeIDs(t, from) {
		if id == hand.ID {
			t.Errorf("a write named the hand-made attachment %d", id)
		}
	}

	// Many more verified passes: nothing to do, the hand-made attachment untouched.
	from = e.mark()
	for range 5 {
		e.ageVerify(t)
		e.sync(t)
	}
	n = e.since(from)
	if w := n[focus.EndpointCreate] + n[focus.EndpointBulk] + n[focus.EndpointUpdate] + n[focus.EndpointDelete]; w != 0 {
		t.Errorf("idle passes sent %d writes: %v", w, n)
	}
	e.expectFiles(t, files, hand)
}

// --- 2. content change whose upload is dropped after commit ---

func TestAdversarial_ContentChangeDroppedAfterCommit(t *testing.T) {
	for _, tc := range []struct {
		ep    focus.Endpoint
		files []string
	}{
		{focus.EndpointCreate, []string{"one.txt"}},
		{focus.EndpointBulk, []string{"one.txt", "two.txt", "three.txt"}},
	} {
		t.Run(string(tc.ep), func(t *testing.T) {
			e := newEngineEnv(t)
			want := map[string]string{}
			old := map[string]int64{}
			for _, n := range tc.files {
				want[n] = "first version of " + n
				e.write(t, n, want[n])
			}
			e.sync(t)
			for _, n := range tc.files {
				old[n] = e.idOf(t, n)
				want[n] = "second, longer version of " + n
				e.write(t, n, want[n])
			}
			e.srv.DropAfterCommit(tc.ep, 1)
			from := e.mark()
			res := e.sync(t)
			if !res.Converged() {
				t.Errorf("not converged: %+v", res.Failed)
			}
			e.expectFiles(t, want)
			for n, id := range old {
				if a, _ := e.byID(id); !a.Deleted() {
					t.Errorf("old version %d of %s is still live", id, n)
				}
			}
			n := e.since(from)
			if up := n[focus.EndpointCreate] + n[focus.EndpointBulk]; up != 1 {
				t.Errorf("%d uploads, want 1 (the dropped one is adopted): %v", up, n)
			}
		})
	}
}

// --- 3. 404 on delete and update ---

func TestAdversarial_Delete404IsSuccess(t *testing.T) {
	e := newEngineEnv(t)
	e.write(t, "keep.txt", "keep")
	e.write(t, "gone.txt", "gone")
	e.sync(t)
	e.remove(t, "gone.txt")
	e.srv.FailNext(focus.EndpointDelete, 1, 404)
	from := e.mark()
	res := e.sync(t)
	if !res.Converged() || res.Deleted != 1 {
		t.Errorf("converged=%v deleted=%d failed=%+v; want the 404 counted as a delete", res.Converged(), res.Deleted, res.Failed)
	}
	if n := e.since(from)[focus.EndpointDelete]; n != 1 {
		t.Errorf("%d deletes sent, want 1 (a 404 is not retried)", n)
	}
	from = e.mark()
	if res := e.sync(t); res.WriteRequests() != 0 {
		t.Errorf("next pass sent %d writes (%v), want 0", res.WriteRequests(), e.since(from))
	}
}

func TestAdversarial_DeletedByHandThenRemovedLocally(t *testing.T) {
	e := newEngineEnv(t)
	e.write(t, "keep.txt", "keep")
	e.write(t, "gone.txt", "gone")
	e.sync(t)
	if err := e.client(t).Delete(context.Background(), e.folder.Task(), e.idOf(t, "gone.txt")); err != nil {
		t.Fatal(err)
	}
	e.remove(t, "gone.txt")
	res := e.sync(t)
	if !res.Converged() {
		t.Errorf("a real 404 on delete must count as done: %+v", res.Failed)
	}
	e.expectFiles(t, map[string]string{"keep.txt": "keep"})
}

func TestAdversarial_Update404ReuploadsWithoutDuplicate(t *testing.T) {
	e := newEngineEnv(t)
	e.write(t, "a.txt", "the content of a")
	e.write(t, "z.txt", "zulu")
	e.sync(t)
	// A person deletes the attachment in Focus; locally the file is renamed: the
	// rename PUT meets a real 404.
	if err := e.client(t).Delete(context.Background(), e.folder.Task(), e.idOf(t, "a.txt")); err != nil {
		t.Fatal(err)
	}
	e.rename(t, "a.txt", "b.txt")
	from := e.mark()
	res := e.sync(t)
	if !res.Converged() {
		t.Errorf("not converged: %+v", res.Failed)
	}
	e.expectFiles(t, map[string]string{"b.txt": "the content of a", "z.txt": "zulu"})
	n := e.since(from)
	if n[focus.EndpointUpdate] != 1 || n[focus.EndpointCreate]+n[focus.EndpointBulk] != 1 {
		t.Errorf("requests = %v, want the 404 update then one upload", n)
	}
}

// --- 4. 429 with Retry-After ---

func TestAdversarial_RateLimitedUploadWaitsRetryAfter(t *testing.T) {
	e := newEngineEnv(t)
	want := map[string]string{"a.txt": "a", "b.txt": "bb", "c.txt": "ccc"}
	for n, c := range want {
		e.write(t, n, c)
	}
	e.srv.RateLimitNext(focus.EndpointBulk, 2, time.Second)
	res := e.sync(t)
	if !res.Converged() {
		t.Errorf("not converged: %+v", res.Failed)
	}
	e.expectFiles(t, want)
	var times []time.Time
	var statuses []int
	for _, r := range e.srv.Requests() {
		if r.Endpoint == focus.EndpointBulk {
			times = append(times, r.Time)
			statuses = append(statuses, r.Status)
		}
	}
	if len(times) != 3 {
		t.Fatalf("bulk statuses %v, want 429, 429, 201", statuses)
	}
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < time.Second {
			t.Errorf("bulk %d came %s after a 429 with Retry-After: 1", i+1, gap)
		}
	}
}

// --- 9. the old version's delete fails ---

func TestAdversarial_ReplacedDeleteFailsThenFollows(t *testing.T) {
	e := newEngineEnv(t)
	e.write(t, "f.txt", "version one")
	e.write(t, "g.txt", "other")
	e.sync(t)
	oldID := e.idOf(t, "f.txt")
	e.write(t, "f.txt", "version two, longer")
	e.srv.FailNext(focus.EndpointDelete, 5, 500) // the first try and all 4 retries
	res := e.sync(t)
	if a, _ := e.byID(oldID); !a.Deleted() {
		// The old version stays for a later pass, and the pass says so.
		if res.Converged() {
			t.Errorf("old version %d still live but the pass reports success", oldID)
		}
		if got := e.byName()["f.txt"]; len(got) != 2 {
			t.Errorf("%d attachments named f.txt after the failed delete, want 2 (new, old)", len(got))
		}
	}
	res = e.sync(t)
	if !res.Converged() {
		t.Errorf("second pass not converged: %+v", res.Failed)
	}
	e.expectFiles(t, map[string]string{"f.txt": "version two, longer", "g.txt": "other"})
	if a, _ := e.byID(oldID); !a.Deleted() {
		t.Errorf("old version %d never deleted", oldID)
	}
}

func TestAdversarial_ReplacedDeleteFailsLongerThanOnePass(t *testing.T) {
	e := newEngineEnv(t)
	e.write(t, "f.txt", "version one")
	e.sync(t)
	oldID := e.idOf(t, "f.txt")
	e.write(t, "f.txt", "version two, longer")
	e.srv.FailNext(focus.EndpointDelete, 30, 500)
	res := e.sync(t)
	if res.Converged() {
		t.Errorf("every delete failed but the pass reports success")
	}
	if got := e.byName()["f.txt"]; len(got) != 2 {
		t.Fatalf("%d attachments named f.txt, want the new one and the old one", len(got))
	}
	// Another pass, deletes still failing: no new upload.
	from := e.mark()
	e.sync(t)
	if n := e.since(from); n[focus.EndpointCreate]+n[focus.EndpointBulk] != 0 {
		t.Errorf("a pass with the old delete pending uploaded again: %v", n)
	}
	// The queued failures run out after a few more passes.
	for range 20 {
		if a, _ := e.byID(oldID); a.Deleted() {
			break
		}
		e.sync(t)
	}
	e.expectFiles(t, map[string]string{"f.txt": "version two, longer"})
}

// --- 10. lost state over a task holding more than the folder ---

func TestAdversarial_LostStateAdoptsOnlyExactMatches(t *testing.T) {
	e := newEngineEnv(t)
	e.write(t, "a.txt", "alpha")
	e.write(t, "b.txt", "bravo")
	e.write(t, "c.txt", "charlie")
	match := e.put("a.txt", "alpha", 1024)                             // name and size match
	dupOther := e.stored(t, e.put("a.txt", "alpha, but longer", 2048)) // same name, other size
	bOther := e.stored(t, e.put("b.txt", "bravo!!", 3072))             // same name, other size
	hand := e.stored(t, e.put("notes.txt", "by hand", 4096))           // no file
	cMatch := e.put("c.txt", "charl1e", 5120)                          // same name and size, other content

	from := e.mark()
	res := e.sync(t)
	if !res.Converged() {
		t.Errorf("not converged: %+v", res.Failed)
	}
	n := e.since(from)
	if n[focus.EndpointList] != 1 {
		t.Errorf("%d lists, want 1", n[focus.EndpointList])
	}
	if up := n[focus.EndpointCreate] + n[focus.EndpointBulk]; up != 1 {
		t.Errorf("%d uploads, want 1 (b.txt only): %v", up, n)
	}
	if n[focus.EndpointDelete] != 0 {
		t.Errorf("%d deletes after a state loss, want 0", n[focus.EndpointDelete])
	}
	for _, id := range e.writeIDs(t, from) {
		if id != match.ID && id != cMatch.ID {
			t.Errorf("a write named attachment %d, which was neither adopted nor uploaded", id)
		}
	}
	for _, h := range []focustest.Stored{dupOther, bOther, hand} {
		if got, _ := e.byID(h.ID); got.Deleted() || got.Name != h.Name || got.SHA256 != h.SHA256 {
			t.Errorf("attachment %d %q changed or deleted: %+v", h.ID, h.Name, got)
		}
	}
	if a, _ := e.byID(match.ID); a.Deleted() {
		t.Errorf("the matching a.txt %d was deleted instead of adopted", match.ID)
	}
	var bs []focustest.Stored
	for _, a := range e.byName()["b.txt"] {
		if a.ID != bOther.ID {
			bs = append(bs, a)
		}
	}
	if len(bs) != 1 || bs[0].SHA256 != shaOf("bravo") {
		t.Errorf("b.txt uploads = %+v, want one with the file's content", bs)
	}
	// Idle afterwards.
	from = e.mark()
	if res := e.sync(t); res.WriteRequests() != 0 {
		t.Errorf("idle pass sent %v", e.since(from))
	}
}

// --- 11. odd local changes ---

func TestAdversarial_IdenticalFiles(t *testing.T) {
	e := newEngineEnv(t)
	e.write(t, "x.txt", "same bytes")
	e.write(t, "y.txt", "same bytes")
	e.sync(t)
	e.expectFiles(t, map[string]string{"x.txt": "same bytes", "y.txt": "same bytes"})
	yID := e.idOf(t, "y.txt")

	e.rename(t, "x.txt", "z.txt")
	from := e.mark()
	e.sync(t)
	e.expectFiles(t, map[string]string{"y.txt": "same bytes", "z.txt": "same bytes"})
	if e.idOf(t, "y.txt") != yID {
		t.Errorf("y.txt was not touched but its attachment changed")
	}
	if n := e.since(from); n[focus.EndpointUpdate] != 1 || writesOf(n) != 1 {
		t.Errorf("renaming one of two identical files: %v, want one update", n)
	}

	e.remove(t, "y.txt")
	e.sync(t)
	e.expectFiles(t, map[string]string{"z.txt": "same bytes"})
}

func writesOf(n map[focus.Endpoint]int) int {
	return n[focus.EndpointCreate] + n[focus.EndpointBulk] + n[focus.EndpointUpdate] + n[focus.EndpointDelete]
}

// A swap of two names is sent as two new versions, not two renames: renaming in a
// cycle would leave one attachment owned by no record if the process stopped
// between the two requests (see MakePlan). It costs 3 requests, and converges.
func TestAdversarial_SwapNamesUploadsNewVersions(t *testing.T) {
	e := newEngineEnv(t)
	e.write(t, "a.txt", "content A")
	e.write(t, "b.txt", "content B, longer")
	e.sync(t)
	e.rename(t, "a.txt", "tmp")
	e.rename(t, "b.txt", "a.txt")
	e.rename(t, "tmp", "b.txt")
	from := e.mark()
	res := e.sync(t)
	if !res.Converged() {
		t.Errorf("not converged: %+v", res.Failed)
	}
	e.expectFiles(t, map[string]string{"a.txt": "content B, longer", "b.txt": "content A"})
	if n := e.since(from); n[focus.EndpointBulk] != 1 || n[focus.EndpointDelete] != 2 || writesOf(n) != 3 {
		t.Errorf("swapping two names sent %v, want 1 bulk upload and 2 deletes", n)
	}
}

func TestAdversarial_CaseOnlyRenameAndCaseTwins(t *testing.T) {
	e := newEngineEnv(t)
	e.write(t, "Report.txt", "the report")
	e.sync(t)
	id := e.idOf(t, "Report.txt")
	e.rename(t, "Report.txt", "report.txt")
	from := e.mark()
	e.sync(t)
	e.expectFiles(t, map[string]string{"report.txt": "the report"})
	if e.idOf(t, "report.txt") != id {
		t.Errorf("a case-only rename re-uploaded the file")
	}
	if n := e.since(from); writesOf(n) != 1 || n[focus.EndpointUpdate] != 1 {
		t.Errorf("case-only rename: %v, want one update", n)
	}

	// Two files whose names differ only in case both go up, each once.
	e.write(t, "REPORT.txt", "another report")
	e.sync(t)
	e.expectFiles(t, map[string]string{"report.txt": "the report", "REPORT.txt": "another report"})
}

func TestAdversarial_FileReplacedByDirectory(t *testing.T) {
	e := newEngineEnv(t)
	e.folder.Recursive = true
	e.write(t, "keep.txt", "keep")
	e.write(t, "x", "a plain file named x")
	e.sync(t)
	e.remove(t, "x")
	if err := os.Mkdir(filepath.Join(e.folder.Path, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.write(t, "x/inner.txt", "a file inside the directory x")
	res := e.sync(t)
	if !res.Converged() {
		t.Errorf("not converged: %+v", res.Failed)
	}
	e.expectFiles(t, map[string]string{"keep.txt": "keep", "x/inner.txt": "a file inside the directory x"})
}

func TestAdversarial_RenameWhileSettling(t *testing.T) {
	e := newEngineEnv(t)
	e.folder.Settle = 300 * time.Millisecond
	e.write(t, "keep.txt", "keep")
	e.write(t, "draft.txt", "a document that is only renamed")
	// Let the files settle, then sync them.
	testutil.WaitUntil(t, 20*time.Second, "the condition", func() bool { return e.sync(t).Uploaded == 2 || len(e.byName()) == 2 })
	id := e.idOf(t, "draft.txt")
	e.rename(t, "draft.txt", "final.txt")
	from := e.mark()
	// A pass that does not wait: the renamed file is still settling.
	if _, err := e.engine.Sync(context.Background(), e.folder, syncer.PassOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := e.since(from); n[focus.EndpointDelete] != 0 {
		t.Fatalf("the attachment of a file renamed a moment ago was deleted: %v", n)
	}
	testutil.WaitUntil(t, 20*time.Second, "the condition", func() bool {
		e.sync(t)
		return len(e.byName()["final.txt"]) == 1
	})
	e.expectFiles(t, map[string]string{"keep.txt": "keep", "final.txt": "a document that is only renamed"})
	if e.idOf(t, "final.txt") != id {
		t.Errorf("the renamed file was uploaded again")
	}
	if n := e.since(from); writesOf(n) != 1 {
		t.Errorf("a rename while settling cost %v, want one update", n)
	}
}

func TestAdversarial_RefusedNewVersionKeepsOld(t *testing.T) {
	e := newEngineEnv(t)
	e.write(t, "f.txt", "small")
	e.sync(t)
	id := e.idOf(t, "f.txt")
	e.srv.RejectLarger(10)
	e.write(t, "f.txt", "a new version too large for the server")
	res := e.sync(t)
	if len(res.Failed) != 1 {
		t.Errorf("failures = %+v, want f.txt refused", res.Failed)
	}
	if a, _ := e.byID(id); a.Deleted() {
		t.Errorf("the old version was deleted though the new one was refused")
	}
}

func TestAdversarial_AmbiguousDeleteAndRename(t *testing.T) {
	e := newEngineEnv(t)
	e.write(t, "a.txt", "alpha")
	e.write(t, "b.txt", "bravo")
	e.write(t, "c.txt", "charlie")
	e.sync(t)
	e.remove(t, "a.txt")
	e.rename(t, "b.txt", "bb.txt")
	e.srv.DropAfterCommit(focus.EndpointDelete, 1)
	e.srv.DropAfterCommit(focus.EndpointUpdate, 1)
	res := e.sync(t)
	if !res.Converged() {
		t.Errorf("not converged: %+v", res.Failed)
	}
	e.expectFiles(t, map[string]string{"bb.txt": "bravo", "c.txt": "charlie"})
	from := e.mark()
	if res := e.sync(t); res.WriteRequests() != 0 {
		t.Errorf("idle pass sent %v", e.since(from))
	}
}

func TestAdversarial_EmptiedFolderDeletesNothing(t *testing.T) {
	e := newEngineEnv(t)
	for _, n := range []string{"a.txt", "b.txt"} {
		e.write(t, n, n)
	}
	e.sync(t)
	e.remove(t, "a.txt")
	e.remove(t, "b.txt")
	from := e.mark()
	res := e.sync(t)
	if n := e.since(from)[focus.EndpointDelete]; n != 0 {
		t.Errorf("a suddenly empty folder sent %d deletes", n)
	}
	if res.Held == "" && res.Paused == "" {
		t.Errorf("a suddenly empty folder was neither held nor paused")
	}
}

func TestAdversarial_AmbiguousUploadNextToHandMadeTwin(t *testing.T) {
	e := newEngineEnv(t)
	e.write(t, "keep.txt", "keep")
	e.sync(t)
	// A person attaches a document by hand; a moment later a local file with the
	// same name and size (other content) appears, and its upload is dropped after
	// the server stored it.
	hand := e.stored(t, e.put("report.txt", "made by hand!", 9000))
	e.write(t, "report.txt", "local report!")
	e.srv.DropAfterCommit(focus.EndpointCreate, 1)
	res := e.sync(t)
	if !res.Converged() {
		t.Errorf("not converged: %+v", res.Failed)
	}
	var ours []focustest.Stored
	for _, a := range e.byName()["report.txt"] {
		if a.ID != hand.ID {
			ours = append(ours, a)
		}
	}
	if len(ours) != 1 || ours[0].SHA256 != shaOf("local report!") {
		t.Fatalf("report.txt uploads = %+v, want exactly one with the file's content", ours)
	}
	fo, err := e.engine.Store.Load(syncer.FolderKey(e.folder))
	if err != nil {
		t.Fatal(err)
	}
	if got := fo.Files["report.txt"].AttachmentID; got != ours[0].ID {
		t.Errorf("report.txt is recorded as attachment %d, want our upload %d (%d is the hand-made one)", got, ours[0].ID, hand.ID)
	}
	// The file's removal must delete our upload, never the hand-made twin.
	e.remove(t, "report.txt")
	e.sync(t)
	e.expectFiles(t, map[string]string{"keep.txt": "keep"}, hand)
}

func TestAdversarial_OverwriteByRename(t *testing.T) {
	e := newEngineEnv(t)
	e.write(t, "a.txt", "the newer draft")
	e.write(t, "b.txt", "the old final version")
	e.sync(t)
	aID := e.idOf(t, "a.txt")
	e.rename(t, "a.txt", "b.txt") // mv a.txt b.txt over the old one
	from := e.mark()
	res := e.sync(t)
	if !res.Converged() {
		t.Errorf("not converged: %+v", res.Failed)
	}
	e.expectFiles(t, map[string]string{"b.txt": "the newer draft"})
	n := e.since(from)
	if n[focus.EndpointCreate]+n[focus.EndpointBulk] != 0 || writesOf(n) != 2 {
		t.Errorf("mv a.txt b.txt cost %v, want 2 writes: rename a's attachment, delete b's (no upload)", n)
	}
	if e.idOf(t, "b.txt") != aID {
		t.Errorf("b.txt's content was uploaded again instead of renaming a.txt's attachment")
	}
}

func TestAdversarial_GrowsPastMaxFileSizeKeepsAttachment(t *testing.T) {
	e := newEngineEnv(t)
	e.folder.MaxFileSize = 10
	e.write(t, "f.txt", "small")
	e.write(t, "g.txt", "other")
	e.sync(t)
	id := e.idOf(t, "f.txt")
	e.write(t, "f.txt", "now far larger than ten bytes")
	from := e.mark()
	e.sync(t)
	if n := e.since(from); writesOf(n) != 0 {
		t.Errorf("a file grown past max_file_size caused writes: %v", n)
	}
	if a, _ := e.byID(id); a.Deleted() {
		t.Errorf("the attachment of a file grown past max_file_size was deleted")
	}
}

func TestAdversarial_ChangeAfterHandDeleteOfOld(t *testing.T) {
	e := newEngineEnv(t)
	e.write(t, "f.txt", "one")
	e.sync(t)
	if err := e.client(t).Delete(context.Background(), e.folder.Task(), e.idOf(t, "f.txt")); err != nil {
		t.Fatal(err)
	}
	e.write(t, "f.txt", "two, longer")
	res := e.sync(t)
	if !res.Converged() {
		t.Errorf("the old version already gone must not fail the pass: %+v", res.Failed)
	}
	e.expectFiles(t, map[string]string{"f.txt": "two, longer"})
}

func TestAdversarial_PendingOldDeleteThenFileRemoved(t *testing.T) {
	e := newEngineEnv(t)
	e.write(t, "f.txt", "version one")
	e.write(t, "g.txt", "g")
	e.write(t, "h.txt", "h")
	e.sync(t)
	e.write(t, "f.txt", "version two, longer")
	e.srv.FailNext(focus.EndpointDelete, 12, 500)
	e.sync(t)
	e.remove(t, "f.txt")
	for range 10 {
		if e.sync(t).Converged() {
			break
		}
	}
	e.expectFiles(t, map[string]string{"g.txt": "g", "h.txt": "h"})
}

func TestAdversarial_VerifyDoesNotAdoptHandMadeForNewFile(t *testing.T) {
	e := newEngineEnv(t)
	e.folder.Verify = 24 * time.Hour
	e.write(t, "keep.txt", "keep")
	e.sync(t)
	// Long after the first run, a person attaches notes.txt by hand; later a local
	// notes.txt of the same size but other content appears, on a verifying pass.
	hand := e.stored(t, e.put("notes.txt", "hand-written", 9000))
	e.write(t, "notes.txt", "local notes!")
	e.ageVerify(t)
	e.sync(t)
	var ours []focustest.Stored
	for _, a := range e.byName()["notes.txt"] {
		if a.ID != hand.ID {
			ours = append(ours, a)
		}
	}
	if len(ours) != 1 || ours[0].SHA256 != shaOf("local notes!") {
		t.Errorf("the local notes.txt never reached Focus: uploads %+v (the hand-made %d was taken for it)", ours, hand.ID)
	}
	e.remove(t, "notes.txt")
	e.sync(t)
	if a, _ := e.byID(hand.ID); a.Deleted() {
		t.Errorf("removing the local notes.txt deleted the hand-made attachment %d", hand.ID)
	}
}

// newQuotaEngineEnv is newEngineEnv over an emulator with a request quota.
func newQuotaEngineEnv(t *testing.T, quota int, window time.Duration) *engineEnv {
	t.Helper()
	return newEngineEnvWith(t, focustest.Options{Quota: quota, Window: window})
}

func TestAdversarial_InterruptedDeleteOfRestoredFile(t *testing.T) {
	e := newQuotaEngineEnv(t, 3, 3*time.Second)
	e.write(t, "a.txt", "alpha")
	e.write(t, "b.txt", "bravo")
	e.write(t, "c.txt", "charlie")
	e.sync(t) // a list and a bulk: one request left in this window
	bID := e.idOf(t, "b.txt")

	// a.txt and b.txt are removed; the second delete waits for the quota to reset
	// and the daemon is stopped meanwhile.
	e.remove(t, "a.txt")
	e.remove(t, "b.txt")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.engine.Sync(ctx, e.folder, syncer.PassOptions{})
		done <- err
	}()
	testutil.WaitUntil(t, 20*time.Second, "the condition", func() bool { return e.since(0)[focus.EndpointDelete] == 1 })
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the pass ended before it was cancelled: the delete of b.txt was not interrupted")
	}
	// The person restores b.txt before focussync starts again.
	e.write(t, "b.txt", "bravo")
	res := e.sync(t)
	if !res.Converged() {
		t.Errorf("not converged: %+v", res.Failed)
	}
	e.expectFiles(t, map[string]string{"b.txt": "bravo", "c.txt": "charlie"})
	if a, _ := e.byID(bID); a.Deleted() {
		t.Errorf("b.txt's attachment %d was deleted after the file came back", bID)
	}
}

// names returns the live attachments' names in display order.
func (e *engineEnv) names() []string {
	var n []string
	for _, a := range e.srv.Attachments(e.folder.TaskID) {
		n = append(n, a.Name)
	}
	return n
}

func TestAdversarial_InsertionsExhaustGaps(t *testing.T) {
	// Each new name sorts right next to the previous one: in natural order, more
	// leading zeros come after.
	for _, tc := range []struct {
		where      string
		originals  []string
		insert     func(k int) string
		maxUpdates int
	}{
		// In the middle, each insertion halves the gap after m.txt (1024 wide):
		// 16 halvings need a few renumberings, never many.
		{"middle", []string{"m.txt", "z.txt"}, func(k int) string { return "m" + strings.Repeat("0", k) + "1.txt" }, 12},
		// At the front of a 20-file task, each new file first ...
		{"front, each first", twenty(), func(k int) string { return fmt.Sprintf("a%02d.txt", 16-k) }, 2},
		// ... or each right after the previous insertion, still before the rest.
		{"front, each after the last", twenty(), func(k int) string { return strings.Repeat("0", k) + "1.txt" }, 2},
	} {
		t.Run(tc.where, func(t *testing.T) {
			e := newEngineEnv(t)
			for _, n := range tc.originals {
				e.write(t, n, n)
			}
			e.sync(t)
			uploads, updates := 0, 0
			for k := range 16 {
				name := tc.insert(k)
				e.write(t, name, "inserted "+name)
				from := e.mark()
				res := e.sync(t)
				if !res.Converged() {
					t.Fatalf("insert %s: %+v", name, res.Failed)
				}
				n := e.since(from)
				uploads += n[focus.EndpointCreate] + n[focus.EndpointBulk]
				updates += n[focus.EndpointUpdate]
				got := e.names()
				want := slices.Clone(got)
				slices.SortStableFunc(want, syncer.CompareNames)
				if !slices.Equal(got, want) {
					t.Fatalf("after inserting %s the order is %v, want %v", name, got, want)
				}
			}
			if uploads != 16 {
				t.Errorf("%d uploads for 16 insertions, want 16", uploads)
			}
			if updates > tc.maxUpdates {
				t.Errorf("%d reorders for 16 insertions, want at most %d", updates, tc.maxUpdates)
			}
			for _, a := range e.srv.Attachments(e.folder.TaskID) {
				if a.DisplayOrder <= 0 {
					t.Errorf("attachment %s got a display order %d, not positive", a.Name, a.DisplayOrder)
				}
			}
		})
	}
}

// twenty returns the names of a 20-file task: f01.txt to f20.txt.
func twenty() []string {
	var n []string
	for i := 1; i <= 20; i++ {
		n = append(n, fmt.Sprintf("f%02d.txt", i))
	}
	return n
}

// A first run over a task that holds a file while the file is still settling:
// the listing made then cannot adopt it, so the task is listed again once it has
// settled, and the file is adopted, not uploaded a second time.
func TestAdversarial_FirstRunAdoptsAFileThatWasSettling(t *testing.T) {
	e := newEngineEnv(t)
	e.folder.Settle = 300 * time.Millisecond
	e.write(t, "a.txt", "alpha") // settling for 300ms from now
	e.put("a.txt", "alpha", 1024)
	from := e.mark()
	res := e.sync(t)
	n := e.since(from)
	if up := n[focus.EndpointCreate] + n[focus.EndpointBulk]; up != 0 || !res.Converged() {
		t.Errorf("%d uploads (requests %v), converged %v; want the attachment adopted, no upload", up, n, res.Converged())
	}
	if got := len(e.srv.Attachments(3)); got != 1 {
		t.Errorf("%d attachments, want 1", got)
	}
	// Settled and listed: nothing more to send.
	from = e.mark()
	e.sync(t)
	if n := e.since(from); len(n) != 0 {
		t.Errorf("a second pass sent %v, want nothing", n)
	}
}
