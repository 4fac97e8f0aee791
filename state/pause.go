package state

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// keyPause holds a folder's pause, in its meta bucket beside keyMeta: a person
// paused the folder and it stays paused, across restarts, until resumed. It is kept
// apart from Meta, which every pass writes back whole, so that a pass under way
// cannot undo a pause given meanwhile. Older builds ignore the key.
var keyPause = []byte("paused")

// Pause is a folder paused by a person.
type Pause struct {
	Reason string    // as given, e.g. "paused by root"
	Since  time.Time // when it was paused
}

// SetPause records that the folder is paused (p non-nil) or no longer paused (nil).
func (s *Store) SetPause(k FolderKey, p *Pause) error {
	name, err := k.bucketName()
	if err != nil {
		return fmt.Errorf("pause folder: %w", err)
	}
	var v []byte
	if p != nil {
		e := encoder{b: []byte{valueFormat}}
		e.str(p.Reason)
		if err := e.time(p.Since); err != nil {
			return fmt.Errorf("pause folder %s: %w", k, err)
		}
		v = seal(keyPause, e.b)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if v == nil {
			fb := tx.Bucket(name)
			if fb == nil || fb.Bucket(keyMeta) == nil {
				return nil
			}
			return fb.Bucket(keyMeta).Delete(keyPause)
		}
		fb, err := tx.CreateBucketIfNotExists(name)
		if err != nil {
			return err
		}
		mb, err := fb.CreateBucketIfNotExists(keyMeta)
		if err != nil {
			return err
		}
		return mb.Put(keyPause, v)
	})
	if err != nil {
		return fmt.Errorf("pause folder %s in %s: %w", k, s.path, err)
	}
	return nil
}

// Paused returns the folder's pause, or nil when it is not paused.
func (s *Store) Paused(k FolderKey) (*Pause, error) {
	name, err := k.bucketName()
	if err != nil {
		return nil, fmt.Errorf("read pause: %w", err)
	}
	var p *Pause
	err = s.db.View(func(tx *bolt.Tx) error {
		fb := tx.Bucket(name)
		if fb == nil || fb.Bucket(keyMeta) == nil {
			return nil
		}
		v := fb.Bucket(keyMeta).Get(keyPause)
		if v == nil {
			return nil
		}
		v, err := unseal(keyPause, v)
		if err != nil {
			return err
		}
		d := newDecoder(string(v))
		p = &Pause{Reason: d.str(), Since: d.time()}
		return d.done()
	})
	if err != nil {
		return nil, fmt.Errorf("read pause of folder %s in %s: %w", k, s.path, err)
	}
	return p, nil
}
