//go:build unix

package safefs

import (
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// tree makes a folder with a file, a subdirectory and, outside it, a secret.
func tree(t *testing.T) (root, secret string) {
	t.Helper()
	dir := t.TempDir()
	root = filepath.Join(dir, "folder")
	secret = filepath.Join(dir, "secret")
	for _, d := range []string{root, filepath.Join(root, "sub"), filepath.Join(dir, "outside")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(root, "a.txt"):           "inside",
		filepath.Join(root, "sub", "b.txt"):    "deeper",
		secret:                                 "the secret",
		filepath.Join(dir, "outside", "b.txt"): "outside b",
	}
	for p, c := range files {
		if err := os.WriteFile(p, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root, secret
}

// withWalk runs f with openat2 and, on Linux, again with the per-component walk.
func withWalk(t *testing.T, f func(t *testing.T)) {
	t.Run("default", f)
	if forceWalk != nil {
		t.Run("walk", func(t *testing.T) {
			defer forceWalk()()
			f(t)
		})
	}
}

func read(t *testing.T, f *os.File) string {
	t.Helper()
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOpen_RegularFiles(t *testing.T) {
	withWalk(t, func(t *testing.T) {
		root, _ := tree(t)
		for rel, want := range map[string]string{"a.txt": "inside", "sub/b.txt": "deeper"} {
			f, err := Open(root, rel)
			if err != nil {
				t.Fatalf("Open(%s): %v", rel, err)
			}
			if got := read(t, f); got != want {
				t.Errorf("Open(%s) reads %q, want %q", rel, got, want)
			}
		}
		// A root that is itself a symlink is followed: it is the configured path.
		link := root + "-link"
		if err := os.Symlink(root, link); err != nil {
			t.Fatal(err)
		}
		f, err := Open(link, "a.txt")
		if err != nil {
			t.Fatalf("Open through a symlinked root: %v", err)
		}
		f.Close()
	})
}

func TestOpen_RefusesSymlinks(t *testing.T) {
	withWalk(t, func(t *testing.T) {
		root, secret := tree(t)
		// The file itself, swapped for a symlink to a file outside.
		if err := os.Remove(filepath.Join(root, "a.txt")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(secret, filepath.Join(root, "a.txt")); err != nil {
			t.Fatal(err)
		}
		// A symlink to a file inside the folder is refused as well.
		if err := os.Symlink("sub/b.txt", filepath.Join(root, "inner.txt")); err != nil {
			t.Fatal(err)
		}
		// A directory on the way, swapped for a symlink to a directory outside.
		if err := os.RemoveAll(filepath.Join(root, "sub")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(filepath.Dir(root), "outside"), filepath.Join(root, "sub")); err != nil {
			t.Fatal(err)
		}
		for _, rel := range []string{"a.txt", "inner.txt", "sub/b.txt"} {
			f, err := Open(root, rel)
			if err == nil {
				t.Errorf("Open(%s) read %q through a symlink; want an error", rel, read(t, f))
				continue
			}
			if !errors.Is(err, ErrSymlink) || !Refused(err) {
				t.Errorf("Open(%s) = %v, want ErrSymlink", rel, err)
			}
		}
		if d, err := OpenDir(root, "sub"); err == nil || !errors.Is(err, ErrSymlink) {
			if d != nil {
				d.Close()
			}
			t.Errorf("OpenDir(sub) = %v, want ErrSymlink", err)
		}
	})
}

func TestOpen_SpecialFilesNeverBlock(t *testing.T) {
	withWalk(t, func(t *testing.T) {
		root, _ := tree(t)
		if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("unix", filepath.Join(root, "sock"))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		names := []string{"fifo", "sock", "sub"}
		if err := syscall.Mknod(filepath.Join(root, "null"), syscall.S_IFCHR|0o644, 1<<8|3); err == nil {
			names = append(names, "null") // the null device, 1:3 on Linux
		} else {
			t.Logf("mknod not permitted here (%v): the device case is left out", err)
		}
		for _, rel := range names {
			done := make(chan error, 1)
			go func() {
				f, err := Open(root, rel)
				if f != nil {
					f.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, ErrNotRegular) || !Refused(err) {
					t.Errorf("Open(%s) = %v, want ErrNotRegular", rel, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("Open(%s) blocked", rel)
			}
		}
	})
}

func TestOpen_BadPathsAndMissing(t *testing.T) {
	root, _ := tree(t)
	for _, rel := range []string{"../secret", "sub/../a.txt", "/etc/passwd", "./a.txt", "sub//b.txt"} {
		if f, err := Open(root, rel); !errors.Is(err, ErrBadPath) {
			if f != nil {
				f.Close()
			}
			t.Errorf("Open(%q) = %v, want ErrBadPath", rel, err)
		}
	}
	if _, err := Open(root, "nope.txt"); !errors.Is(err, fs.ErrNotExist) || Refused(err) {
		t.Errorf("Open(missing) = %v, want fs.ErrNotExist", err)
	}
	if _, err := Open(root, ""); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Open(root itself) = %v, want ErrNotRegular", err)
	}
}

func TestOpenDir_ListsInside(t *testing.T) {
	withWalk(t, func(t *testing.T) {
		root, _ := tree(t)
		for rel, want := range map[string]int{"": 2, "sub": 1} {
			d, err := OpenDir(root, rel)
			if err != nil {
				t.Fatalf("OpenDir(%q): %v", rel, err)
			}
			names, err := d.Readdirnames(-1)
			d.Close()
			if err != nil || len(names) != want {
				t.Errorf("OpenDir(%q) lists %v (%v), want %d entries", rel, names, err, want)
			}
		}
		if _, err := OpenDir(root, "a.txt"); err == nil {
			t.Error("OpenDir of a file succeeded")
		}
	})
}

func TestFileID(t *testing.T) {
	root, _ := tree(t)
	f, err := Open(root, "a.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	li, err := os.Lstat(filepath.Join(root, "a.txt"))
	if err != nil {
		t.Fatal(err)
	}
	d1, i1 := FileID(fi)
	d2, i2 := FileID(li)
	if i1 == 0 || d1 != d2 || i1 != i2 {
		t.Errorf("FileID = %d:%d by descriptor, %d:%d by path; want equal and non-zero", d1, i1, d2, i2)
	}
}
