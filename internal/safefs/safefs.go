// Package safefs opens files and directories inside a synced folder as a share
// that anyone may write to requires: relative to the folder's root, without
// following a symbolic link at any component, and without blocking on a FIFO or a
// device. A file opened through it is a regular file (checked on the open
// descriptor, not by path), so what is read from it lies inside the folder.
//
// The root itself is opened as configured (a root that is a symlink is followed:
// it is the administrator's choice, not the share's). On Linux the whole path is
// resolved by the kernel in one openat2 call with RESOLVE_BENEATH and
// RESOLVE_NO_SYMLINKS; where openat2 is missing (kernels before 5.6, some
// sandboxes) and on other unix systems, each directory on the way is opened with
// openat and O_NOFOLLOW|O_DIRECTORY, then the file with O_NOFOLLOW.
package safefs

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

var (
	// ErrSymlink is wrapped when a component of the path (the file itself or a
	// directory on the way) is a symbolic link, which is never followed.
	ErrSymlink = errors.New("a symbolic link is in the way (not followed)")
	// ErrNotRegular is wrapped when the path names something other than a regular
	// file: a FIFO, a socket, a device or a directory. Nothing is read from it.
	ErrNotRegular = errors.New("not a regular file")
	// ErrBadPath is wrapped when the relative path is empty, absolute, or holds
	// "." or ".." components.
	ErrBadPath = errors.New("not a clean relative path")
)

// Refused reports whether err is a refusal of safefs (a symlink on the way, a file
// that is not regular), as opposed to a file that is missing or unreadable.
func Refused(err error) bool {
	return errors.Is(err, ErrSymlink) || errors.Is(err, ErrNotRegular)
}

// checkRel splits a clean, '/'-separated relative path into its components.
// "" names the root itself and has no components.
func checkRel(rel string) ([]string, error) {
	if rel == "" {
		return nil, nil
	}
	parts := strings.Split(rel, "/")
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || strings.ContainsRune(p, 0) {
			return nil, fmt.Errorf("%q: %w", rel, ErrBadPath)
		}
	}
	return parts, nil
}

// kind names the type of a file mode for messages.
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a fifo"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "not a regular file"
}

// pathError builds the error of an open of rel beneath root.
func pathError(root, rel string, err error) error {
	name := rel
	if name == "" {
		name = "."
	}
	return &fs.PathError{Op: "open", Path: joinRoot(root, name), Err: err}
}

func joinRoot(root, rel string) string {
	if rel == "." {
		return root
	}
	if strings.HasSuffix(root, "/") {
		return root + rel
	}
	return root + "/" + rel
}
