package watcher

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/focussync/focussync/config"
)

// TestScan_UnhashedFilesAreNotRead: a file ScanOptions.Unhashed reports true for
// is in the snapshot with its stat and no hash, and is not read; the others are
// hashed as usual.
func TestScan_UnhashedFilesAreNotRead(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"new.bin": "new content", "old.txt": "old content"})
	var asked []string
	var st ScanStats
	snap := mustScan(t, ScanOptions{Folder: config.Folder{Path: root}, Stats: &st,
		Unhashed: func(path string, size int64) bool {
			asked = append(asked, path)
			return path == "new.bin" && size == int64(len("new content"))
		}})
	if len(asked) != 2 {
		t.Errorf("Unhashed asked about %v, want both files", asked)
	}
	n, ok := snap.Files["new.bin"]
	if !ok || n.Hash != "" || n.Size != int64(len("new content")) || n.Inode == 0 || n.ModTime.IsZero() {
		t.Errorf("new.bin = %+v, want its stat and no hash", n)
	}
	sum := sha256.Sum256([]byte("old content"))
	if o := snap.Files["old.txt"]; o.Hash != hex.EncodeToString(sum[:]) {
		t.Errorf("old.txt hash = %q, want %x", o.Hash, sum)
	}
	if st.Hashed != 1 || st.HashedBytes != int64(len("old content")) {
		t.Errorf("hashed %d files, %d bytes; want 1 file, %d bytes", st.Hashed, st.HashedBytes, len("old content"))
	}
}
