package state

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
)

func TestEachRecord_PathOrderAndStop(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "state.db"))
	paths := []string{"b/z.txt", "a.txt", "b.txt", "\xff\xfe.bin", "a/b.txt", "B.txt"}
	c := Change{}
	for i, p := range paths {
		c.Put = append(c.Put, sampleRecord(p, int64(i+1)))
	}
	mustCommit(t, s, folderA, c)
	var got []string
	if err := s.EachRecord(folderA, func(r FileRecord) error {
		got = append(got, r.Path)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(paths))
	if !slices.Equal(got, want) {
		t.Errorf("EachRecord gave %q, want %q (path order)", got, want)
	}
	whole, err := s.Load(folderA)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EachRecord(folderA, func(r FileRecord) error {
		if w := whole.Files[r.Path]; w != r {
			t.Errorf("EachRecord gave %+v, Load %+v", r, w)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop here")
	n := 0
	err = s.EachRecord(folderA, func(FileRecord) error {
		n++
		return stop
	})
	if err != stop || n != 1 {
		t.Errorf("an error from fn: EachRecord returned %v after %d calls; want that error after 1", err, n)
	}
	if err := s.EachRecord(FolderKey{Path: folderA.Path, TaskID: 999}, func(FileRecord) error { return stop }); err != nil {
		t.Errorf("a folder never seen: %v", err)
	}
}
