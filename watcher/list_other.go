//go:build !linux

package watcher

import (
	"io/fs"
	"os"
)

// listDir reads the directory full; entries are stat'ed by path.
func listDir(full string, isRoot bool) ([]fs.DirEntry, listing, error) {
	entries, err := os.ReadDir(full)
	return entries, infoListing{}, err
}
