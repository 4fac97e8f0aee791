package state

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// mustOpen opens a read-write store at path and closes it when the test ends.
func mustOpen(tb testing.TB, path string) *Store {
	tb.Helper()
	s, err := Open(path, Options{Timeout: 5 * time.Second})
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func mustLoad(tb testing.TB, s *Store, k FolderKey) *Folder {
	tb.Helper()
	f, err := s.Load(k)
	if err != nil {
		tb.Fatalf("Load(%v): %v", k, err)
	}
	return f
}

func mustCommit(tb testing.TB, s *Store, k FolderKey, c Change) {
	tb.Helper()
	if err := s.Commit(k, c); err != nil {
		tb.Fatalf("Commit(%v): %v", k, err)
	}
}

// at returns a fixed time in UTC, as the store gives back UTC times.
func at(sec int64) time.Time { return time.Unix(1_700_000_000+sec, 123456789).UTC() }

func sampleRecord(path string, id int64) FileRecord {
	return FileRecord{
		Path:         path,
		Size:         1234,
		ModTime:      at(1),
		Inode:        987654321,
		Hash:         strings.Repeat("ab", 32),
		AttachmentID: id,
		RemoteName:   filepath.Base(path),
		DisplayOrder: 2048,
	}
}

var folderA = FolderKey{Path: "/srv/share/acme", TaskID: 101}

func TestStore_RoundTrip(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "state.db"))

	recs := []FileRecord{
		sampleRecord("a.txt", 1),
		sampleRecord("sub/b.pdf", 2),
		{Path: "refused.bin", Size: 7, Refused: &Refusal{Hash: "ff00", LastError: "400 bad file", Attempts: 3}},
		{Path: "adopted.doc", Size: 9, AttachmentID: 4, RemoteName: "adopted.doc"}, // zero times, no hash
	}
	meta := Meta{Device: 42, Listed: true, LastPass: at(10), LastVerify: at(11), LastError: "none"}
	mustCommit(t, s, folderA, Change{Put: recs, Meta: &meta})

	intents := []*Intent{
		{Op: IntentCreate, Started: at(20), Files: []IntentFile{
			{Path: "c.txt", Name: "c.txt", Size: 3, Hash: "cc", ModTime: at(3), Inode: 5, DisplayOrder: 1024},
			{Path: "a.txt", Name: "a.txt", Size: 4, Hash: "dd", ModTime: at(4), Inode: 6, DisplayOrder: 2048, Replaces: 1},
		}},
		{Op: IntentUpdate, Started: at(21), AttachmentID: 2, Name: "b.pdf", DisplayOrder: 512},
		{Op: IntentDelete, AttachmentID: 4}, // Started left zero: the store sets it
	}
	before := time.Now()
	for _, in := range intents {
		if err := s.BeginIntent(folderA, in); err != nil {
			t.Fatalf("BeginIntent: %v", err)
		}
	}
	if intents[2].Started.Before(before) {
		t.Errorf("Started = %v, want set to now (after %v)", intents[2].Started, before)
	}

	got := mustLoad(t, s, folderA)
	if got.Key != folderA {
		t.Errorf("Key = %v, want %v", got.Key, folderA)
	}
	if len(got.Files) != len(recs) {
		t.Fatalf("got %d files, want %d", len(got.Files), len(recs))
	}
	for _, want := range recs {
		if r := got.Files[want.Path]; !reflect.DeepEqual(r, want) {
			t.Errorf("record %q:\n got %+v\nwant %+v", want.Path, r, want)
		}
	}
	if !reflect.DeepEqual(got.Meta, meta) {
		t.Errorf("meta:\n got %+v\nwant %+v", got.Meta, meta)
	}
	if len(got.Intents) != len(intents) {
		t.Fatalf("got %d intents, want %d", len(got.Intents), len(intents))
	}
	for i, want := range intents {
		g := got.Intents[i]
		if !g.Started.Equal(want.Started) {
			t.Errorf("intent %d Started = %v, want %v", i, g.Started, want.Started)
		}
		w := *want
		g.Started, w.Started = time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("intent %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestStore_LoadUnknownFolder(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "state.db"))
	f := mustLoad(t, s, FolderKey{Path: "/nowhere", TaskID: 1})
	if f.Files == nil {
		t.Fatal("Files is nil, want an empty map")
	}
	if len(f.Files) != 0 || len(f.Intents) != 0 || f.Meta != (Meta{}) {
		t.Errorf("got %+v, want an empty folder", f)
	}
	keys, err := s.Folders()
	if err != nil || len(keys) != 0 {
		t.Errorf("Folders() = %v, %v; want none (Load must not create anything)", keys, err)
	}
}

func TestStore_Commit(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "state.db"))
	mustCommit(t, s, folderA, Change{Put: []FileRecord{
		sampleRecord("keep.txt", 1), sampleRecord("old.txt", 2), sampleRecord("gone.txt", 3),
	}})
	in1 := &Intent{Op: IntentUpdate, AttachmentID: 2, Name: "new.txt"}
	in2 := &Intent{Op: IntentDelete, AttachmentID: 3}
	in3 := &Intent{Op: IntentCreate, Files: []IntentFile{{Path: "x", Name: "x"}}}
	for _, in := range []*Intent{in1, in2, in3} {
		if err := s.BeginIntent(folderA, in); err != nil {
			t.Fatalf("BeginIntent: %v", err)
		}
	}
	if !(in1.ID < in2.ID && in2.ID < in3.ID) {
		t.Fatalf("intent ids %d, %d, %d not increasing", in1.ID, in2.ID, in3.ID)
	}

	t.Run("all applied together", func(t *testing.T) {
		renamed := sampleRecord("new.txt", 2)
		meta := Meta{Listed: true}
		mustCommit(t, s, folderA, Change{
			Put:        []FileRecord{renamed},
			Delete:     []string{"old.txt", "gone.txt", "never-there.txt"},
			Meta:       &meta,
			EndIntents: []uint64{in1.ID, in2.ID, 999999}, // an unknown id is ignored
		})
		f := mustLoad(t, s, folderA)
		if got := sortedPaths(f.Files); !reflect.DeepEqual(got, []string{"keep.txt", "new.txt"}) {
			t.Errorf("paths = %q, want [keep.txt new.txt]", got)
		}
		if len(f.Intents) != 1 || f.Intents[0].ID != in3.ID {
			t.Errorf("intents = %+v, want only %d", f.Intents, in3.ID)
		}
		if !f.Meta.Listed {
			t.Error("meta not written")
		}
	})

	t.Run("put wins over delete of the same path", func(t *testing.T) {
		r := sampleRecord("keep.txt", 77)
		mustCommit(t, s, folderA, Change{Delete: []string{"keep.txt"}, Put: []FileRecord{r}})
		if got := mustLoad(t, s, folderA).Files["keep.txt"].AttachmentID; got != 77 {
			t.Errorf("AttachmentID = %d, want 77", got)
		}
	})

	t.Run("a failing change writes nothing", func(t *testing.T) {
		before := mustLoad(t, s, folderA)
		meta := Meta{LastError: "should not be stored"}
		tooLong := strings.Repeat("x", 40000) // over bbolt's maximum key size
		err := s.Commit(folderA, Change{
			Put:        []FileRecord{sampleRecord("fresh.txt", 5), sampleRecord(tooLong, 6)},
			Delete:     []string{"keep.txt"},
			Meta:       &meta,
			EndIntents: []uint64{in3.ID},
		})
		if err == nil {
			t.Fatal("Commit with an oversized key succeeded, want an error")
		}
		after := mustLoad(t, s, folderA)
		if !reflect.DeepEqual(after, before) {
			t.Errorf("folder changed by a failed commit:\n got %+v\nwant %+v", after, before)
		}
	})

	t.Run("empty path refused", func(t *testing.T) {
		if err := s.Commit(folderA, Change{Put: []FileRecord{{Path: ""}}}); err == nil {
			t.Error("Commit of a record with an empty path succeeded")
		}
	})
}

func TestStore_BeginIntentDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := &Intent{Op: IntentCreate, Files: []IntentFile{{Path: "a", Name: "a", Size: 1, Hash: "h"}}}
	if err := s.BeginIntent(folderA, in); err != nil {
		t.Fatalf("BeginIntent: %v", err)
	}
	if in.ID == 0 {
		t.Fatal("ID not assigned")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, path)
	f := mustLoad(t, s, folderA)
	if len(f.Intents) != 1 || f.Intents[0].ID != in.ID || f.Intents[0].Files[0].Hash != "h" {
		t.Fatalf("after reopen intents = %+v, want intent %d", f.Intents, in.ID)
	}
	// Ids keep increasing across reopen.
	next := &Intent{Op: IntentDelete, AttachmentID: 1}
	if err := s.BeginIntent(folderA, next); err != nil {
		t.Fatal(err)
	}
	if next.ID <= in.ID {
		t.Errorf("next ID %d, want > %d", next.ID, in.ID)
	}
}

func TestStore_FolderIsolation(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "state.db"))
	k1 := FolderKey{Path: "/data/x", TaskID: 1}
	k2 := FolderKey{Path: "/data/x", TaskID: 2}
	k3 := FolderKey{Path: "/data/x2", TaskID: 1}
	k4 := FolderKey{Path: "/data/neg", TaskID: -5}
	mustCommit(t, s, k1, Change{Put: []FileRecord{sampleRecord("one", 1)}})
	mustCommit(t, s, k2, Change{Put: []FileRecord{sampleRecord("two", 2)}})
	mustCommit(t, s, k3, Change{Put: []FileRecord{sampleRecord("three", 3)}})
	mustCommit(t, s, k4, Change{Meta: &Meta{Device: 1}})
	if err := s.BeginIntent(k2, &Intent{Op: IntentDelete}); err != nil {
		t.Fatal(err)
	}

	for k, want := range map[FolderKey][]string{k1: {"one"}, k2: {"two"}, k3: {"three"}, k4: {}} {
		f := mustLoad(t, s, k)
		if got := sortedPaths(f.Files); !reflect.DeepEqual(got, want) {
			t.Errorf("%v paths = %q, want %q", k, got, want)
		}
	}
	if n := len(mustLoad(t, s, k1).Intents); n != 0 {
		t.Errorf("k1 has %d intents, want 0 (the intent belongs to k2)", n)
	}

	keys, err := s.Folders()
	if err != nil {
		t.Fatal(err)
	}
	if !sameKeys(keys, []FolderKey{k1, k2, k3, k4}) {
		t.Errorf("Folders() = %v, want %v", keys, []FolderKey{k1, k2, k3, k4})
	}

	if err := s.DropFolder(k2); err != nil {
		t.Fatalf("DropFolder: %v", err)
	}
	if err := s.DropFolder(k2); err != nil {
		t.Errorf("second DropFolder: %v, want nil", err)
	}
	if f := mustLoad(t, s, k2); len(f.Files) != 0 || len(f.Intents) != 0 {
		t.Errorf("after DropFolder k2 = %+v, want empty", f)
	}
	if f := mustLoad(t, s, k1); len(f.Files) != 1 {
		t.Errorf("DropFolder(k2) touched k1: %+v", f)
	}
	keys, err = s.Folders()
	if err != nil {
		t.Fatal(err)
	}
	if !sameKeys(keys, []FolderKey{k1, k3, k4}) {
		t.Errorf("Folders() after drop = %v, want %v", keys, []FolderKey{k1, k3, k4})
	}

	// A folder whose last record is deleted is no longer listed.
	mustCommit(t, s, k3, Change{Delete: []string{"three"}})
	keys, _ = s.Folders()
	if !sameKeys(keys, []FolderKey{k1, k4}) {
		t.Errorf("Folders() after emptying k3 = %v, want %v", keys, []FolderKey{k1, k4})
	}
}

func TestStore_BadKeys(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "state.db"))
	for _, k := range []FolderKey{{Path: "", TaskID: 1}, {Path: "/a\x00b", TaskID: 1}} {
		if _, err := s.Load(k); err == nil {
			t.Errorf("Load(%v) succeeded, want an error", k)
		}
		if err := s.Commit(k, Change{Meta: &Meta{}}); err == nil {
			t.Errorf("Commit(%v) succeeded, want an error", k)
		}
		if err := s.BeginIntent(k, &Intent{Op: IntentDelete}); err == nil {
			t.Errorf("BeginIntent(%v) succeeded, want an error", k)
		}
	}
}

func TestStore_NonUTF8(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	k := FolderKey{Path: "/srv/d\xe9p\xf4t", TaskID: 9}
	latin1 := "caf\xe9.txt"
	ff := "dir\xff/na\xffme\x80"
	r1 := sampleRecord(latin1, 1)
	r1.RemoteName = latin1
	r2 := sampleRecord(ff, 2)
	r2.RemoteName = "na\xffme\x80"
	r2.Refused = &Refusal{Hash: "cd", LastError: "bad byte \xfe"}
	mustCommit(t, s, k, Change{Put: []FileRecord{r1, r2}})
	in := &Intent{Op: IntentCreate, Files: []IntentFile{{Path: ff, Name: "na\xffme\x80"}}}
	if err := s.BeginIntent(k, in); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, path)
	keys, err := s.Folders()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != k {
		t.Fatalf("Folders() = %q, want [%q]", keys, k)
	}
	f := mustLoad(t, s, k)
	for _, want := range []FileRecord{r1, r2} {
		got, ok := f.Files[want.Path]
		if !ok {
			t.Errorf("path %q missing; have %q", want.Path, sortedPaths(f.Files))
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("record %q:\n got %+v\nwant %+v", want.Path, got, want)
		}
	}
	if len(f.Intents) != 1 || f.Intents[0].Files[0].Path != ff || f.Intents[0].Files[0].Name != "na\xffme\x80" {
		t.Errorf("intent = %+v, want path %q", f.Intents, ff)
	}
	// The UTF-8 spelling of the same name is another path.
	if _, ok := f.Files["café.txt"]; ok {
		t.Error("UTF-8 \"café.txt\" found; the Latin-1 bytes were converted")
	}
}

func TestStore_Stats(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "state.db"))
	if st, err := s.Stats(folderA); err != nil || st != (FolderStats{}) {
		t.Errorf("Stats of an unknown folder = %+v, %v; want zero", st, err)
	}
	refusedManaged := sampleRecord("c", 3)
	refusedManaged.Refused = &Refusal{Hash: "beef"}
	meta := Meta{Device: 7, LastPass: at(5)}
	mustCommit(t, s, folderA, Change{Meta: &meta, Put: []FileRecord{
		sampleRecord("a", 1), sampleRecord("b", 2), refusedManaged,
		{Path: "d", Refused: &Refusal{Hash: "dead"}}, {Path: "e"},
	}})
	if err := s.BeginIntent(folderA, &Intent{Op: IntentDelete, AttachmentID: 1}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(folderA)
	if err != nil {
		t.Fatal(err)
	}
	want := FolderStats{Files: 5, Managed: 3, Refused: 2, OpenIntents: 1, Meta: meta}
	if st != want {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
}

func sortedPaths(m map[string]FileRecord) []string {
	out := make([]string, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func sameKeys(got, want []FolderKey) bool {
	if len(got) != len(want) {
		return false
	}
	seen := make(map[FolderKey]int)
	for _, k := range got {
		seen[k]++
	}
	for _, k := range want {
		if seen[k] != 1 {
			return false
		}
	}
	return true
}

// Loaded values must not point into bbolt's memory map, which Close unmaps.
func TestStore_LoadCopiesOutOfTx(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := sampleRecord("dir/a.txt", 1)
	meta := Meta{LastError: "last"}
	mustCommit(t, s, folderA, Change{Put: []FileRecord{rec}, Meta: &meta})
	in := &Intent{Op: IntentCreate, Name: "n", Files: []IntentFile{{Path: "p", Name: "q", Hash: "h"}}}
	if err := s.BeginIntent(folderA, in); err != nil {
		t.Fatal(err)
	}
	f := mustLoad(t, s, folderA)
	keys, err := s.Folders()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Touch every string after the map is gone.
	if got := f.Files[rec.Path]; !reflect.DeepEqual(got, rec) {
		t.Errorf("record after Close = %+v, want %+v", got, rec)
	}
	if f.Meta.LastError != "last" || f.Intents[0].Files[0].Hash != "h" || f.Intents[0].Name != "n" {
		t.Errorf("meta or intent after Close: %+v %+v", f.Meta, f.Intents)
	}
	if len(keys) != 1 || keys[0] != folderA {
		t.Errorf("Folders after Close = %v", keys)
	}
}

func TestStore_CommitBeginsIntents(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "state.db"))
	rec := FileRecord{Path: "a.txt", Size: 3, Hash: "h", AttachmentID: 9, RemoteName: "a.txt", DisplayOrder: 1024}
	del := &Intent{Op: IntentDelete, AttachmentID: 7, Name: "a.txt"}
	if err := s.Commit(folderA, Change{Put: []FileRecord{rec}, Begin: []*Intent{del}}); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if del.ID == 0 {
		t.Fatalf("Begin intent got no ID")
	}
	f, err := s.Load(folderA)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Intents) != 1 || f.Intents[0].ID != del.ID || f.Intents[0].AttachmentID != 7 {
		t.Fatalf("intents = %+v, want the delete intent %d", f.Intents, del.ID)
	}
	if _, ok := f.Files["a.txt"]; !ok {
		t.Fatalf("record not stored with the intent")
	}
	if err := s.Commit(folderA, Change{EndIntents: []uint64{del.ID}}); err != nil {
		t.Fatal(err)
	}
	if f, _ = s.Load(folderA); len(f.Intents) != 0 {
		t.Fatalf("intent not ended: %+v", f.Intents)
	}
}
