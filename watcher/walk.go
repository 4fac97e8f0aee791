package watcher

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// walker holds the state of one Scan. Only the goroutine running Scan touches
// it, except hashAll's workers, which write to their own result slots.
type walker struct {
	ctx     context.Context
	opt     *ScanOptions
	now     time.Time
	m       *Matcher
	marker  string
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
}

// walkDir lists the directory rel (full on disk) and handles its entries.
// included says whether an ancestor matched an include pattern. Only a
// cancelled context or an unreadable root end the walk with an error.
func (w *walker) walkDir(rel, full string, included bool) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	entries, err := w.readDir(full)
	if err != nil {
		if rel == "" {
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
	for _, e := range entries {
		name := e.Name()
		if IgnoredByDefault(name) {
			continue
		}
		erel := name
		if rel != "" {
			erel = rel + "/" + name
		}
		if erel == w.marker {
			continue
		}
		switch t := e.Type(); {
		case t.IsDir():
			if !w.opt.Recursive {
				continue
			}
			inc, descend := w.m.dirScope(erel, included)
			if !descend {
				continue
			}
			if err := w.walkDir(erel, joinPath(full, name), inc); err != nil {
				return err
			}
		case t.IsRegular():
			if w.m.fileScope(erel, included) {
				w.file(e, erel, full)
			}
		default:
			// Symlinks, devices, sockets and fifos are never synced.
		}
	}
	return nil
}

// file examines one in-scope regular file listed in the directory dirFull.
func (w *walker) file(e fs.DirEntry, rel, dirFull string) {
	name := e.Name()
	fi, err := e.Info()
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			w.hold(rel, "unreadable: "+cause(err), fmt.Errorf("stat: %w", err))
			w.stats.Files++
		}
		return // vanished since the listing
	}
	if !fi.Mode().IsRegular() {
		return // replaced since the listing
	}
	w.stats.Files++
	size, mtime := fi.Size(), fi.ModTime()
	inode, ctime := fileIDs(fi)

	if limit := w.opt.MaxFileSize; limit > 0 && size > limit {
		w.hold(rel, "larger than max_file_size ("+formatSize(limit)+")",
			fmt.Errorf("%w (%s, limit %s)", ErrFileTooLarge, formatSize(size), formatSize(limit)))
		return
	}
	if reason, ok := w.settling(mtime, ctime); ok {
		w.snap.Held[rel] = reason
		return
	}
	if w.opt.Cache != nil {
		if csize, cmtime, cinode, chash, ok := w.opt.Cache(rel); ok && chash != "" &&
			csize == size && cinode == inode && cmtime.Equal(mtime) {
			w.snap.Files[rel] = File{Path: rel, Size: size, ModTime: mtime, Inode: inode, Hash: chash}
			return
		}
	}
	w.jobs = append(w.jobs, hashJob{
		rel:   rel,
		full:  joinPath(dirFull, name),
		size:  size,
		mtime: mtime,
		inode: inode,
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
	if age >= w.opt.Settle {
		return "", false
	}
	return "settling (changed " + age.Round(100*time.Millisecond).String() + " ago)", true
}

// hold records a held file with its reason and, when err is not nil, the
// problem behind it.
func (w *walker) hold(rel, reason string, err error) {
	w.snap.Held[rel] = reason
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
