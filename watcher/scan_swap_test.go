//go:build unix

package watcher

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/focussync/focussync/config"
)

// swapIn replaces the file or directory at p by what make creates there, the
// way an attacker would: create beside it, then rename over it.
func swapIn(t *testing.T, p string, make func(tmp string) error) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(p), ".swap")
	if err := make(tmp); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

// TestScan_SwappedBetweenListingAndRead: a file swapped for a symlink, a FIFO, a
// socket or a device after the listing, and a directory swapped for a symlink
// before it is listed, are never read through: the scan neither blocks nor
// hashes anything outside the folder.
func TestScan_SwappedBetweenListingAndRead(t *testing.T) {
	outside := t.TempDir()
	secret := "the secret outside the folder\n"
	writeTree(t, outside, map[string]string{"secret.txt": secret, "dir/x.txt": secret})
	sum := sha256.Sum256([]byte(secret))
	secretHash := hex.EncodeToString(sum[:])

	swaps := map[string]func(tmp string) error{
		"symlink": func(tmp string) error { return os.Symlink(filepath.Join(outside, "secret.txt"), tmp) },
		"fifo":    func(tmp string) error { return syscall.Mkfifo(tmp, 0o644) },
		"socket": func(tmp string) error {
			ln, err := net.Listen("unix", tmp)
			if err == nil {
				t.Cleanup(func() { ln.Close() })
			}
			return err
		},
		"device": func(tmp string) error { return syscall.Mknod(tmp, syscall.S_IFCHR|0o644, 1<<8|3) },
	}
	for name, swap := range swaps {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, map[string]string{"a.txt": "size of a", "b.txt": "b", "sub/c.txt": "c"})
			opt := ScanOptions{
				Folder: config.Folder{Path: root, Recursive: true},
				beforeOpen: func(rel string) {
					switch rel {
					case "a.txt":
						swapIn(t, filepath.Join(root, "a.txt"), swap)
					case "sub":
						swapIn(t, filepath.Join(root, "sub"), func(tmp string) error {
							return os.Symlink(filepath.Join(outside, "dir"), tmp)
						})
					}
				},
			}
			done := make(chan *Snapshot, 1)
			go func() { done <- mustScan(t, opt) }()
			var snap *Snapshot
			select {
			case snap = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("the scan blocked on the swapped-in file")
			}
			for p, f := range snap.Files {
				if f.Hash == secretHash {
					t.Errorf("file %s holds the secret's hash: the scan read outside the folder", p)
				}
			}
			if _, ok := snap.Files["a.txt"]; ok {
				t.Errorf("a.txt is in the snapshot after it was swapped for a %s", name)
			}
			if _, ok := snap.Files["sub/x.txt"]; ok {
				t.Error("sub/x.txt (outside, through a swapped directory) is in the snapshot")
			}
			if _, ok := snap.Files["b.txt"]; !ok {
				t.Errorf("files = %v, want b.txt", sortedKeys(snap.Files))
			}
		})
	}
}

// TestWatch_SwappedDirectoryLeadsNowhere: a directory swapped for a symlink to a
// tree outside the folder, between the listing of its parent and its own watch,
// does not lead the recursive watch into that tree.
func TestWatch_SwappedDirectoryLeadsNowhere(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	outside := t.TempDir()
	for _, d := range []string{filepath.Join(root, "sub", "inner"), filepath.Join(outside, "deep", "deeper")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	inner := filepath.Join(root, "sub", "inner")
	var mu sync.Mutex
	var added []string
	swapped := false
	hook := func(dir string) error {
		mu.Lock()
		defer mu.Unlock()
		added = append(added, dir)
		if dir == inner && !swapped {
			swapped = true
			if err := os.Remove(inner); err != nil {
				t.Error(err)
			}
			if err := os.Symlink(outside, inner); err != nil {
				t.Error(err)
			}
		}
		return nil
	}
	startTestWatch(t, WatchOptions{Root: root, Recursive: true, addHook: hook})
	mu.Lock()
	defer mu.Unlock()
	if !swapped {
		t.Fatalf("the watch never added %s (added %v)", inner, added)
	}
	for _, d := range added {
		if strings.HasPrefix(d, inner+string(os.PathSeparator)) {
			t.Errorf("the watch went through the swapped directory: it added %s", d)
		}
	}
}
