package state

import (
	"unsafe"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// ReleaseMemory drops the pages of the db's memory map from the process's
// resident memory. bbolt maps the whole file and every page a pass reads stays
// resident (and counted in the RSS) until the system needs the memory; the
// pages stay in the page cache, and the next read maps them in again without
// reading the disk. The daemon calls it after a pass over a large folder,
// beside returning its heap. Errors are ignored: the pages then stay resident.
func (s *Store) ReleaseMemory() {
	_ = s.view("release", func(tx *bolt.Tx) error {
		// Within a transaction the map cannot move: bbolt remaps the file only
		// under its map lock, which a read transaction holds for reading.
		size := tx.Size()
		if size <= 0 {
			return nil
		}
		// The map is not Go memory: its address, which bbolt hands out as a
		// uintptr, stays valid while the transaction runs.
		info := s.db.Info()
		start := *(*unsafe.Pointer)(unsafe.Pointer(&info.Data))
		data := unsafe.Slice((*byte)(start), size)
		return unix.Madvise(data, unix.MADV_DONTNEED)
	})
}
