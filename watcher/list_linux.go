package watcher

import (
	"errors"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// fdListing stats entries relative to the open directory, into a Stat_t on
// the stack: no path to build or resolve, no FileInfo to allocate.
type fdListing struct {
	dir *os.File
	fd  int
}

// listDir opens and reads the directory full. Below the root it refuses to
// follow a symlink that replaced a listed directory.
func listDir(full string, isRoot bool) ([]fs.DirEntry, listing, error) {
	flags := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	if !isRoot {
		flags |= unix.O_NOFOLLOW
	}
	var fd int
	err := retryEINTR(func() (err error) {
		fd, err = unix.Open(full, flags, 0)
		return err
	})
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: full, Err: err}
	}
	f := os.NewFile(uintptr(fd), full)
	entries, err := f.ReadDir(-1)
	return entries, &fdListing{dir: f, fd: fd}, err
}

func (l *fdListing) stat(e fs.DirEntry) (meta, error) {
	var st unix.Stat_t
	name := e.Name()
	err := retryEINTR(func() error {
		return unix.Fstatat(l.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	})
	if err != nil {
		return meta{}, &fs.PathError{Op: "lstat", Path: joinPath(l.dir.Name(), name), Err: err}
	}
	m := meta{
		regular: st.Mode&unix.S_IFMT == unix.S_IFREG,
		size:    st.Size,
		mtime:   time.Unix(st.Mtim.Unix()),
		inode:   st.Ino,
	}
	if sec, nsec := st.Ctim.Unix(); sec != 0 || nsec != 0 {
		m.ctime = time.Unix(sec, nsec)
	}
	return m, nil
}

func (l *fdListing) close() { l.dir.Close() }

func retryEINTR(f func() error) error {
	for {
		if err := f(); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
