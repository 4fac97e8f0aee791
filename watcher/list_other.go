//go:build !linux

package watcher

import (
	"io/fs"

	"github.com/focussync/focussync/internal/safefs"
)

// listDir reads the directory rel beneath root ("" is the root), following no
// symlink on the way; entries are stat'ed by path.
func listDir(root, rel string) ([]fs.DirEntry, listing, error) {
	f, err := safefs.OpenDir(root, rel)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	return entries, infoListing{}, err
}
