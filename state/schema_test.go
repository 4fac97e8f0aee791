package state

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestSchemaVersionMatchesMigrations(t *testing.T) {
	if SchemaVersion != len(migrations) {
		t.Fatalf("SchemaVersion = %d, but there are %d migrations", SchemaVersion, len(migrations))
	}
}

func schemaOf(t *testing.T, path string) int {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	if err := db.View(func(tx *bolt.Tx) error {
		var err error
		v, err = readSchema(tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

// rawDB writes a bbolt file by hand with fn.
func rawDB(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpen_NewDatabaseGetsSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := mustOpen(t, path)
	s.Close()
	if v := schemaOf(t, path); v != SchemaVersion {
		t.Errorf("schema = %d, want %d", v, SchemaVersion)
	}
}

func TestOpen_MigratesVersion0(t *testing.T) {
	// An empty bbolt file, as a crash right after bbolt's own initialisation leaves it.
	path := filepath.Join(t.TempDir(), "state.db")
	rawDB(t, path, func(*bolt.Tx) error { return nil })

	if _, err := Open(path, Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "older") {
		t.Errorf("read-only Open of schema 0: %v, want an error saying it is older", err)
	}
	s := mustOpen(t, path)
	mustCommit(t, s, folderA, Change{Put: []FileRecord{sampleRecord("a", 1)}})
	s.Close()
	if v := schemaOf(t, path); v != SchemaVersion {
		t.Errorf("schema = %d, want %d", v, SchemaVersion)
	}
}

func TestOpen_ForeignDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	rawDB(t, path, func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("somebody else's"))
		return err
	})
	_, err := Open(path, Options{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Errorf("Open of a foreign bbolt db: %v, want ErrCorrupt naming the file", err)
	}
}

func TestOpen_Migrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := mustOpen(t, path)
	mustCommit(t, s, folderA, Change{Put: []FileRecord{sampleRecord("a", 1)}})
	s.Close()

	var ran []string
	step := func(name string) migration {
		return func(tx *bolt.Tx) error {
			ran = append(ran, name)
			_, err := tx.Bucket(bucketMeta).CreateBucket([]byte(name))
			return err
		}
	}

	t.Run("a failing migration leaves the file as it was", func(t *testing.T) {
		ran = nil
		fail := func(*bolt.Tx) error { ran = append(ran, "fail"); return fmt.Errorf("boom") }
		_, err := open(path, Options{}, []migration{migrateV0toV1, migrateV1toV2, step("v3"), fail})
		if err == nil || !strings.Contains(err.Error(), "from schema 3 to 4") || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("open = %v, want the failure of migration 3 to 4", err)
		}
		if want := []string{"v3", "fail"}; fmt.Sprint(ran) != fmt.Sprint(want) {
			t.Errorf("ran %v, want %v", ran, want)
		}
		if v := schemaOf(t, path); v != 2 {
			t.Errorf("schema after failed migration = %d, want 2", v)
		}
		s := mustOpen(t, path) // still usable by this build, and v3's bucket is gone
		s.Close()
	})

	t.Run("pending migrations run in order", func(t *testing.T) {
		ran = nil
		s, err := open(path, Options{}, []migration{migrateV0toV1, migrateV1toV2, step("v3"), step("v4")})
		if err != nil {
			t.Fatalf("open with 4 migrations: %v", err)
		}
		if f := mustLoad(t, s, folderA); len(f.Files) != 1 {
			t.Errorf("records lost in migration: %+v", f)
		}
		s.Close()
		if want := []string{"v3", "v4"}; fmt.Sprint(ran) != fmt.Sprint(want) {
			t.Errorf("ran %v, want %v", ran, want)
		}
		if v := schemaOf(t, path); v != 4 {
			t.Errorf("schema = %d, want 4", v)
		}

		ran = nil
		s, err = open(path, Options{}, []migration{migrateV0toV1, migrateV1toV2, step("v3"), step("v4")})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if len(ran) != 0 {
			t.Errorf("reopen at the current schema ran %v", ran)
		}
	})

	t.Run("a newer schema is refused", func(t *testing.T) {
		for _, ro := range []bool{false, true} {
			_, err := Open(path, Options{ReadOnly: ro})
			if !errors.Is(err, ErrNewerSchema) {
				t.Fatalf("Open(ReadOnly=%v) = %v, want ErrNewerSchema", ro, err)
			}
			want := fmt.Sprintf("state db %s was written by a newer focussync (schema 4; this build knows %d)",
				path, SchemaVersion)
			if err.Error() != want {
				t.Errorf("error = %q\nwant %q", err, want)
			}
		}
	})
}
