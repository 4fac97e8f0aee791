package state

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// FolderStats are counts for status displays, read without decoding whole records.
type FolderStats struct {
	Files       int  // records
	Managed     int  // records that own an attachment
	Refused     int  // records holding a refusal (RefusedHash set)
	OpenIntents int  // intents not yet ended
	Meta        Meta // the folder meta
}

// Stats returns the counts for the folder; a folder never seen gives zero counts.
func (s *Store) Stats(k FolderKey) (FolderStats, error) {
	name, err := k.bucketName()
	if err != nil {
		return FolderStats{}, fmt.Errorf("folder stats: %w", err)
	}
	var st FolderStats
	err = s.view("read", func(tx *bolt.Tx) error {
		fb := tx.Bucket(name)
		if fb == nil {
			return nil
		}
		var err error
		if st.Meta, err = readMeta(fb); err != nil {
			return err
		}
		if b := fb.Bucket(bucketFiles); b != nil {
			err := b.ForEach(func(p, v []byte) error {
				managed, refused, err := peekRecord(p, v)
				if err != nil {
					return fmt.Errorf("file %q: %w", p, err)
				}
				st.Files++
				if managed {
					st.Managed++
				}
				if refused {
					st.Refused++
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if b := fb.Bucket(bucketIntents); b != nil {
			c := b.Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				st.OpenIntents++
			}
		}
		return nil
	})
	if err != nil {
		return FolderStats{}, fmt.Errorf("folder stats %s from %s: %w", k, s.path, err)
	}
	return st, nil
}
