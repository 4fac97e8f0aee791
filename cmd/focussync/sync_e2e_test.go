package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/focussync/focussync/focus"
)

func TestSync_InitialThenIdle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeN(25, "f")

	r := e.sync()
	got := e.requests(0)
	if got[focus.EndpointBulk]+got[focus.EndpointCreate] != 3 {
		t.Errorf("upload requests = %v, want 3 (ceil(25/10))", got)
	}
	if got[focus.EndpointUpdate]+got[focus.EndpointDelete] != 0 {
		t.Errorf("requests = %v, want no update or delete", got)
	}
	if !strings.Contains(r.stdout, "uploaded 25") {
		t.Errorf("summary does not say 25 uploads:\n%s", r.stdout)
	}
	e.assertMirrors()
	names := e.names()
	if !slices.Equal(names, sortedCopy(names)) {
		t.Errorf("display order is not the name order: %v", names)
	}

	m := e.mark()
	e.sync()
	if n := len(e.srv.Requests()) - m; n != 0 {
		t.Errorf("second sync sent %d requests (%v), want 0", n, e.requests(m))
	}
}

func TestSync_DryRunSendsNoWrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeN(12, "d")
	r := e.sync("--dry-run")
	if w := writes(e.requests(0)); w != 0 {
		t.Fatalf("dry run sent %d writes", w)
	}
	if len(e.attachments()) != 0 {
		t.Fatalf("dry run created attachments")
	}
	if !strings.Contains(r.stdout, "cost: 2 write request(s)") {
		t.Errorf("dry run does not print the cost of 2 uploads:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "d011.txt") {
		t.Errorf("dry run does not name the files:\n%s", r.stdout)
	}
	// After a real sync, a dry run of a rename shows the one update.
	e.sync()
	if err := os.Rename(filepath.Join(e.folder, "d000.txt"), filepath.Join(e.folder, "zz.txt")); err != nil {
		t.Fatal(err)
	}
	m := e.mark()
	r = e.sync("--dry-run")
	if w := writes(e.requests(m)); w != 0 {
		t.Fatalf("dry run sent %d writes", w)
	}
	if !strings.Contains(r.stdout, "rename  d000.txt -> zz.txt") || !strings.Contains(r.stdout, "cost: 1 write") {
		t.Errorf("dry run of a rename:\n%s", r.stdout)
	}
}

func TestSync_RenameIsOneUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeN(5, "r")
	e.sync()
	before := e.attachments()

	if err := os.Rename(filepath.Join(e.folder, "r002.txt"), filepath.Join(e.folder, "renamed.txt")); err != nil {
		t.Fatal(err)
	}
	m := e.mark()
	e.sync()
	got := e.requests(m)
	if got[focus.EndpointUpdate] != 1 || writes(got) != 1 {
		t.Errorf("rename sent %v, want exactly 1 update", got)
	}
	e.assertMirrors()
	// The same attachment was renamed: no new id.
	ids := map[int64]bool{}
	for _, a := range before {
		ids[a.ID] = true
	}
	for _, a := range e.attachments() {
		if !ids[a.ID] {
			t.Errorf("attachment %s is new (id %d): a rename must not upload", a.Name, a.ID)
		}
	}
}

func TestSync_ContentChangeUploadsThenDeletesOld(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeN(3, "c")
	e.sync()
	old := e.attachments()[1]

	e.write("c001.txt", "a new version, longer than before\n")
	m := e.mark()
	e.sync()
	got := e.requests(m)
	if got[focus.EndpointCreate]+got[focus.EndpointBulk] != 1 || got[focus.EndpointDelete] != 1 || writes(got) != 2 {
		t.Errorf("content change sent %v, want 1 upload and 1 delete", got)
	}
	// The upload came before the delete.
	var order []focus.Endpoint
	for _, r := range e.srv.Requests()[m:] {
		order = append(order, r.Endpoint)
	}
	if i, j := slices.Index(order, focus.EndpointCreate), slices.Index(order, focus.EndpointDelete); i < 0 || j < i {
		t.Errorf("request order %v: the new version must go up before the old is deleted", order)
	}
	e.assertMirrors()
	names := e.names()
	if !slices.Equal(names, []string{"c000.txt", "c001.txt", "c002.txt"}) {
		t.Errorf("order after content change = %v", names)
	}
	for _, a := range e.attachments() {
		if a.ID == old.ID {
			t.Errorf("old version %d still live", old.ID)
		}
	}
}

func TestSync_DeleteRemovesAttachment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeN(4, "x")
	e.sync()
	if err := os.Remove(filepath.Join(e.folder, "x003.txt")); err != nil {
		t.Fatal(err)
	}
	m := e.mark()
	e.sync()
	if got := e.requests(m); got[focus.EndpointDelete] != 1 || writes(got) != 1 {
		t.Errorf("delete sent %v, want 1 delete", got)
	}
	e.assertMirrors()
}

func TestSync_InsertBetweenCostsNoUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, n := range []string{"a.txt", "c.txt", "e.txt"} {
		e.write(n, "x "+n)
	}
	e.sync()
	e.write("b.txt", "new b")
	e.write("d.txt", "new d")
	m := e.mark()
	e.sync()
	got := e.requests(m)
	if got[focus.EndpointUpdate] != 0 || got[focus.EndpointCreate]+got[focus.EndpointBulk] != 1 || writes(got) != 1 {
		t.Errorf("insert sent %v, want 1 upload and no update", got)
	}
	if names := e.names(); !slices.Equal(names, []string{"a.txt", "b.txt", "c.txt", "d.txt", "e.txt"}) {
		t.Errorf("display order = %v", names)
	}
}

func TestSync_AdoptsAfterStateLoss(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeN(15, "s")
	// A file attached by hand, that is not in the folder: never touched.
	hand := e.srv.Put(testOrg, testWS, e.task, "by-hand.pdf", []byte("manual"), 5)
	e.sync()
	if err := os.Remove(e.state); err != nil {
		t.Fatal(err)
	}
	m := e.mark()
	r := e.sync()
	got := e.requests(m)
	if got[focus.EndpointList] != 1 || writes(got) != 0 {
		t.Errorf("after state loss: %v, want 1 list and no write", got)
	}
	if !strings.Contains(r.stdout, "adopted 15") {
		t.Errorf("summary does not report adoption:\n%s", r.stdout)
	}
	found := false
	for _, a := range e.attachments() {
		if a.ID == hand.ID {
			found = true
		}
	}
	if !found {
		t.Errorf("the attachment made by hand was removed")
	}
	// Removing a file deletes its adopted attachment, and only that.
	os.Remove(filepath.Join(e.folder, "s000.txt"))
	m = e.mark()
	e.sync()
	if got := e.requests(m); got[focus.EndpointDelete] != 1 || writes(got) != 1 {
		t.Errorf("delete after adoption sent %v", got)
	}
	if len(e.attachments()) != 15 { // 14 files + by-hand.pdf
		t.Errorf("attachments = %d, want 15", len(e.attachments()))
	}
}

func TestSync_OddFiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.write("caf\xe9 menu.txt", "latin-1 name")
	e.write("empty.txt", "")
	e.write("ünïcødé €.txt", "utf-8 name")
	e.write("~$lock.docx", "office lock file: ignored")
	e.write(".hidden", "dotfile: ignored")
	e.sync()
	e.assertMirrors()
	if !e.attachmentNamed(`caf\xe9 menu.txt`) {
		t.Errorf("the non-UTF-8 name is not shown with its byte escaped: %v", e.names())
	}
	if len(e.attachments()) != 3 {
		t.Errorf("attachments = %v, want 3 (temporary and dotfiles ignored)", e.names())
	}
	m := e.mark()
	e.sync()
	if n := len(e.srv.Requests()) - m; n != 0 {
		t.Errorf("idle sync after odd names sent %d requests", n)
	}
	if err := os.Rename(filepath.Join(e.folder, "caf\xe9 menu.txt"), filepath.Join(e.folder, "menu.txt")); err != nil {
		t.Fatal(err)
	}
	m = e.mark()
	e.sync()
	if got := e.requests(m); got[focus.EndpointUpdate] != 1 || writes(got) != 1 {
		t.Errorf("rename of a non-UTF-8 name sent %v", got)
	}
	e.assertMirrors()
}

func TestSync_RenameJustMadeIsOneUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFolderTOML(`settle = "1s"`))
	e.writeN(3, "n")
	e.sync()
	// Renamed a moment before the sync: the file is still settling (a rename
	// changes its ctime). The sync waits for it rather than deleting and uploading.
	if err := os.Rename(filepath.Join(e.folder, "n001.txt"), filepath.Join(e.folder, "moved.txt")); err != nil {
		t.Fatal(err)
	}
	m := e.mark()
	e.sync()
	if got := e.requests(m); got[focus.EndpointUpdate] != 1 || writes(got) != 1 {
		t.Errorf("a fresh rename sent %v, want exactly 1 update", got)
	}
	e.assertMirrors()
}
