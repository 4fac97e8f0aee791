package watcher

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/focussync/focussync/internal/safefs"
	"github.com/focussync/focussync/internal/scope"
)

// walker holds the state of one Scan. Only the goroutine running Scan touches
// it, except hashAll's workers, which write to their own result slots, and the
// read-ahead workers, which fill the dirRead they were given.
type walker struct {
	ctx     context.Context
	opt     *ScanOptions
	now     time.Time
	m       *scope.Matcher
	marker  string
	own     map[string][]string // focussync's own files by directory (ownNames)
	readDir func(dir string) ([]fs.DirEntry, error)
	ahead   *readAhead // nil: every directory is read when the walk comes to it
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

// dirRead is one directory as read from disk: its entries and, for each that
// was a regular file when listed, its metadata from a stat right after the
// listing (the part of a walk that waits on the file system).
type dirRead struct {
	entries []fs.DirEntry
	stats   []fileStat // by index in entries
	err     error      // the listing's error; entries read before it are kept
	ready   chan struct{}
}

// fileStat is the stat of one listed regular file.
type fileStat struct {
	m   meta
	err error
}

// read lists the directory rel (full on disk) into d and stats its regular
// files. It sets every field of d but ready.
func (w *walker) read(d *dirRead, rel, full string) {
	entries, l, err := w.list(rel, full)
	d.entries, d.err = entries, err
	if l == nil {
		return
	}
	d.stats = make([]fileStat, len(entries))
	for i, e := range entries {
		if e.Type().IsRegular() && !scope.IgnoredByDefault(e.Name()) {
			d.stats[i].m, d.stats[i].err = l.stat(e)
		}
	}
	l.close()
}

// readAhead has subdirectories read while the walk is busy elsewhere, by up to
// readAheadWorkers goroutines, so that a walk over many directories does not
// wait on the file system one directory at a time. The walk still takes each
// directory in its own order, on its own goroutine: only the reading is early.
type readAhead struct {
	jobs    chan readJob
	wg      sync.WaitGroup
	pending int // read or being read, not yet taken by the walk (walk's goroutine only)
}

type readJob struct {
	rel, full string
	d         *dirRead
}

const (
	readAheadWorkers = 4
	readAheadDirs    = 16 // directories read ahead at most, to bound memory
)

func (w *walker) startReadAhead() {
	w.ahead = &readAhead{jobs: make(chan readJob, readAheadDirs)}
	for range readAheadWorkers {
		w.ahead.wg.Go(func() {
			for j := range w.ahead.jobs {
				if w.ctx.Err() == nil {
					w.read(j.d, j.rel, j.full)
				}
				close(j.d.ready)
			}
		})
	}
}

// stopReadAhead waits for the readers to finish what they started.
func (w *walker) stopReadAhead() {
	close(w.ahead.jobs)
	w.ahead.wg.Wait()
}

// early asks for the directory to be read ahead and returns its future read,
// or nil when as many are already pending (the walk then reads it itself).
func (w *walker) early(rel, full string) *dirRead {
	a := w.ahead
	if a == nil || a.pending >= readAheadDirs {
		return nil
	}
	d := &dirRead{ready: make(chan struct{})}
	a.jobs <- readJob{rel, full, d} // never blocks: fewer than cap(jobs) are pending
	a.pending++
	return d
}

// walkDir handles the directory rel (full on disk) and, depth first, the
// directories under it. d is its read when it was asked for early, else nil.
// included says whether an ancestor matched an include pattern. Only a
// cancelled context or an unreadable root end the walk with an error.
func (w *walker) walkDir(rel, full string, included bool, d *dirRead) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if d == nil {
		d = &dirRead{}
		w.read(d, rel, full)
	} else {
		select {
		case <-d.ready:
			w.ahead.pending--
		case <-w.ctx.Done():
			return w.ctx.Err()
		}
		if err := w.ctx.Err(); err != nil {
			return err // the read was skipped
		}
	}
	if err := d.err; err != nil {
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
	type subdir struct {
		rel      string
		full     string
		included bool
		d        *dirRead
	}
	var subdirs []subdir
	own := w.own[rel]
	rels := entryPaths(rel, d.entries)
	for i, e := range d.entries {
		name := e.Name()
		if scope.IgnoredByDefault(name) || own != nil && isOwn(own, name) {
			continue
		}
		t := e.Type()
		if t.IsDir() && !w.opt.Folder.Recursive || !t.IsDir() && !t.IsRegular() {
			continue // symlinks, devices, sockets and fifos are never synced
		}
		erel := rels[i]
		if erel == w.marker {
			continue
		}
		if t.IsDir() {
			if inc, descend := w.m.DirScope(erel, included); descend {
				subdirs = append(subdirs, subdir{rel: erel, full: joinPath(full, name), included: inc})
			}
		} else if w.m.FileScope(erel, included) && d.stats != nil {
			w.file(d.stats[i], erel, full, name)
		}
	}
	ahead := 0 // the subdirectories before this one were asked for early
	for i, sd := range subdirs {
		for ahead = max(ahead, i); ahead < len(subdirs); ahead++ {
			if subdirs[ahead].d = w.early(subdirs[ahead].rel, subdirs[ahead].full); subdirs[ahead].d == nil {
				break
			}
		}
		if err := w.walkDir(sd.rel, sd.full, sd.included, subdirs[i].d); err != nil {
			return err
		}
	}
	return nil
}

// entryPaths returns the path relative to the root of each entry of the
// directory rel, all carved from one string. The snapshot, and the records made
// from it, keep a path per file: one allocation per directory rather than one
// per file leaves the garbage collector a small fraction of the objects to visit
// in a large tree.
func entryPaths(rel string, entries []fs.DirEntry) []string {
	var b strings.Builder
	size := 0
	for _, e := range entries {
		size += len(rel) + 1 + len(e.Name())
	}
	b.Grow(size)
	for _, e := range entries {
		if rel != "" {
			b.WriteString(rel)
			b.WriteByte('/')
		}
		b.WriteString(e.Name())
	}
	all := b.String()
	paths := make([]string, len(entries))
	for i, e := range entries {
		n := len(e.Name())
		if rel != "" {
			n += len(rel) + 1
		}
		paths[i], all = all[:n], all[n:]
	}
	return paths
}

// file examines one in-scope regular file, rel (name in the directory dirFull
// on disk), as stat'ed after its directory was listed.
func (w *walker) file(st fileStat, rel, dirFull, name string) {
	m, err := st.m, st.err
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
