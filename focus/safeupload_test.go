//go:build unix

package focus_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
	"github.com/focussync/focussync/internal/safefs"
)

// scanned writes a file in root and describes it as a scan would.
func scanned(t *testing.T, root, rel, data string) focus.Upload {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	dev, ino := safefs.FileID(fi)
	sum := sha256.Sum256([]byte(data))
	return focus.Upload{Root: root, Path: rel, Size: int64(len(data)), Device: dev, Inode: ino,
		Hash: hex.EncodeToString(sum[:]), Name: rel}
}

// TestUpload_SendsOnlyTheScannedFile: each way a file can stop being the one
// scanned cuts the request short with ErrNotScanned; the server stores nothing and
// no byte of a file outside the folder reaches it.
func TestUpload_SendsOnlyTheScannedFile(t *testing.T) {
	dir := t.TempDir()
	secret := "SECRET-" + strings.Repeat("9f8e7d6c5b4a", 4)
	secretPath := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretPath, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	same := strings.Repeat("x", len(secret)) // the size of the secret
	cases := map[string]func(t *testing.T, root string, u *focus.Upload){
		"symlink to a file outside": func(t *testing.T, root string, u *focus.Upload) {
			replace(t, filepath.Join(root, u.Path), func(tmp string) error { return os.Symlink(secretPath, tmp) })
		},
		"directory on the way swapped for a symlink": func(t *testing.T, root string, u *focus.Upload) {
			out := filepath.Join(dir, "out-"+filepath.Base(root))
			if err := os.MkdirAll(out, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(out, "f.txt"), []byte(secret), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(filepath.Join(root, "sub")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(out, filepath.Join(root, "sub")); err != nil {
				t.Fatal(err)
			}
		},
		"fifo": func(t *testing.T, root string, u *focus.Upload) {
			replace(t, filepath.Join(root, u.Path), func(tmp string) error { return syscall.Mkfifo(tmp, 0o644) })
		},
		"device": func(t *testing.T, root string, u *focus.Upload) {
			replace(t, filepath.Join(root, u.Path), func(tmp string) error {
				return syscall.Mknod(tmp, syscall.S_IFCHR|0o644, 1<<8|3)
			})
		},
		"another file of the same size": func(t *testing.T, root string, u *focus.Upload) {
			replace(t, filepath.Join(root, u.Path), func(tmp string) error {
				return os.WriteFile(tmp, []byte(strings.Repeat("y", len(secret))), 0o600)
			})
		},
		"changed in place, same size": func(t *testing.T, root string, u *focus.Upload) {
			f, err := os.OpenFile(filepath.Join(root, u.Path), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte("Z"), 3); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, swap := range cases {
		t.Run(name, func(t *testing.T) {
			srv, c := startEmulator(t, focustest.Options{})
			watch := focustest.NewSecretWatch([]byte(secret), 12)
			srv.SetBodyTap(watch.Tap)
			root := filepath.Join(t.TempDir(), "folder")
			good := scanned(t, root, "good.txt", "fine")
			bad := scanned(t, root, "sub/report.txt", same)
			swap(t, root, &bad)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := c.BulkCreate(ctx, emuTask, []focus.Upload{good, bad})
			if !errors.Is(err, focus.ErrNotScanned) {
				t.Fatalf("BulkCreate = %v, want ErrNotScanned", err)
			}
			if ctx.Err() != nil {
				t.Fatal("the upload blocked")
			}
			if n := len(srv.AllAttachments(emuTask.TaskID)); n != 0 {
				t.Errorf("the server stored %d attachments, want none", n)
			}
			if n := watch.Seen(); n != 0 {
				t.Errorf("%d request bodies held bytes of the secret", n)
			}
			// Create alone takes the same path.
			if _, err := c.Create(ctx, emuTask, bad); !errors.Is(err, focus.ErrNotScanned) {
				t.Errorf("Create = %v, want ErrNotScanned", err)
			}
		})
	}
}

// TestUpload_ScannedFileGoesUp: the checks let the scanned file through, with a
// Root and a '/' path, and without (a local path).
func TestUpload_ScannedFileGoesUp(t *testing.T) {
	srv, c := startEmulator(t, focustest.Options{})
	root := t.TempDir()
	u := scanned(t, root, "d/e/f.txt", "content of f")
	plain, _ := localFile(t, "plain.txt", "plain", 2)
	as, err := c.BulkCreate(context.Background(), emuTask, []focus.Upload{u, plain})
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 || len(srv.Attachments(emuTask.TaskID)) != 2 {
		t.Fatalf("created %v, want 2", as)
	}
	// A local path whose last component is a symlink is refused too.
	link := filepath.Join(t.TempDir(), "link.txt")
	if err := os.Symlink(plain.Path, link); err != nil {
		t.Fatal(err)
	}
	plain.Path = link
	if _, err := c.Create(context.Background(), emuTask, plain); !errors.Is(err, focus.ErrNotScanned) {
		t.Errorf("Create through a symlink = %v, want ErrNotScanned", err)
	}
}

// replace puts what make creates at p, the way an attacker swaps a file:
// create beside it, rename over it.
func replace(t *testing.T, p string, make func(tmp string) error) {
	t.Helper()
	tmp := p + ".swap"
	if err := make(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

// TestUpload_HashedWhileSent: a file sent without a Hash is hashed as it goes,
// and Sum receives the SHA-256 of the bytes sent, for Create and BulkCreate.
func TestUpload_HashedWhileSent(t *testing.T) {
	srv, c := startEmulator(t, focustest.Options{})
	root := t.TempDir()
	var us []focus.Upload
	sums := make([]string, 3)
	for i, data := range []string{"alpha", "", strings.Repeat("gamma ", 50000)} {
		u := scanned(t, root, fmt.Sprintf("f%d.txt", i), data)
		u.Hash = ""
		u.Sum = &sums[i]
		us = append(us, u)
	}
	if _, err := c.BulkCreate(context.Background(), emuTask, us[:2]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(context.Background(), emuTask, us[2]); err != nil {
		t.Fatal(err)
	}
	stored := map[string]string{}
	for _, a := range srv.AllAttachments(emuTask.TaskID) {
		stored[a.Name] = a.SHA256
	}
	for i, u := range us {
		want := scanned(t, root, u.Path+".ref", map[int]string{0: "alpha", 1: "", 2: strings.Repeat("gamma ", 50000)}[i]).Hash
		if sums[i] != want || stored[u.Name] != want {
			t.Errorf("%s: Sum %q, stored %q, want %q", u.Path, sums[i], stored[u.Name], want)
		}
	}
}

// TestUpload_WrittenToWhileSent: a file with ModTime set whose mtime is another
// once its last byte is read (written to in place, same size) fails the request
// with ErrFileChanged before its body ends; nothing is stored and Sum stays empty.
func TestUpload_WrittenToWhileSent(t *testing.T) {
	srv, c := startEmulator(t, focustest.Options{})
	root := t.TempDir()
	good := scanned(t, root, "good.txt", "fine")
	u := scanned(t, root, "busy.txt", "before the write")
	p := filepath.Join(root, "busy.txt")
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	u.Hash, u.ModTime = "", fi.ModTime()
	var sum string
	u.Sum = &sum
	if err := os.WriteFile(p, []byte("after the write!"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime().Add(-10*time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = c.BulkCreate(context.Background(), emuTask, []focus.Upload{good, u})
	if !errors.Is(err, focus.ErrFileChanged) {
		t.Fatalf("BulkCreate = %v, want ErrFileChanged", err)
	}
	if _, err := c.Create(context.Background(), emuTask, u); !errors.Is(err, focus.ErrFileChanged) {
		t.Errorf("Create = %v, want ErrFileChanged", err)
	}
	if n := len(srv.AllAttachments(emuTask.TaskID)); n != 0 {
		t.Errorf("the server stored %d attachments, want none", n)
	}
	if sum != "" {
		t.Errorf("Sum = %q after a failed upload, want it empty", sum)
	}
}
