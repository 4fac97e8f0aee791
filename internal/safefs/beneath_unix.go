//go:build unix && !linux

package safefs

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// emlinkIsSymlink: FreeBSD and its kin report O_NOFOLLOW on a symlink as EMLINK.
var emlinkIsSymlink = runtime.GOOS != "darwin"

// openBeneath opens rel beneath root with flags, one component at a time,
// following no symlink.
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
		return dupCloexec(dirfd)
	}
	return walkBeneath(dirfd, parts, flags)
}
