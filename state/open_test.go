package state

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOpen_FileMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "dir")
	path := filepath.Join(dir, "state.db")
	mustOpen(t, path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode = %v, want 0600", got)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := di.Mode().Perm(); got != 0o700 {
		t.Errorf("directory mode = %v, want 0700", got)
	}
}

func TestOpen_ReadOnly(t *testing.T) {
	dir := t.TempDir()

	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(dir, "missing.db")
		_, err := Open(path, Options{ReadOnly: true})
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Open read-only of a missing file: %v, want fs.ErrNotExist", err)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("read-only open created the file (stat: %v)", err)
		}
	})

	t.Run("existing file", func(t *testing.T) {
		path := filepath.Join(dir, "state.db")
		rw, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		mustCommit(t, rw, folderA, Change{Put: []FileRecord{sampleRecord("a", 1)}})
		if err := rw.Close(); err != nil {
			t.Fatal(err)
		}

		ro1, err := Open(path, Options{ReadOnly: true, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatalf("read-only Open: %v", err)
		}
		defer ro1.Close()
		// Read-only opens share the lock.
		ro2, err := Open(path, Options{ReadOnly: true, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatalf("second read-only Open: %v", err)
		}
		defer ro2.Close()
		if !ro1.ReadOnly() {
			t.Error("ReadOnly() = false")
		}
		if f := mustLoad(t, ro1, folderA); len(f.Files) != 1 {
			t.Errorf("read-only Load: %d files, want 1", len(f.Files))
		}
		if st, err := ro2.Stats(folderA); err != nil || st.Files != 1 {
			t.Errorf("read-only Stats = %+v, %v", st, err)
		}
		if err := ro1.Commit(folderA, Change{Delete: []string{"a"}}); err == nil {
			t.Error("Commit on a read-only store succeeded")
		}
		if err := ro1.BeginIntent(folderA, &Intent{Op: IntentDelete}); err == nil {
			t.Error("BeginIntent on a read-only store succeeded")
		}
	})

	t.Run("empty file", func(t *testing.T) {
		path := filepath.Join(dir, "empty.db")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path, Options{ReadOnly: true})
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("read-only Open of an empty file: %v, want an error naming %s", err, path)
		}
	})
}

func TestOpen_Garbage(t *testing.T) {
	for name, content := range map[string][]byte{
		"short":  []byte("this is not a database\n"),
		"8 KiB":  []byte(strings.Repeat("garbage!", 1024)),
		"64 KiB": []byte(strings.Repeat("\x00\x01\xfe\xff", 16*1024)),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, ro := range []bool{false, true} {
				s, err := Open(path, Options{ReadOnly: ro})
				if err == nil {
					s.Close()
					t.Fatalf("Open(ReadOnly=%v) of garbage succeeded", ro)
				}
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
					t.Errorf("Open(ReadOnly=%v) = %v; want ErrCorrupt naming %s", ro, err, path)
				}
			}
			got, _ := os.ReadFile(path)
			if string(got) != string(content) {
				t.Error("Open changed the garbage file")
			}
		})
	}
}
