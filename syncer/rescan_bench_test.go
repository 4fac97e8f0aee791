//go:build unix

package syncer_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/syncer"
	"github.com/focussync/focussync/watcher"
)

// rescanFiles is the tree size of BenchmarkRescan; FOCUSSYNC_BENCH_FILES changes it.
func rescanFiles(b *testing.B) int {
	n := 100_000
	if v := os.Getenv("FOCUSSYNC_BENCH_FILES"); v != "" {
		if _, err := fmt.Sscan(v, &n); err != nil || n < 1000 {
			b.Fatalf("FOCUSSYNC_BENCH_FILES=%q: not a count of at least 1000", v)
		}
	}
	return n
}

// BenchmarkRescan measures what a `focussync sync` process does over a folder
// of unchanged, already synced files: open the state db, load, scan, plan,
// send nothing. The tree (folders of 1,000 small files) and the db are made in
// the test's temp directory; the records are written straight into the store,
// as a first sync would have left them. bare-walk-ns/op is a bare WalkDir with
// one Lstat per entry over the same tree, timed in the same loop.
func BenchmarkRescan(b *testing.B) {
	n := rescanFiles(b)
	dir := b.TempDir()
	root := filepath.Join(dir, "tree")
	dbPath := filepath.Join(dir, "state.db")
	if keep := os.Getenv("FOCUSSYNC_BENCH_TREE"); keep != "" {
		// A tree kept from run to run, made once: runs compare over the same files.
		root = filepath.Join(keep, fmt.Sprint(n))
		if _, err := os.Stat(root); err == nil {
			n = 0
		}
	}
	for d := range n / 1000 {
		sub := filepath.Join(root, fmt.Sprintf("dir%03d", d))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		for i := range 1000 {
			p := filepath.Join(sub, fmt.Sprintf("file%04d.txt", i))
			if err := os.WriteFile(p, []byte(p), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	f := config.Folder{Path: root, Recursive: true, OrganizationID: 1, WorkspaceID: 2, TaskID: 3,
		Settle: time.Millisecond, Order: "name", DeleteRemote: true, MaxDelete: config.Limit{Percent: 50}}
	snap, err := watcher.Scan(context.Background(), watcher.ScanOptions{Folder: f, Now: time.Now().Add(time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	st, err := state.Open(dbPath, state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	c := state.Change{Meta: &state.Meta{Device: snap.Device, Listed: true, LastPass: time.Now()}}
	id := int64(0)
	for _, p := range sortedPaths(snap.Files) {
		sf := snap.Files[p]
		id++
		c.Put = append(c.Put, state.FileRecord{Path: p, Size: sf.Size, ModTime: sf.ModTime, Inode: sf.Inode, Hash: sf.Hash,
			AttachmentID: id, RemoteName: p, DisplayOrder: id * 1024})
	}
	if len(c.Put) < 1000 {
		b.Fatalf("the tree holds %d files", len(c.Put))
	}
	if err := st.Commit(syncer.FolderKey(f), c); err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	srv := focustest.NewServer(focustest.Options{Token: "tok"})
	defer srv.Close()
	client, err := focus.New(focus.Options{BaseURL: srv.URL, Token: "tok"})
	if err != nil {
		b.Fatal(err)
	}
	var walk, cpu, walkCPU time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c0 := cpuTime(b)
		st, err := state.Open(dbPath, state.Options{MoveAsideDamaged: true})
		if err != nil {
			b.Fatal(err)
		}
		e := syncer.NewEngine(client, st, nil)
		res, err := e.Sync(context.Background(), f, syncer.PassOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if sent := res.RequestsSent(); sent != 0 {
			b.Fatalf("a rescan of unchanged files sent %d requests", sent)
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		c1 := cpuTime(b)
		cpu += c1 - c0
		t := time.Now()
		if err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			_, err = os.Lstat(p)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		walk += time.Since(t)
		walkCPU += cpuTime(b) - c1
		b.StartTimer()
	}
	// On a busy machine the ratio of CPU times says more than that of wall times.
	b.ReportMetric(float64(walk.Nanoseconds())/float64(b.N), "bare-walk-ns/op")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(walkCPU.Nanoseconds())/float64(b.N), "bare-walk-cpu-ns/op")
}

// cpuTime returns the CPU time (user and system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func sortedPaths(m map[string]watcher.File) []string {
	out := make([]string, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}
