package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/state"
)

// TestSync_NonUTF8NamesStayDistinct: names that are not UTF-8, and names that
// look like their escaped form, all get distinct, readable remote names; a
// second sync sends nothing.
func TestSync_NonUTF8NamesStayDistinct(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	files := map[string]string{
		"bad\xff\xfe.txt": "one",
		"bad\xff\xfd.txt": "two",
		`bad\xff\xfe.txt`: "a literal backslash name",
		"caf\xe9.txt":     "latin-1",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(e.folder, name), []byte(content), 0o644); err != nil {
			t.Skipf("this filesystem refuses the name %q: %v", name, err)
		}
	}
	e.sync()
	e.assertMirrors()
	want := []string{`bad\\xff\\xfe.txt`, `bad\xff\xfd.txt`, `bad\xff\xfe.txt`, `caf\xe9.txt`}
	if got := sortedCopy(e.names()); !slices.Equal(got, want) {
		t.Errorf("names = %q, want %q", got, want)
	}
	m := e.mark()
	e.sync()
	if n := len(e.srv.Requests()) - m; n != 0 {
		t.Errorf("a second sync sent %d requests, want 0", n)
	}
}

// TestSync_OldReplacementNamesAreRenamed: a state db and task from a version that
// wrote U+FFFD for bytes that are not UTF-8 get the new names by one rename per
// file, with no upload and no delete.
func TestSync_OldReplacementNamesAreRenamed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	names := []string{"r\xe9sum\xe9.txt", "plain.txt", "x\xff.txt"}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(e.folder, n), []byte("content of "+n), 0o644); err != nil {
			t.Skipf("this filesystem refuses the name %q: %v", n, err)
		}
	}
	e.sync()

	// What the older version left: U+FFFD names in the state db and in Focus.
	old := func(n string) string { return strings.ToValidUTF8(n, "\uFFFD") }
	client, err := focus.New(focus.Options{BaseURL: e.srv.URL, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	task := focus.Task{OrganizationID: testOrg, WorkspaceID: testWS, TaskID: e.task}
	st, err := state.Open(e.state, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key := state.FolderKey{Path: e.folder, TaskID: e.task}
	f, err := st.Load(key)
	if err != nil {
		t.Fatal(err)
	}
	var c state.Change
	for _, r := range f.Files {
		r.RemoteName = old(r.Path)
		c.Put = append(c.Put, r)
		if err := client.Update(context.Background(), task, r.AttachmentID, r.RemoteName, r.DisplayOrder); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Commit(key, c); err != nil {
		t.Fatal(err)
	}
	st.Close()

	m := e.mark()
	e.sync()
	got := e.requests(m)
	if got[focus.EndpointUpdate] != 2 || writes(got) != 2 {
		t.Errorf("requests %v, want 2 updates (one per renamed file) and no other write", got)
	}
	e.assertMirrors()
}
