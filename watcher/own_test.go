package watcher

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/focussync/focussync/config"
)

// TestScan_OwnFilesNeverInScope: the state db and its companions are never
// scanned, also when the folder is reached through a symlink, while files with
// similar names are.
func TestScan_OwnFilesNeverInScope(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"state.db":                          "db",
		"state.db.damaged-20261202T081500Z": "old db",
		"state.db-journal":                  "j",
		"sub/state.db":                      "another folder's db is a plain file here",
		"state.dbx":                         "user file",
		"state.txt":                         "user file",
		"a.txt":                             "a",
	})
	SetOwnFiles(filepath.Join(root, "state.db"))
	t.Cleanup(func() { SetOwnFiles() })
	want := []string{"a.txt", "state.dbx", "state.txt", "sub/state.db"}
	snap := mustScan(t, ScanOptions{Folder: config.Folder{Path: root, Recursive: true}})
	if got := sortedKeys(snap.Files); !slices.Equal(got, want) {
		t.Errorf("files = %q, want %q", got, want)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(root, link); err != nil {
		t.Fatal(err)
	}
	snap = mustScan(t, ScanOptions{Folder: config.Folder{Path: link, Recursive: true}})
	if got := sortedKeys(snap.Files); !slices.Equal(got, want) {
		t.Errorf("through a symlinked root: files = %q, want %q", got, want)
	}
}
