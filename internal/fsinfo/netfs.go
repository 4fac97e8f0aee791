// Package fsinfo tells which filesystem a path is on, and whether it is a network
// or FUSE filesystem: the watcher polls such folders, and a state db or a lease
// file there deserves a warning.
package fsinfo

import (
	"os"
	"path/filepath"
)

// OnNetworkFS reports whether path, or the nearest existing directory above it
// when path does not exist yet, is on a network or FUSE filesystem, with the
// filesystem's name. It reports false when it cannot tell.
//
// A state db on such a filesystem risks hanging or corruption: bbolt relies on
// flock and mmap, which network filesystems do not implement faithfully.
func OnNetworkFS(path string) (bool, string) {
	p, err := filepath.Abs(path)
	if err != nil {
		return false, ""
	}
	for {
		if _, err := os.Stat(p); err == nil {
			break
		}
		parent := filepath.Dir(p)
		if parent == p {
			return false, ""
		}
		p = parent
	}
	name, network, err := FSType(p)
	if err != nil {
		return false, ""
	}
	return network, name
}
