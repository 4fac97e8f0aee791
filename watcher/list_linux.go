package watcher

import (
	"errors"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/focussync/focussync/internal/safefs"
)

// fdListing stats entries relative to the open directory, into a Stat_t on
// the stack: no path to build or resolve, no FileInfo to allocate.
type fdListing struct {
	dir *os.File
	fd  int
}

// listDir opens and reads the directory rel beneath root ("" is the root). No
// symlink is followed on the way: a directory swapped for a symlink is refused.
func listDir(root, rel string) ([]fs.DirEntry, listing, error) {
	f, err := safefs.OpenDir(root, rel)
	if err != nil {
		return nil, nil, err
	}
	entries, err := f.ReadDir(-1)
	return entries, &fdListing{dir: f, fd: int(f.Fd())}, err
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
		dev:     uint64(st.Dev),
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
