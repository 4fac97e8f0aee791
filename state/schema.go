package state

import (
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Layout, schema 2 (schema 1 is the same, with unsealed values):
//
//	meta/                       store-wide bucket
//	    id       -> the store's random id (id.go), once asked for
//	    schema   -> uint64 big-endian schema version
//	    (sequence)              the last intent id handed out
//	<path> NUL <task id>/       one bucket per folder (the task id in decimal)
//	    files/   <path> -> record (codec.go)
//	    intents/ <id, uint64 big-endian> -> intent
//	    meta/    meta -> folder meta
//
// The store-wide bucket cannot clash with a folder bucket: folder bucket names
// always hold a NUL byte.
var (
	bucketMeta    = []byte("meta")
	keySchema     = []byte("schema")
	bucketFiles   = []byte("files")
	bucketIntents = []byte("intents")
	keyMeta       = []byte("meta")
)

// A migration brings the database from schema version i to i+1, where i is its
// index in the migration table. All pending migrations and the new version are
// written in one transaction: an upgrade either completes or leaves the file as it was.
type migration func(tx *bolt.Tx) error

// migrations is the table Open runs; its length is the schema version this build
// writes. Append to it, never edit or reorder it.
var migrations = []migration{
	migrateV0toV1,
	migrateV1toV2,
}

// SchemaVersion is the schema version this build reads and writes: the length of
// the migration table.
const SchemaVersion = 2

// migrateV0toV1 creates the store-wide bucket in a new database.
func migrateV0toV1(tx *bolt.Tx) error {
	_, err := tx.CreateBucketIfNotExists(bucketMeta)
	return err
}

// migrateV1toV2 changes nothing stored: from schema 2 on, values are written
// sealed with a checksum (seal.go), and unsealed values of schema 1 stay readable.
// The version tells an older build that it cannot read the file.
func migrateV1toV2(*bolt.Tx) error { return nil }

// readSchema returns the database's schema version: 0 for a new, empty database.
func readSchema(tx *bolt.Tx) (int, error) {
	mb := tx.Bucket(bucketMeta)
	if mb == nil {
		// A database without the store-wide bucket is new, unless it holds other
		// buckets: folder buckets of ours (the store-wide bucket was lost: damage),
		// or only buckets of another program.
		var first []byte
		ours := false
		_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			if first == nil {
				first = append([]byte(nil), name...)
			}
			if _, err := parseBucketName(name); err == nil {
				ours = true
				return errStop
			}
			return nil
		})
		switch {
		case ours:
			return 0, errors.New("folder buckets, but no store-wide meta bucket")
		case first != nil:
			return 0, &dbError{
				msg:  fmt.Sprintf("a bbolt database without focussync's buckets (it holds a bucket %q)", first),
				kind: ErrForeign,
			}
		}
		return 0, nil
	}
	v := mb.Get(keySchema)
	if len(v) != 8 {
		return 0, fmt.Errorf("bad schema version value %x", v)
	}
	return int(binary.BigEndian.Uint64(v)), nil
}

// upgrade checks the schema version and runs pending migrations (read-write only).
func (s *Store) upgrade(migs []migration) error {
	want := len(migs)
	var have int
	err := s.view("read", func(tx *bolt.Tx) error {
		var err error
		have, err = readSchema(tx)
		return err
	})
	if err != nil {
		return s.corrupt(err)
	}
	switch {
	case have == want:
		return nil
	case have > want:
		return &dbError{
			msg: fmt.Sprintf("state db %s was written by a newer focussync (schema %d; this build knows %d)",
				s.path, have, want),
			kind: ErrNewerSchema,
		}
	case s.readOnly:
		return fmt.Errorf("state db %s has schema %d, older than this build's %d: "+
			"open it read-write once (start the daemon) to upgrade it", s.path, have, want)
	}

	err = s.update("write", func(tx *bolt.Tx) error {
		have, err := readSchema(tx)
		if err != nil {
			return s.corrupt(err)
		}
		for v := have; v < want; v++ {
			if err := migs[v](tx); err != nil {
				return fmt.Errorf("migrate state db %s from schema %d to %d: %w", s.path, v, v+1, err)
			}
		}
		mb, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return fmt.Errorf("migrate state db %s: %w", s.path, err)
		}
		var buf [8]byte
		binary.BigEndian.PutUint64(buf[:], uint64(want))
		if err := mb.Put(keySchema, buf[:]); err != nil {
			return fmt.Errorf("migrate state db %s: write schema version: %w", s.path, err)
		}
		return nil
	})
	return err
}

// corrupt wraps a layout error found after bbolt itself opened the file.
func (s *Store) corrupt(err error) error {
	if de, ok := err.(*dbError); ok {
		if de.kind == ErrForeign {
			return &dbError{
				msg: fmt.Sprintf("%s is not a focussync state db (%s): it may belong to another program, so "+
					"focussync leaves it alone. Set [state] path to a file of focussync's own", s.path, de.msg),
				kind: ErrForeign,
			}
		}
		return err
	}
	return &dbError{
		msg:   fmt.Sprintf("state db %s is corrupt or not a focussync state db: %v", s.path, err),
		kind:  ErrCorrupt,
		cause: err,
	}
}
