package state

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// keyID holds the store's id in the store-wide bucket.
var keyID = []byte("id")

// ID returns the store's random id, made when it is first asked for and kept in
// the database for good. Hosts that share a task tell by it whether the records
// of the last process that wrote to the task are this store's (and so up to
// date), or another's.
func (s *Store) ID() (string, error) {
	var id string
	err := s.db.View(func(tx *bolt.Tx) error {
		if mb := tx.Bucket(bucketMeta); mb != nil {
			id = string(mb.Get(keyID))
		}
		return nil
	})
	if err != nil || id != "" || s.readOnly {
		if err != nil {
			return "", fmt.Errorf("state db %s: read id: %w", s.path, err)
		}
		return id, nil
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("state db id: %w", err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		mb, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if cur := mb.Get(keyID); cur != nil {
			id = string(cur) // made meanwhile by another caller
			return nil
		}
		id = hex.EncodeToString(b[:])
		return mb.Put(keyID, []byte(id))
	})
	if err != nil {
		return "", fmt.Errorf("state db %s: write id: %w", s.path, err)
	}
	return id, nil
}
