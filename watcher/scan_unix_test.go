//go:build unix

package watcher

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/focussync/focussync/config"
)

func TestScan_SkipsSymlinksAndSpecialFiles(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	writeTree(t, root, map[string]string{"real.txt": "r", "dir/in.txt": "i"})
	writeTree(t, outside, map[string]string{"target.txt": "t", "tdir/x.txt": "x"})
	for link, target := range map[string]string{
		"link.txt":     filepath.Join(outside, "target.txt"),
		"linkdir":      filepath.Join(outside, "tdir"),
		"inside.txt":   filepath.Join(root, "real.txt"),
		"dangling.txt": filepath.Join(root, "missing"),
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	var st ScanStats
	snap := mustScan(t, ScanOptions{Folder: config.Folder{Path: root, Recursive: true}, Stats: &st})
	if got, want := sortedKeys(snap.Files), []string{"dir/in.txt", "real.txt"}; !slices.Equal(got, want) {
		t.Errorf("files = %q, want %q", got, want)
	}
	if len(snap.Held) != 0 || len(snap.Errors) != 0 || st.Dirs != 2 {
		t.Errorf("held %v, errors %v, %d dirs; want none, none, 2", snap.Held, snap.Errors, st.Dirs)
	}
}

func TestDeviceOf(t *testing.T) {
	dir := t.TempDir()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := DeviceOf(dir)
	if want := uint64(fi.Sys().(*syscall.Stat_t).Dev); err != nil || dev != want {
		t.Errorf("DeviceOf(%s) = %d, %v; want %d", dir, dev, err, want)
	}
	if _, err := DeviceOf(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("DeviceOf(missing) error = %v, want ErrNotExist", err)
	}
}

// A root that is a symlink (say /srv/share -> /mnt/disk1/share) is followed;
// symlinks below it are not.
func TestScan_SymlinkedRoot(t *testing.T) {
	target := t.TempDir()
	writeTree(t, target, map[string]string{"a.txt": "a", "sub/b.txt": "b"})
	root := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(target, root); err != nil {
		t.Fatal(err)
	}
	snap := mustScan(t, ScanOptions{Folder: config.Folder{Path: root, Recursive: true}})
	if got, want := sortedKeys(snap.Files), []string{"a.txt", "sub/b.txt"}; !slices.Equal(got, want) {
		t.Errorf("files = %q, want %q", got, want)
	}
	if dev, _ := DeviceOf(target); snap.Device != dev {
		t.Errorf("Device = %d, want the target's %d", snap.Device, dev)
	}
}
