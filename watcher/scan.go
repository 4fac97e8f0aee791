package watcher

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/internal/scope"
)

// Root-level failures. Scan returns one of them, wrapped with the root's path,
// instead of a snapshot; the caller pauses the folder (no deletes) until the
// root is healthy again. Test with errors.Is.
var (
	// ErrRootMissing means the folder's root does not exist.
	ErrRootMissing = errors.New("folder root is missing")
	// ErrRootNotDir means the folder's root exists but is not a directory.
	ErrRootNotDir = errors.New("folder root is not a directory")
	// ErrRootUnreadable means the folder's root cannot be examined or listed.
	ErrRootUnreadable = errors.New("folder root is unreadable")
	// ErrMarkerMissing means ScanOptions.Marker is set and that file is not in
	// the root (an unmounted share leaves an empty mount point behind).
	ErrMarkerMissing = errors.New("folder marker is missing")
)

// ErrFileTooLarge is wrapped by the FileError reported for a file larger than
// ScanOptions.MaxFileSize; such a file is also held.
var ErrFileTooLarge = errors.New("file larger than max_file_size")

// ScanOptions configures one Scan. The zero value of each optional field is a
// sensible default.
type ScanOptions struct {
	// Folder is the folder's settings; the scan uses its Path (absolute),
	// Recursive (descend into subdirectories; by default only the root's own
	// files are scanned), Include and Exclude (patterns of package scope;
	// exclusion wins and an excluded directory is not descended), Settle (hold a
	// file whose last change, mtime or ctime where the system keeps one, lies
	// within Settle of Now or in the future), MaxFileSize (hold and report larger
	// files; 0 means no limit) and Marker (a file, relative to the root, that must
	// exist or Scan fails with ErrMarkerMissing; never in scope itself).
	Folder config.Folder
	// Now is the time of the scan; zero means time.Now().
	Now time.Time
	// Cache returns what is known of a relative path from an earlier scan. A
	// file whose size, mtime and inode all match is not hashed again: the
	// cached hash is used. Nil means nothing is known. Scan calls it from one
	// goroutine at a time.
	Cache func(path string) (size int64, mtime time.Time, inode uint64, hash string, ok bool)
	// Unhashed, when set, is asked about each file that would be hashed (no
	// cached hash matches it): a file it reports true for is taken as it was
	// listed, with Hash "", and not read, for whoever reads it next (an upload)
	// to hash. Scan calls it from one goroutine at a time.
	Unhashed func(path string, size int64) bool
	// Files is how many files the folder is expected to hold (the records of
	// the previous scan, say), so that the snapshot is made that size at once
	// rather than grown file by file; 0 means unknown.
	Files int
	// HashWorkers is how many files are hashed at once; 0 means
	// min(4, GOMAXPROCS).
	HashWorkers int
	// Stats, when not nil, receives the scan's counters.
	Stats *ScanStats

	// readDir lists a directory; nil means the platform's own listing. Tests
	// set it to make a listing fail where file permissions cannot (as root).
	// Directories are read ahead, so it and beforeOpen are called from several
	// goroutines at once.
	readDir func(dir string) ([]fs.DirEntry, error)
	// openFile opens a file for hashing; nil means safefs.Open beneath Root.
	openFile func(name string) (*os.File, error)
	// beforeOpen, when set, is called with the relative path of a directory
	// about to be listed or a file about to be hashed: tests swap things there.
	beforeOpen func(rel string)
}

// ScanStats are the counters of one Scan.
type ScanStats struct {
	Files       int   // in-scope regular files found, settled or held
	Dirs        int   // directories listed, the root included
	Hashed      int   // files whose content was read and hashed
	HashedBytes int64 // bytes read while hashing
	Held        int   // files held (settling, too large, unreadable, changing)
	Errors      int   // problems reported in Snapshot.Errors
}

// Scan walks the folder described by opt and returns what is on disk: settled
// files with their hashes, held files with the reason, directories that could
// not be listed and the problems met. Problems with single files or
// subdirectories never stop the scan. A root that is missing, not a directory,
// unreadable or without its marker makes Scan return a nil snapshot and an
// error wrapping ErrRootMissing, ErrRootNotDir, ErrRootUnreadable or
// ErrMarkerMissing. A cancelled ctx stops the scan with ctx's error.
func Scan(ctx context.Context, opt ScanOptions) (*Snapshot, error) {
	if !filepath.IsAbs(opt.Folder.Path) {
		return nil, fmt.Errorf("scan %q: root is not an absolute path", opt.Folder.Path)
	}
	m, err := scope.NewMatcher(opt.Folder.Include, opt.Folder.Exclude)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", opt.Folder.Path, err)
	}
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	dev, err := checkRoot(opt.Folder.Path, opt.Folder.Marker)
	if err != nil {
		return nil, err
	}

	w := &walker{
		ctx:     ctx,
		opt:     &opt,
		now:     now,
		m:       m,
		marker:  cleanMarker(opt.Folder.Marker),
		own:     ownNames(opt.Folder.Path),
		readDir: opt.readDir,
		snap: &Snapshot{
			Root:      opt.Folder.Path,
			Device:    dev,
			ScannedAt: now,
			Files:     make(map[string]File, max(opt.Files, 0)),
			Held:      make(map[string]string),
			HeldKinds: make(map[string]HoldKind),
		},
	}
	if opt.Folder.Recursive {
		w.startReadAhead()
	}
	err = w.walkDir("", opt.Folder.Path, m.IncludesAll(), nil)
	if w.ahead != nil {
		w.stopReadAhead()
	}
	if err == nil {
		err = w.hashAll(hashWorkers(opt.HashWorkers))
	}
	slices.Sort(w.snap.FailedDirs)
	slices.SortStableFunc(w.snap.Errors, func(a, b FileError) int { return strings.Compare(a.Path, b.Path) })
	w.stats.Held = len(w.snap.Held)
	w.stats.Errors = len(w.snap.Errors)
	if opt.Stats != nil {
		*opt.Stats = w.stats
	}
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", opt.Folder.Path, err)
	}
	return w.snap, nil
}

// checkRoot verifies that root is a directory holding the marker (when one is
// set) and returns the root's device id.
func checkRoot(root, marker string) (uint64, error) {
	fi, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return 0, fmt.Errorf("scan %s: %w", root, ErrRootMissing)
	case err != nil:
		return 0, fmt.Errorf("scan %s: %w: %w", root, ErrRootUnreadable, err)
	case !fi.IsDir():
		return 0, fmt.Errorf("scan %s: %w", root, ErrRootNotDir)
	}
	if m := cleanMarker(marker); m != "" {
		if _, err := os.Lstat(filepath.Join(root, filepath.FromSlash(m))); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return 0, fmt.Errorf("scan %s: %w: %s", root, ErrMarkerMissing, m)
			}
			return 0, fmt.Errorf("scan %s: %w: %w", root, ErrMarkerMissing, err)
		}
	}
	dev, err := DeviceOf(root)
	if err != nil {
		return 0, fmt.Errorf("scan %s: %w: %w", root, ErrRootUnreadable, err)
	}
	return dev, nil
}

// cleanMarker turns a marker setting into a relative '/' path, "" for none.
func cleanMarker(marker string) string {
	if marker == "" {
		return ""
	}
	m := path.Clean("/" + filepath.ToSlash(marker))
	return strings.TrimPrefix(m, "/")
}

func hashWorkers(n int) int {
	if n > 0 {
		return n
	}
	return min(4, runtime.GOMAXPROCS(0))
}
