//go:build !linux

package fsinfo

import (
	"errors"
	"fmt"
)

// FSType returns the name of the filesystem holding path and whether it is a
// network (or FUSE) filesystem. This build cannot tell: it returns an error
// wrapping errors.ErrUnsupported.
func FSType(path string) (name string, network bool, err error) {
	return "", false, fmt.Errorf("filesystem type of %s: %w", path, errors.ErrUnsupported)
}
