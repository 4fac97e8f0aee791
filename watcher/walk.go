package watcher

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/focussync/focussync/internal/safefs"
	"github.com/focussync/focussync/internal/scope"
)

// walker holds the state of one Scan. Only the goroutine running Scan touches
// it, except hashAll's workers, which write to their own result slots.
type walker struct {
	ctx     context.Context
	opt     *ScanOptions
	now     time.Time
	m       *scope.Matcher
	marker  string
	own     map[string][]string // focussync's own files by directory (ownNames)
	readDir func(dir string) ([]fs.DirEntry, error)
	snap    *Snapshot
	jobs    []hashJob
	stats   ScanStats
}

// hashJob is a settled file whose content must be read.
type hashJob struct {
	rel   string
	full  string
	size  int64
	mtime time.Time
	inode uint64
	dev   uint64
}

// meta is what the scan needs to know of a listed file.
type meta struct {
	regular bool
	size    int64
	mtime   time.Time
	ctime   time.Time // zero when unknown
	inode   uint64
	dev     uint64
}

func metaOf(fi fs.FileInfo) meta {
	inode, ctime := fileIDs(fi)
	dev, _ := safefs.FileID(fi)
	return meta{regular: fi.Mode().IsRegular(), size: fi.Size(), mtime: fi.ModTime(), ctime: ctime, inode: inode, dev: dev}
}

// listing is one directory's entries with a way to stat them.
type listing interface {
	// stat returns the metadata of the entry, not following symlinks.
	stat(e fs.DirEntry) (meta, error)
	close()
}

// infoListing stats entries with fs.DirEntry.Info.
type infoListing struct{}

func (infoListing) stat(e fs.DirEntry) (meta, error) {
	fi, err := e.Info()
	if err != nil {
		return meta{}, err
	}
	return metaOf(fi), nil
}

func (infoListing) close() {}

// list reads the directory rel (full on disk).
func (w *walker) list(rel, full string) ([]fs.DirEntry, listing, error) {
	if w.opt.beforeOpen != nil {
		w.opt.beforeOpen(rel)
	}
	if w.readDir != nil {
		entries, err := w.readDir(full)
		return entries, infoListing{}, err
	}
	return listDir(w.opt.Folder.Path, rel)
}

// walkDir lists the directory rel (full on disk) and handles its entries.
// included says whether an ancestor matched an include pattern. Only a
// cancelled context or an unreadable root end the walk with an error.
func (w *walker) walkDir(rel, full string, included bool) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	entries, l, err := w.list(rel, full)
	if err != nil {
		if rel == "" {
			if l != nil {
				l.close()
			}
			return fmt.Errorf("%w: %w", ErrRootUnreadable, err)
		}
		// Nothing under a directory that could not be listed may be deleted
		// remotely. One that vanished meanwhile (perhaps renamed) is protected
		// the same way for this pass, without being reported as a problem.
		w.snap.FailedDirs = append(w.snap.FailedDirs, rel)
		if !errors.Is(err, fs.ErrNotExist) {
			w.addError(rel, fmt.Errorf("list directory: %w", err))
		}
		// Entries read before the failure are still handled below.
	}
	w.stats.Dirs++
	type subdir struct {
		rel      string
		name     string
		included bool
	}
	var subdirs []subdir
	own := w.own[rel]
	for _, e := range entries {
		name := e.Name()
		if scope.IgnoredByDefault(name) || own != nil && isOwn(own, name) {
			continue
		}
		t := e.Type()
		if t.IsDir() && !w.opt.Folder.Recursive || !t.IsDir() && !t.IsRegular() {
			continue // symlinks, devices, sockets and fifos are never synced
		}
		erel := name
		if rel != "" {
			erel = rel + "/" + name
		}
		if erel == w.marker {
			continue
		}
		if t.IsDir() {
			if inc, descend := w.m.DirScope(erel, included); descend {
				subdirs = append(subdirs, subdir{erel, name, inc})
			}
		} else if w.m.FileScope(erel, included) {
			w.file(l, e, erel, full)
		}
	}
	if l != nil {
		l.close()
	}
	for _, d := range subdirs {
		if err := w.walkDir(d.rel, joinPath(full, d.name), d.included); err != nil {
			return err
		}
	}
	return nil
}

// file examines one in-scope regular file listed in the directory dirFull.
func (w *walker) file(l listing, e fs.DirEntry, rel, dirFull string) {
	name := e.Name()
	m, err := l.stat(e)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			w.hold(rel, HoldUnreadable, "unreadable: "+cause(err), fmt.Errorf("stat: %w", err))
			w.stats.Files++
		}
		return // vanished since the listing
	}
	if !m.regular {
		return // replaced since the listing
	}
	w.stats.Files++

	if limit := w.opt.Folder.MaxFileSize; limit > 0 && m.size > limit {
		w.hold(rel, HoldTooLarge, "larger than max_file_size ("+formatSize(limit)+")",
			fmt.Errorf("%w (%s, limit %s)", ErrFileTooLarge, formatSize(m.size), formatSize(limit)))
		return
	}
	if reason, ok := w.settling(m.mtime, m.ctime); ok {
		w.hold(rel, HoldSettling, reason, nil)
		return
	}
	if w.opt.Cache != nil {
		if csize, cmtime, cinode, chash, ok := w.opt.Cache(rel); ok && chash != "" &&
			csize == m.size && cinode == m.inode && cmtime.Equal(m.mtime) {
			w.snap.Files[rel] = File{Path: rel, Size: m.size, ModTime: m.mtime, Inode: m.inode, Device: m.dev, Hash: chash}
			return
		}
	}
	if w.opt.Unhashed != nil && w.opt.Unhashed(rel, m.size) {
		w.snap.Files[rel] = File{Path: rel, Size: m.size, ModTime: m.mtime, Inode: m.inode, Device: m.dev}
		return
	}
	w.jobs = append(w.jobs, hashJob{
		rel:   rel,
		full:  joinPath(dirFull, name),
		size:  m.size,
		mtime: m.mtime,
		inode: m.inode,
		dev:   m.dev,
	})
}

// settling reports whether a file last changed at mtime (and ctime, zero when
// unknown) is still within the settle period, with the reason to show.
//
// The last change is the later of mtime and ctime. An mtime in the future is
// ignored when a ctime is known: the kernel sets ctime on every write and it
// cannot be set by hand, so a far-future mtime (an archive or camera with a
// wrong clock) does not hold the file until that date.
func (w *walker) settling(mtime, ctime time.Time) (string, bool) {
	changed := mtime
	if !ctime.IsZero() && (ctime.After(changed) || mtime.After(w.now)) {
		changed = ctime
	}
	if changed.After(w.now) {
		ahead := changed.Sub(w.now).Round(100 * time.Millisecond)
		return "settling (changed " + ahead.String() + " in the future)", true
	}
	age := w.now.Sub(changed)
	if age >= w.opt.Folder.Settle {
		return "", false
	}
	return "settling (changed " + age.Round(100*time.Millisecond).String() + " ago)", true
}

// hold records a held file with its kind and reason and, when err is not nil,
// the problem behind it.
func (w *walker) hold(rel string, kind HoldKind, reason string, err error) {
	w.snap.Held[rel] = reason
	w.snap.HeldKinds[rel] = kind
	if err != nil {
		w.addError(rel, err)
	}
}

func (w *walker) addError(rel string, err error) {
	w.snap.Errors = append(w.snap.Errors, FileError{Path: rel, Err: err})
}

// joinPath appends a base name to a directory path; unlike filepath.Join it
// does not clean, since both parts are already clean.
func joinPath(dir, name string) string {
	if dir != "" && os.IsPathSeparator(dir[len(dir)-1]) {
		return dir + name
	}
	return dir + string(os.PathSeparator) + name
}

// cause returns the innermost message of a path error ("permission denied"),
// without the absolute path that the relative path already conveys.
func cause(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
