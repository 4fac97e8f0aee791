package watcher

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/focussync/focussync/config"
)

// benchTree creates dirs directories of perDir small files each under a new
// temporary directory and returns its path.
func benchTree(b *testing.B, dirs, perDir int) string {
	b.Helper()
	root := b.TempDir()
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("dir%03d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range perDir {
			name := filepath.Join(dir, fmt.Sprintf("file%04d.txt", f))
			if err := os.WriteFile(name, []byte(name), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	return root
}

// BenchmarkScanUnchanged100k rescans 100,000 unchanged files in 100
// directories with a cache that knows them all: nothing is hashed.
func BenchmarkScanUnchanged100k(b *testing.B) {
	root := benchTree(b, 100, 1000)
	opt := ScanOptions{Folder: config.Folder{Path: root, Recursive: true, Settle: 3 * time.Second}, Now: time.Now().Add(time.Hour)}
	first, err := Scan(context.Background(), opt)
	if err != nil {
		b.Fatal(err)
	}
	if len(first.Files) != 100_000 {
		b.Fatalf("first scan found %d files, want 100000", len(first.Files))
	}
	var st ScanStats
	opt.Cache, opt.Stats = cacheOf(first), &st
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Scan(context.Background(), opt); err != nil {
			b.Fatal(err)
		}
	}
	if st.Hashed != 0 || st.Files != 100_000 {
		b.Fatalf("rescan stats = %+v, want 100000 files and none hashed", st)
	}
}

// BenchmarkWalkStatBaseline is the floor for BenchmarkScanUnchanged100k: a
// bare filepath.WalkDir with one Lstat per entry over the same kind of tree.
func BenchmarkWalkStatBaseline(b *testing.B) {
	root := benchTree(b, 100, 1000)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if _, err := os.Lstat(p); err != nil {
				return err
			}
			n++
			return nil
		})
		if err != nil || n != 100_101 {
			b.Fatalf("walk saw %d entries, %v; want 100101", n, err)
		}
	}
}
