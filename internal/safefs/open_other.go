//go:build !unix

package safefs

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Open opens the regular file rel ('/'-separated, relative to root) for reading.
// On this system each component is examined with Lstat and refused when it is a
// symlink (or another reparse point), then the file is opened and checked to be
// the one examined.
func Open(root, rel string) (*os.File, error) {
	return open(root, rel, false)
}

// OpenDir opens the directory rel beneath root ("" is the root itself) the same
// way as Open.
func OpenDir(root, rel string) (*os.File, error) {
	return open(root, rel, true)
}

func open(root, rel string, dir bool) (*os.File, error) {
	parts, err := checkRel(rel)
	if err != nil {
		return nil, pathError(root, rel, err)
	}
	if len(parts) == 0 && !dir {
		return nil, pathError(root, rel, fmt.Errorf("%w (the folder itself)", ErrNotRegular))
	}
	p := root
	var last fs.FileInfo
	for i, part := range parts {
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		if fi.Mode()&(fs.ModeSymlink|fs.ModeIrregular) != 0 {
			return nil, pathError(root, rel, ErrSymlink)
		}
		if i < len(parts)-1 && !fi.IsDir() {
			return nil, pathError(root, rel, fmt.Errorf("%s is not a directory", part))
		}
		last = fi
	}
	if last != nil && (dir && !last.IsDir() || !dir && !last.Mode().IsRegular()) {
		return nil, pathError(root, rel, fmt.Errorf("%w (%s)", ErrNotRegular, kind(last.Mode())))
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	if last != nil {
		fi, err := f.Stat()
		if err != nil || !os.SameFile(fi, last) {
			f.Close()
			return nil, pathError(root, rel, fmt.Errorf("%w: replaced while it was opened", ErrSymlink))
		}
	}
	return f, nil
}

// OpenPath opens the regular file at a path the administrator chose (a config or
// token file): symlinks are followed; anything but a regular file is refused
// with an error wrapping ErrNotRegular.
func OpenPath(name string) (*os.File, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w (%s)", ErrNotRegular, kind(fi.Mode()))}
	}
	return os.Open(name)
}

// FileID returns zeros: device and inode numbers are not available here.
func FileID(fs.FileInfo) (dev, ino uint64) { return 0, 0 }
