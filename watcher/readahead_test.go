package watcher

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/focussync/focussync/config"
)

// readAheadTree writes dirs directories of two files each, one of them in a
// subdirectory, and returns the files' paths.
func readAheadTree(t *testing.T, root string, dirs int) []string {
	t.Helper()
	files := map[string]string{}
	for i := range dirs {
		files[fmt.Sprintf("d%02d/top.txt", i)] = fmt.Sprint(i)
		files[fmt.Sprintf("d%02d/inner/low.txt", i)] = fmt.Sprint(-i)
	}
	writeTree(t, root, files)
	return slices.Sorted(func(yield func(string) bool) {
		for p := range files {
			if !yield(p) {
				return
			}
		}
	})
}

// The directories after the one being walked are read meanwhile: the listing of
// d00 can wait for those of d01 and d02. The snapshot is the one a walk of one
// directory at a time gives, a directory that cannot be listed (far beyond the
// first ones read ahead) included.
func TestScan_ReadsDirectoriesAhead(t *testing.T) {
	root := t.TempDir()
	all := readAheadTree(t, root, 3*readAheadDirs)
	failing := fmt.Sprintf("d%02d", 2*readAheadDirs+1)
	var mu sync.Mutex
	listed := map[string]chan struct{}{}
	seen := func(rel string) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		if listed[rel] == nil {
			listed[rel] = make(chan struct{})
		}
		return listed[rel]
	}
	var waited atomic.Bool
	snap := mustScan(t, ScanOptions{
		Folder: config.Folder{Path: root, Recursive: true},
		readDir: func(dir string) ([]fs.DirEntry, error) {
			rel, _ := filepath.Rel(root, dir)
			rel = filepath.ToSlash(rel)
			close(seen(rel))
			if rel == "d00" {
				deadline := time.After(10 * time.Second)
				for _, next := range []string{"d01", "d02"} {
					select {
					case <-seen(next):
					case <-deadline:
						return nil, fmt.Errorf("%s was not listed while d00 was being read", next)
					}
				}
				waited.Store(true)
			}
			if rel == failing {
				return nil, &fs.PathError{Op: "open", Path: dir, Err: syscall.EACCES}
			}
			return os.ReadDir(dir)
		},
	})
	if !waited.Load() {
		t.Errorf("d00 was not listed while d01 and d02 were: no directory was read ahead (errors: %v)", snap.Errors)
	}
	var want []string
	for _, p := range all {
		if filepath.Dir(filepath.Dir(p)) != failing && filepath.Dir(p) != failing {
			want = append(want, p)
		}
	}
	if got := sortedKeys(snap.Files); !slices.Equal(got, want) {
		t.Errorf("files = %q,\nwant %q", got, want)
	}
	if want := []string{failing}; !slices.Equal(snap.FailedDirs, want) {
		t.Errorf("failed dirs = %q, want %q", snap.FailedDirs, want)
	}
	if !snap.Present(failing + "/top.txt") {
		t.Errorf("%s/top.txt is not protected as present under the directory that could not be listed", failing)
	}
}

// A scan cancelled while directories are being read ahead returns the context's
// error, and no listing runs after it has returned.
func TestScan_CancelledWhileReadingAhead(t *testing.T) {
	root := t.TempDir()
	readAheadTree(t, root, 3*readAheadDirs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var returned, late atomic.Bool
	snap, err := Scan(ctx, ScanOptions{
		Folder: config.Folder{Path: root, Recursive: true},
		readDir: func(dir string) ([]fs.DirEntry, error) {
			if returned.Load() {
				late.Store(true)
			}
			if filepath.Base(dir) == "d05" {
				cancel()
			}
			return os.ReadDir(dir)
		},
	})
	returned.Store(true)
	if snap != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Scan cancelled while reading ahead = %v, %v; want nil, context.Canceled", snap, err)
	}
	if late.Load() {
		t.Error("a directory was listed after Scan returned")
	}
}
