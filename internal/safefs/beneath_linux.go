package safefs

import (
	"errors"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// emlinkIsSymlink: Linux reports a refused symlink as ELOOP only.
const emlinkIsSymlink = false

// noOpenat2 is set once openat2 turned out to be unavailable.
var noOpenat2 atomic.Bool

// openBeneath opens rel beneath root with flags, following no symlink.
func openBeneath(root, rel string, flags int) (int, error) {
	parts, err := checkRel(rel)
	if err != nil {
		return -1, err
	}
	dirfd, err := openRoot(root)
	if err != nil {
		return -1, err
	}
	defer unix.Close(dirfd)
	if len(parts) == 0 {
		// The root itself, as a directory: a fresh descriptor of it.
		return dupCloexec(dirfd)
	}
	if !noOpenat2.Load() {
		how := unix.OpenHow{
			Flags:   uint64(flags),
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		}
		var fd int
		err := retryEINTR(func() (err error) {
			fd, err = unix.Openat2(dirfd, strings.Join(parts, "/"), &how)
			return err
		})
		switch {
		case err == nil:
			return fd, nil
		case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM) && !errors.Is(probe(dirfd), unix.EPERM):
			// No openat2 here (an old kernel, or a sandbox that forbids it):
			// walk instead, from now on.
			noOpenat2.Store(true)
		case errors.Is(err, unix.E2BIG):
			noOpenat2.Store(true)
		default:
			return -1, mapErr(err)
		}
	}
	return walkBeneath(dirfd, parts, flags)
}

// probe tells an EPERM of a sandbox that refuses openat2 from one of the file
// system: it opens the directory itself with openat2.
func probe(dirfd int) error {
	how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH}
	fd, err := unix.Openat2(dirfd, ".", &how)
	if err == nil {
		unix.Close(fd)
	}
	return err
}
