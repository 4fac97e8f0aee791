//go:build unix

package safefs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// fileFlags open a file for reading without blocking (a FIFO without a writer, a
// device) and without making a terminal the controlling one.
const fileFlags = unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC

// dirFlags open a directory; O_DIRECTORY refuses anything else before it is opened.
const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NONBLOCK | unix.O_CLOEXEC

// Open opens the regular file rel ('/'-separated, relative to root) for reading.
// No symlink is followed at any component of rel, and the open never blocks. A
// symlink on the way fails with an error wrapping ErrSymlink; a FIFO, socket,
// device or directory with one wrapping ErrNotRegular, checked on the open
// descriptor. Other errors are *fs.PathError (fs.ErrNotExist for a missing file).
func Open(root, rel string) (*os.File, error) {
	if rel == "" {
		return nil, pathError(root, rel, fmt.Errorf("%w: %w", ErrNotRegular, errors.New("the folder itself")))
	}
	fd, err := openBeneath(root, rel, fileFlags)
	if err != nil {
		return nil, pathError(root, rel, err)
	}
	return regular(fd, joinRoot(root, rel))
}

// OpenPath opens the regular file at a path the administrator chose (a config or
// token file, not a path inside a folder): symlinks are followed, but the open
// never blocks, and a FIFO, socket, device or directory is refused with an error
// wrapping ErrNotRegular.
func OpenPath(name string) (*os.File, error) {
	var fd int
	err := retryEINTR(func() (err error) {
		fd, err = unix.Open(name, fileFlags, 0)
		return err
	})
	if err != nil {
		if errors.Is(err, unix.ENXIO) {
			err = mapErr(err)
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return regular(fd, name)
}

// regular checks that fd is a regular file, makes it blocking and wraps it.
func regular(fd int, name string) (*os.File, error) {
	var st unix.Stat_t
	if err := retryEINTR(func() error { return unix.Fstat(fd, &st) }); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "fstat", Path: name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w (%s)", ErrNotRegular, kind(modeOf(uint32(st.Mode))))}
	}
	// A regular file ignores O_NONBLOCK, but reads should not depend on that.
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "fcntl", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// OpenDir opens the directory rel beneath root ("" is the root itself) the same
// way as Open: no symlink is followed on the way or at the end.
func OpenDir(root, rel string) (*os.File, error) {
	fd, err := openBeneath(root, rel, dirFlags)
	if err != nil {
		return nil, pathError(root, rel, err)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "fcntl", Path: joinRoot(root, rel), Err: err}
	}
	return os.NewFile(uintptr(fd), joinRoot(root, rel)), nil
}

// FileID returns the device and inode of fi (from Stat or Lstat, or a File's
// Stat); zeros when the system does not provide them.
func FileID(fi fs.FileInfo) (dev, ino uint64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0
	}
	return uint64(st.Dev), uint64(st.Ino)
}

// openRoot opens the folder's root directory, following a symlink there.
func openRoot(root string) (int, error) {
	var fd int
	err := retryEINTR(func() (err error) {
		fd, err = unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		return err
	})
	return fd, err
}

// walkBeneath opens rel beneath the open directory dirfd one component at a time:
// every directory with O_NOFOLLOW|O_DIRECTORY, the last component with flags and
// O_NOFOLLOW. It does not close dirfd.
func walkBeneath(dirfd int, parts []string, flags int) (int, error) {
	cur := dirfd
	defer func() {
		if cur != dirfd {
			unix.Close(cur)
		}
	}()
	for i, p := range parts {
		fl := flags | unix.O_NOFOLLOW
		if i < len(parts)-1 {
			fl = dirFlags | unix.O_NOFOLLOW
		}
		var fd int
		err := retryEINTR(func() (err error) {
			fd, err = unix.Openat(cur, p, fl, 0)
			return err
		})
		if err != nil {
			if errors.Is(err, unix.ENOTDIR) {
				// Tell a symlink from a file where a directory was expected.
				var st unix.Stat_t
				if unix.Fstatat(cur, p, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
					err = unix.ELOOP
				}
			}
			return -1, mapErr(err)
		}
		if cur != dirfd {
			unix.Close(cur)
		}
		cur = fd
	}
	fd := cur
	cur = dirfd // handed to the caller: not closed by the deferred function
	return fd, nil
}

// mapErr turns the errno of a refused symlink or special file into the
// package's errors; others are returned as they are.
func mapErr(err error) error {
	switch {
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.EMLINK) && emlinkIsSymlink:
		return ErrSymlink
	case errors.Is(err, unix.ENXIO):
		// Opening a unix socket (or a device without a driver) fails so.
		return fmt.Errorf("%w (a socket or a device)", ErrNotRegular)
	}
	return err
}

// modeOf turns the file type bits of st_mode into an fs.FileMode.
func modeOf(m uint32) fs.FileMode {
	switch m & unix.S_IFMT {
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	}
	return 0
}

func retryEINTR(f func() error) error {
	for {
		if err := f(); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func dupCloexec(fd int) (int, error) {
	return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
}
