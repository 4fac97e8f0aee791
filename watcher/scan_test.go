package watcher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/focussync/focussync/config"
)

// writeTree creates files (relative '/' paths -> content) under root.
func writeTree(tb testing.TB, root string, files map[string]string) {
	tb.Helper()
	for rel, content := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// mustScan runs Scan and fails the test on a root-level error.
func mustScan(tb testing.TB, opt ScanOptions) *Snapshot {
	tb.Helper()
	snap, err := Scan(context.Background(), opt)
	if err != nil {
		tb.Fatalf("Scan(%s): %v", opt.Folder.Path, err)
	}
	return snap
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// cacheOf returns a Cache that knows every file of snap.
func cacheOf(snap *Snapshot) func(string) (int64, time.Time, uint64, string, bool) {
	return func(p string) (int64, time.Time, uint64, string, bool) {
		f, ok := snap.Files[p]
		return f.Size, f.ModTime, f.Inode, f.Hash, ok
	}
}

func TestScan_RecursiveOrNot(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"a.txt":         "alpha",
		"b.pdf":         "bravo",
		"sub/c.txt":     "charlie",
		"sub/deep/d.md": "delta",
	})

	t.Run("root only by default", func(t *testing.T) {
		var st ScanStats
		snap := mustScan(t, ScanOptions{Folder: config.Folder{Path: root}, Stats: &st})
		if got, want := sortedKeys(snap.Files), []string{"a.txt", "b.pdf"}; !slices.Equal(got, want) {
			t.Errorf("files = %q, want %q", got, want)
		}
		if st.Dirs != 1 || st.Files != 2 || st.Hashed != 2 || st.HashedBytes != 10 {
			t.Errorf("stats = %+v, want 1 dir, 2 files, 2 hashed, 10 bytes", st)
		}
	})

	t.Run("recursive", func(t *testing.T) {
		var st ScanStats
		snap := mustScan(t, ScanOptions{Folder: config.Folder{Path: root, Recursive: true}, Stats: &st})
		want := []string{"a.txt", "b.pdf", "sub/c.txt", "sub/deep/d.md"}
		if got := sortedKeys(snap.Files); !slices.Equal(got, want) {
			t.Errorf("files = %q, want %q", got, want)
		}
		f := snap.Files["sub/deep/d.md"]
		if f.Path != "sub/deep/d.md" || f.Size != 5 || f.Hash != sha("delta") || f.Inode == 0 || f.ModTime.IsZero() {
			t.Errorf("file = %+v, want path, size 5, sha256 of content, inode and mtime", f)
		}
		if st.Dirs != 3 || st.Files != 4 || st.Hashed != 4 || st.Held != 0 || st.Errors != 0 {
			t.Errorf("stats = %+v, want 3 dirs, 4 files, 4 hashed, none held or failed", st)
		}
		if snap.Root != root || snap.ScannedAt.IsZero() || len(snap.Held) != 0 || len(snap.Errors) != 0 || len(snap.FailedDirs) != 0 {
			t.Errorf("snapshot = %+v, want root set, scan time set, nothing held or failed", snap)
		}
		dev, err := DeviceOf(root)
		if err != nil || snap.Device != dev || dev == 0 {
			t.Errorf("Device = %d, DeviceOf = %d, %v; want equal and non-zero", snap.Device, dev, err)
		}
	})
}

func TestScan_DefaultIgnores(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"keep.docx":            "k",
		"~$keep.docx":          "owner",
		".~lock.sheet.ods#":    "lock",
		"download.tmp":         "t",
		"movie.part":           "p",
		"movie.partial":        "p",
		"setup.crdownload":     "c",
		".keep.docx.swp":       "s",
		"keep.swx":             "s",
		"keep.docx~":           "b",
		".DS_Store":            "d",
		"Thumbs.db":            "t",
		"desktop.ini":          "d",
		".focussync":           "marker",
		".focussync-tmp-1":     "ours",
		".git/config":          "g",
		"sub/keep.txt":         "k",
		"sub/.hidden/x.txt":    "h",
		"sub/Thumbs.db":        "t",
		"sub/.cache/deep/y.md": "y",
	})
	snap := mustScan(t, ScanOptions{Folder: config.Folder{Path: root, Recursive: true, Marker: ".focussync"}})
	if got, want := sortedKeys(snap.Files), []string{"keep.docx", "sub/keep.txt"}; !slices.Equal(got, want) {
		t.Errorf("files = %q, want %q", got, want)
	}
	if len(snap.Held) != 0 {
		t.Errorf("held = %v, want none", snap.Held)
	}
}

func TestScan_MarkerNeverInScope(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"FOCUSSYNC": "", "a.txt": "a"})
	snap := mustScan(t, ScanOptions{Folder: config.Folder{Path: root, Marker: "FOCUSSYNC"}})
	if got, want := sortedKeys(snap.Files), []string{"a.txt"}; !slices.Equal(got, want) {
		t.Errorf("files = %q, want %q (the marker is not synced)", got, want)
	}
}

func TestScan_IncludeExclude(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"a.pdf":              "1",
		"notes.txt":          "2",
		"reports/q1.pdf":     "3",
		"reports/q1.xlsx":    "4",
		"reports/old/q0.pdf": "5",
		"build/out.pdf":      "6",
		"other/deep/x.txt":   "7",
	})
	var mu sync.Mutex // directories are read ahead, several at once
	var listed []string
	opt := ScanOptions{
		Folder: config.Folder{Path: root, Recursive: true, Include: []string{"**/*.pdf", "reports/**"}, Exclude: []string{"build", "reports/old"}},
		readDir: func(dir string) ([]fs.DirEntry, error) {
			rel, _ := filepath.Rel(root, dir)
			mu.Lock()
			listed = append(listed, filepath.ToSlash(rel))
			mu.Unlock()
			return os.ReadDir(dir)
		},
	}
	snap := mustScan(t, opt)
	want := []string{"a.pdf", "reports/q1.pdf", "reports/q1.xlsx"}
	if got := sortedKeys(snap.Files); !slices.Equal(got, want) {
		t.Errorf("files = %q, want %q", got, want)
	}
	slices.Sort(listed)
	// "other" may hold a pdf, so it is listed; excluded dirs are not.
	if want := []string{".", "other", "other/deep", "reports"}; !slices.Equal(listed, want) {
		t.Errorf("listed dirs = %q, want %q", listed, want)
	}

	opt.Folder.Include = []string{"reports/**"}
	listed = nil
	mustScan(t, opt)
	slices.Sort(listed)
	if want := []string{".", "reports"}; !slices.Equal(listed, want) {
		t.Errorf("with include reports/** listed dirs = %q, want %q", listed, want)
	}

	opt.Folder.Include = []string{"["}
	if _, err := Scan(context.Background(), opt); err == nil || !strings.Contains(err.Error(), `include[0] "["`) {
		t.Errorf("Scan with a bad include = %v, want an error naming include[0]", err)
	}
}

func TestScan_Settle(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"fresh.txt": "still writing"})
	fi, err := os.Lstat(filepath.Join(root, "fresh.txt"))
	if err != nil {
		t.Fatal(err)
	}
	mtime := fi.ModTime()

	var st ScanStats
	snap := mustScan(t, ScanOptions{Folder: config.Folder{Path: root, Settle: 3 * time.Second}, Now: mtime.Add(time.Second), Stats: &st})
	reason, held := snap.Held["fresh.txt"]
	if !held || !strings.HasPrefix(reason, "settling (changed ") || !strings.HasSuffix(reason, " ago)") {
		t.Errorf("held = %q, want fresh.txt held as settling", snap.Held)
	}
	if _, ok := snap.Files["fresh.txt"]; ok || st.Hashed != 0 || st.Held != 1 || st.Files != 1 {
		t.Errorf("files = %v, stats %+v; want a held file, not hashed", snap.Files, st)
	}
	if !snap.Present("fresh.txt") {
		t.Error("Present(fresh.txt) = false for a held file")
	}

	snap = mustScan(t, ScanOptions{Folder: config.Folder{Path: root, Settle: 3 * time.Second}, Now: mtime.Add(10 * time.Second)})
	if f, ok := snap.Files["fresh.txt"]; !ok || !f.ModTime.Equal(mtime) || len(snap.Held) != 0 {
		t.Errorf("files = %v, held %v; want fresh.txt settled with its mtime", snap.Files, snap.Held)
	}

	snap = mustScan(t, ScanOptions{Folder: config.Folder{Path: root, Settle: 3 * time.Second}, Now: mtime.Add(-time.Minute)})
	if reason := snap.Held["fresh.txt"]; !strings.Contains(reason, "in the future") {
		t.Errorf("held reason = %q for a file changed after Now, want settling in the future", reason)
	}
}

// A file whose mtime was set far ahead (say by an archive) settles by its
// ctime, which the kernel keeps and nobody can set.
func TestScan_SettleIgnoresFutureMtimeWithCtime(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"from-archive.txt": "x"})
	p := filepath.Join(root, "from-archive.txt")
	future := time.Now().AddDate(10, 0, 0)
	if err := os.Chtimes(p, future, future); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	_, ctime := fileIDs(fi)
	if ctime.IsZero() {
		t.Skip("this system reports no ctime: a future mtime holds the file")
	}
	snap := mustScan(t, ScanOptions{Folder: config.Folder{Path: root, Settle: 3 * time.Second}, Now: ctime.Add(10 * time.Second)})
	if f, ok := snap.Files["from-archive.txt"]; !ok || !f.ModTime.Equal(fi.ModTime()) {
		t.Errorf("files = %v, held %v; want the file settled, recorded with its mtime", snap.Files, snap.Held)
	}
	snap = mustScan(t, ScanOptions{Folder: config.Folder{Path: root, Settle: 3 * time.Second}, Now: ctime.Add(time.Second)})
	if _, ok := snap.Held["from-archive.txt"]; !ok {
		t.Errorf("held = %v, want the file held by its recent ctime", snap.Held)
	}
}

func TestScan_MaxFileSize(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"small.txt": strings.Repeat("s", 1024),
		"big.bin":   strings.Repeat("b", 1025),
	})
	var st ScanStats
	snap := mustScan(t, ScanOptions{Folder: config.Folder{Path: root, MaxFileSize: 1024}, Stats: &st})
	if _, ok := snap.Files["small.txt"]; !ok {
		t.Errorf("files = %v, want small.txt (exactly at the limit)", sortedKeys(snap.Files))
	}
	if got, want := snap.Held["big.bin"], "larger than max_file_size (1 KiB)"; got != want {
		t.Errorf("held[big.bin] = %q, want %q", got, want)
	}
	if len(snap.Errors) != 1 || snap.Errors[0].Path != "big.bin" || !errors.Is(snap.Errors[0].Err, ErrFileTooLarge) {
		t.Errorf("errors = %v, want one ErrFileTooLarge for big.bin", snap.Errors)
	}
	if st.Hashed != 1 || st.Held != 1 || st.Errors != 1 {
		t.Errorf("stats = %+v, want 1 hashed, 1 held, 1 error", st)
	}
}

func TestScan_NonUTF8Name(t *testing.T) {
	root := t.TempDir()
	name := "r\xe9sum\xe9 \xff.txt" // Latin-1 bytes, not UTF-8
	if err := os.WriteFile(filepath.Join(root, name), []byte("cv"), 0o644); err != nil {
		t.Skipf("this filesystem refuses non-UTF-8 names: %v", err)
	}
	snap := mustScan(t, ScanOptions{Folder: config.Folder{Path: root}})
	f, ok := snap.Files[name]
	if !ok || f.Path != name || f.Hash != sha("cv") {
		t.Fatalf("files = %q, want the exact bytes %q", sortedKeys(snap.Files), name)
	}
}
