package state

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// rssFile returns the process's resident memory of mapped files (RssFile), in bytes.
func rssFile(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssFile:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

func TestStore_ReleaseMemory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := mustOpen(t, path)
	fill(t, s, folderA, 20_000)
	before, err := s.Load(folderA)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	mapped := rssFile(t)
	s.ReleaseMemory()
	released := mapped - rssFile(t)
	if released < fi.Size()/2 {
		t.Errorf("ReleaseMemory gave back %d bytes of a db of %d bytes just read whole", released, fi.Size())
	}
	after, err := s.Load(folderA)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Error("the records read after ReleaseMemory differ from those read before")
	}
	mustCommit(t, s, folderA, Change{Put: []FileRecord{sampleRecord("after-release", 1)}})
	if f, err := s.Load(folderA); err != nil || len(f.Files) != 20_001 {
		t.Errorf("after a commit: %v, %d records", err, len(f.Files))
	}
}
