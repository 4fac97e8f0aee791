//go:build !linux

package state

// ReleaseMemory does nothing where the map's pages are not released; see the
// Linux version.
func (s *Store) ReleaseMemory() {}
