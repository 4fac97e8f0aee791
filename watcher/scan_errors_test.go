package watcher

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/focussync/focussync/config"
)

func TestScan_UnreadableFile(t *testing.T) {
	check := func(t *testing.T, snap *Snapshot, st ScanStats) {
		t.Helper()
		if got := snap.Held["secret.txt"]; got != "unreadable: permission denied" {
			t.Errorf("held[secret.txt] = %q, want %q", got, "unreadable: permission denied")
		}
		if len(snap.Errors) != 1 || snap.Errors[0].Path != "secret.txt" || !errors.Is(snap.Errors[0].Err, fs.ErrPermission) {
			t.Errorf("errors = %v, want one permission error for secret.txt", snap.Errors)
		}
		if _, ok := snap.Files["open.txt"]; !ok || st.Hashed != 1 || st.Held != 1 || st.Errors != 1 {
			t.Errorf("files = %v, stats %+v; want open.txt hashed and the scan carried on", sortedKeys(snap.Files), st)
		}
	}

	t.Run("chmod 000", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("running as root, which reads a mode-000 file anyway; the injected-failure subtest covers this path")
		}
		root := t.TempDir()
		writeTree(t, root, map[string]string{"secret.txt": "s", "open.txt": "o"})
		if err := os.Chmod(filepath.Join(root, "secret.txt"), 0); err != nil {
			t.Fatal(err)
		}
		var st ScanStats
		check(t, mustScan(t, ScanOptions{Folder: config.Folder{Path: root}, Stats: &st}), st)
	})

	t.Run("open fails", func(t *testing.T) {
		root := t.TempDir()
		writeTree(t, root, map[string]string{"secret.txt": "s", "open.txt": "o"})
		var st ScanStats
		snap := mustScan(t, ScanOptions{
			Folder: config.Folder{Path: root},
			Stats:  &st,
			openFile: func(name string) (*os.File, error) {
				if filepath.Base(name) == "secret.txt" {
					return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EACCES}
				}
				return os.Open(name)
			},
		})
		check(t, snap, st)
	})
}

func TestScan_FailedDirs(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"top.txt":          "t",
		"locked/a.txt":     "a",
		"locked/in/b.txt":  "b",
		"lockedx/c.txt":    "c",
		"fine/deep/d.txt":  "d",
		"gone/e.txt":       "e",
		"partial/f.txt":    "f",
		"partial/g.txt":    "g",
		"partial/sub/h.md": "h",
	})
	listFail := &fs.PathError{Op: "open", Path: filepath.Join(root, "locked"), Err: syscall.EACCES}
	var st ScanStats
	snap := mustScan(t, ScanOptions{
		Folder: config.Folder{Path: root, Recursive: true},
		Stats:  &st,
		readDir: func(dir string) ([]fs.DirEntry, error) {
			switch filepath.Base(dir) {
			case "locked":
				return nil, listFail
			case "gone":
				if err := os.RemoveAll(dir); err != nil {
					return nil, err
				}
			case "partial":
				entries, err := os.ReadDir(dir)
				if err != nil {
					return nil, err
				}
				return entries[:1], &fs.PathError{Op: "readdirent", Path: dir, Err: syscall.EIO}
			}
			return os.ReadDir(dir)
		},
	})

	wantFiles := []string{"fine/deep/d.txt", "lockedx/c.txt", "partial/f.txt", "top.txt"}
	if got := sortedKeys(snap.Files); !slices.Equal(got, wantFiles) {
		t.Errorf("files = %q, want %q", got, wantFiles)
	}
	if got, want := slices.Sorted(slices.Values(snap.FailedDirs)), []string{"gone", "locked", "partial"}; !slices.Equal(got, want) {
		t.Errorf("failed dirs = %q, want %q", got, want)
	}
	var errPaths []string
	for _, e := range snap.Errors {
		errPaths = append(errPaths, e.Path)
	}
	slices.Sort(errPaths)
	if want := []string{"locked", "partial"}; !slices.Equal(errPaths, want) {
		t.Errorf("errors = %v, want one for each unlistable dir %q (none for the vanished one)", snap.Errors, want)
	}
	if st.Errors != 2 {
		t.Errorf("stats.Errors = %d, want 2", st.Errors)
	}

	for _, tt := range []struct {
		path string
		want bool
	}{
		{"locked/a.txt", true},
		{"locked/in/b.txt", true},
		{"locked", true},
		{"partial/g.txt", true},
		{"partial/sub/h.md", true},
		{"gone/e.txt", true},
		{"top.txt", true},
		{"lockedx/other.txt", false},
		{"lockedx/c.txt", true},
		{"deleted.txt", false},
		{"fine/deep/x.txt", false},
	} {
		if got := snap.Present(tt.path); got != tt.want {
			t.Errorf("Present(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestScan_VanishedFiles(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"stays.txt": "s", "before-stat.txt": "1", "before-hash.txt": "2"})
	var st ScanStats
	snap := mustScan(t, ScanOptions{
		Folder: config.Folder{Path: root},
		Stats:  &st,
		readDir: func(dir string) ([]fs.DirEntry, error) {
			entries, err := os.ReadDir(dir)
			if err == nil {
				err = os.Remove(filepath.Join(dir, "before-stat.txt"))
			}
			return entries, err
		},
		openFile: func(name string) (*os.File, error) {
			if filepath.Base(name) == "before-hash.txt" {
				if err := os.Remove(name); err != nil {
					return nil, err
				}
			}
			return os.Open(name)
		},
	})
	if got, want := sortedKeys(snap.Files), []string{"stays.txt"}; !slices.Equal(got, want) {
		t.Errorf("files = %q, want %q", got, want)
	}
	if len(snap.Held) != 0 || len(snap.Errors) != 0 || len(snap.FailedDirs) != 0 {
		t.Errorf("held %v, errors %v, failed %v; want vanished files simply absent", snap.Held, snap.Errors, snap.FailedDirs)
	}
	if st.Files != 1 || st.Hashed != 1 {
		t.Errorf("stats = %+v, want 1 file, 1 hashed", st)
	}
}

func TestScan_ChangedWhileHashing(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"growing.log.txt": "first", "still.txt": "s"})
	snap := mustScan(t, ScanOptions{
		Folder: config.Folder{Path: root},
		openFile: func(name string) (*os.File, error) {
			f, err := os.Open(name)
			if err == nil && filepath.Base(name) == "growing.log.txt" {
				err = os.WriteFile(name, []byte("first and more"), 0o644)
			}
			return f, err
		},
	})
	if got := snap.Held["growing.log.txt"]; got != "changed while hashing" {
		t.Errorf("held[growing.log.txt] = %q, want %q", got, "changed while hashing")
	}
	if _, ok := snap.Files["growing.log.txt"]; ok || len(snap.Errors) != 0 {
		t.Errorf("files %v, errors %v; want the changed file held, not reported", sortedKeys(snap.Files), snap.Errors)
	}
	if _, ok := snap.Files["still.txt"]; !ok {
		t.Errorf("files = %v, want still.txt", sortedKeys(snap.Files))
	}

	// Replaced after it was opened: the open file is the listed one, but the
	// path holds another file once the read ends.
	writeTree(t, root, map[string]string{"saved.docx": "v1"})
	snap = mustScan(t, ScanOptions{
		Folder: config.Folder{Path: root},
		openFile: func(name string) (*os.File, error) {
			f, err := os.Open(name)
			if err == nil && filepath.Base(name) == "saved.docx" {
				tmp := name + ".new"
				if err := os.WriteFile(tmp, []byte("v2"), 0o644); err != nil {
					t.Error(err)
				}
				if err := os.Rename(tmp, name); err != nil {
					t.Error(err)
				}
			}
			return f, err
		},
	})
	if got := snap.Held["saved.docx"]; got != "changed while hashing" {
		t.Errorf("held[saved.docx] = %q, want %q", got, "changed while hashing")
	}
}

func TestScan_Cache(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a.txt": "alpha", "sub/b.txt": "bravo", "c.txt": "charlie"})
	first := mustScan(t, ScanOptions{Folder: config.Folder{Path: root, Recursive: true}, HashWorkers: 2})

	var st ScanStats
	second := mustScan(t, ScanOptions{Folder: config.Folder{Path: root, Recursive: true}, Cache: cacheOf(first), Stats: &st})
	if st.Hashed != 0 || st.HashedBytes != 0 || st.Files != 3 {
		t.Errorf("second scan stats = %+v, want 3 files and nothing hashed", st)
	}
	for p, f := range first.Files {
		if second.Files[p] != f {
			t.Errorf("second scan %s = %+v, want %+v", p, second.Files[p], f)
		}
	}

	// Replace a.txt by a new file with the same size and mtime: a new inode.
	a := filepath.Join(root, "a.txt")
	mtime := first.Files["a.txt"].ModTime
	tmp := filepath.Join(root, "new.tmp")
	if err := os.WriteFile(tmp, []byte("ALPHA"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, a); err != nil {
		t.Fatal(err)
	}
	// Touch c.txt: same inode and size, new mtime.
	if err := os.Chtimes(filepath.Join(root, "c.txt"), mtime, mtime.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	third := mustScan(t, ScanOptions{Folder: config.Folder{Path: root, Recursive: true}, Cache: cacheOf(first), Stats: &st})
	if st.Hashed != 2 || st.HashedBytes != int64(len("ALPHA")+len("charlie")) {
		t.Errorf("third scan stats = %+v, want a.txt (new inode) and c.txt (new mtime) hashed", st)
	}
	if got := third.Files["a.txt"]; got.Hash != sha("ALPHA") || got.Inode == first.Files["a.txt"].Inode {
		t.Errorf("a.txt = %+v, want the new content's hash and a new inode", got)
	}
	if third.Files["sub/b.txt"] != first.Files["sub/b.txt"] {
		t.Errorf("sub/b.txt = %+v, want it unchanged from the cache", third.Files["sub/b.txt"])
	}
}

func TestScan_RootErrors(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"file.txt": "f", "folder/a.txt": "a", "marked/.focussync": ""})

	tests := []struct {
		name string
		opt  ScanOptions
		want error
	}{
		{"missing", ScanOptions{Folder: config.Folder{Path: filepath.Join(dir, "nope")}}, ErrRootMissing},
		{"not a directory", ScanOptions{Folder: config.Folder{Path: filepath.Join(dir, "file.txt")}}, ErrRootNotDir},
		{"marker missing", ScanOptions{Folder: config.Folder{Path: filepath.Join(dir, "folder"), Marker: ".focussync"}}, ErrMarkerMissing},
		{"root cannot be listed", ScanOptions{
			Folder: config.Folder{Path: filepath.Join(dir, "folder")},
			readDir: func(d string) ([]fs.DirEntry, error) {
				return nil, &fs.PathError{Op: "open", Path: d, Err: syscall.EACCES}
			},
		}, ErrRootUnreadable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, err := Scan(context.Background(), tt.opt)
			if snap != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Scan = %v, %v; want nil and %v", snap, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.opt.Folder.Path) {
				t.Errorf("error %q does not name the root %s", err, tt.opt.Folder.Path)
			}
		})
	}

	t.Run("marker present", func(t *testing.T) {
		snap := mustScan(t, ScanOptions{Folder: config.Folder{Path: filepath.Join(dir, "marked"), Marker: ".focussync"}})
		if len(snap.Files) != 0 {
			t.Errorf("files = %v, want none (the marker is not synced)", sortedKeys(snap.Files))
		}
	})
	t.Run("trailing separator", func(t *testing.T) {
		snap := mustScan(t, ScanOptions{Folder: config.Folder{Path: filepath.Join(dir, "folder") + string(os.PathSeparator)}})
		if _, ok := snap.Files["a.txt"]; !ok || len(snap.Held) != 0 {
			t.Errorf("files = %v, held %v; want a.txt hashed", sortedKeys(snap.Files), snap.Held)
		}
	})
	t.Run("relative root", func(t *testing.T) {
		if _, err := Scan(context.Background(), ScanOptions{Folder: config.Folder{Path: "relative/dir"}}); err == nil {
			t.Error("Scan with a relative root succeeded, want an error")
		}
	})
}

func TestScan_Cancelled(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a.txt": "a", "b.txt": "b"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	snap, err := Scan(ctx, ScanOptions{Folder: config.Folder{Path: root}})
	if snap != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Scan with a cancelled context = %v, %v; want nil, context.Canceled", snap, err)
	}

	// Cancelled while hashing: the scan stops with the context's error.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	snap, err = Scan(ctx, ScanOptions{
		Folder:      config.Folder{Path: root},
		HashWorkers: 1,
		openFile: func(name string) (*os.File, error) {
			cancel()
			return os.Open(name)
		},
	})
	if snap != nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Scan cancelled while hashing = %v, %v; want nil, context.Canceled", snap, err)
	}
}
