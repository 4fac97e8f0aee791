package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// DefaultTimeout is how long Open waits for another process to release the
// database lock when Options.Timeout is zero.
const DefaultTimeout = time.Second

// ErrLocked is returned (wrapped) by Open when another process holds the database.
var ErrLocked = errors.New("state db is in use by another process")

// ErrNewerSchema is returned (wrapped) by Open when the database was written by a
// newer focussync whose layout this build does not know.
var ErrNewerSchema = errors.New("state db schema is newer than this build")

// ErrCorrupt is returned (wrapped) by Open when the file is not a readable
// focussync state database.
var ErrCorrupt = errors.New("state db is corrupt or not a focussync state db")

// Options tune Open.
type Options struct {
	// Timeout is how long to wait for the lock held by another process;
	// zero means DefaultTimeout.
	Timeout time.Duration
	// ReadOnly opens an existing database with a shared lock, without creating,
	// migrating or writing it. Writes return an error.
	ReadOnly bool
	// MoveAsideDamaged makes a read-write Open that finds the db damaged rename it
	// to <path>.damaged-<UTC time> and start a new, empty one; Store.Recovered
	// then says what happened. A file that is not a focussync state db is never
	// moved (Open fails with ErrForeign).
	MoveAsideDamaged bool
}

// Store is the bbolt state database: per folder, the file records, the folder
// meta and the open intents. Its methods are safe for concurrent use.
type Store struct {
	db        *bolt.DB
	path      string
	readOnly  bool
	recovered *Recovery
}

// Open opens the state database at path, creating it (0600, and its directory 0700)
// and bringing its schema up to date unless opts.ReadOnly is set. Before bbolt maps
// the file, Open checks its whole structure and decodes every value with plain
// reads, in one walk of its pages (see walkImage), so that damage is found here
// and not in the middle of a pass. It fails with an error wrapping ErrLocked when another process holds the
// database, ErrNewerSchema when a newer focussync wrote it, ErrCorrupt when it is
// damaged (unless opts.MoveAsideDamaged), ErrForeign when it is another program's
// file, and fs.ErrNotExist for a read-only open of a missing file.
//
// Keep the database on a local disk: bbolt's lock and mmap are not reliable on a
// network filesystem (see OnNetworkFS).
func Open(path string, opts Options) (*Store, error) {
	return open(path, opts, migrations)
}

// open is Open with the migration table as a parameter, so that tests can run the
// migration mechanism with migrations of their own.
func open(path string, opts Options, migs []migration) (*Store, error) {
	if path == "" {
		return nil, errors.New("open state db: empty path")
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if !opts.ReadOnly {
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("create state db directory: %w", err)
			}
		}
	}
	s, err := openOnce(path, opts, migs)
	if err == nil || !opts.MoveAsideDamaged {
		return s, err
	}
	var moved *movedError
	if !errors.As(err, &moved) {
		return nil, err
	}
	s, err = openOnce(path, opts, migs)
	if err != nil {
		return nil, fmt.Errorf("%w (the damaged db was moved to %s)", err, moved.to)
	}
	s.recovered = &Recovery{MovedTo: moved.to, Reason: moved.reason}
	return s, nil
}

// movedError says that openOnce found the db damaged and moved it aside.
type movedError struct {
	to     string
	reason error
}

func (e *movedError) Error() string {
	return fmt.Sprintf("damaged state db moved to %s: %v", e.to, e.reason)
}

// openOnce opens and locks the file, verifies it, opens it with bbolt and checks
// its schema and values. With opts.MoveAsideDamaged a damaged file is renamed
// while still locked, and the error is a *movedError.
func openOnce(path string, opts Options, migs []migration) (*Store, error) {
	f, err := openLocked(path, opts)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open state db: %w", err)
	}
	aside := func(reason error) error {
		if opts.ReadOnly && errors.Is(reason, ErrCorrupt) && !errors.Is(reason, ErrForeign) {
			return &dbError{msg: reason.Error() + "; " + RecoveryHint, kind: ErrCorrupt, cause: reason}
		}
		if !opts.MoveAsideDamaged || opts.ReadOnly || errors.Is(reason, ErrForeign) || !errors.Is(reason, ErrCorrupt) {
			return reason
		}
		to, err := moveAside(path, time.Now())
		if err != nil {
			return fmt.Errorf("%w; %w", reason, err)
		}
		return &movedError{to: to, reason: reason}
	}
	if fi.Size() == 0 && opts.ReadOnly {
		f.Close()
		return nil, &dbError{
			msg:  fmt.Sprintf("state db %s is empty: it was never initialised (a read-write open creates it)", path),
			kind: ErrCorrupt,
		}
	}
	var layout error // a value or bucket that focussync's layout does not allow
	if fi.Size() > 0 {
		err := guard(path, "verify", func() error {
			v, err := walkImage(f, fi.Size())
			if v != nil {
				layout = v.layout
			}
			return err
		})
		if err != nil {
			var head [16]byte
			n, _ := f.ReadAt(head[:], 0)
			err = damaged(path, err, !looksLikeBolt(f, fi.Size()), head[:n])
			err = aside(err)
			f.Close()
			return nil, err
		}
	}

	var db *bolt.DB
	err = guard(path, "open", func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{
			Timeout:  opts.Timeout,
			ReadOnly: opts.ReadOnly,
			OpenFile: func(string, int, os.FileMode) (*os.File, error) { return f, nil },
		})
		return err
	})
	if err != nil {
		f.Close() // bbolt closed it already, unless it panicked
		if !errors.Is(err, ErrCorrupt) {
			err = openError(path, err)
		}
		return nil, aside(err)
	}
	s := &Store{db: db, path: path, readOnly: opts.ReadOnly}
	// The schema first: a file of another program or of a newer focussync
	// is reported as such, not as a damaged one.
	err = s.upgrade(migs)
	if err == nil && layout != nil {
		err = s.corrupt(layout)
	}
	if err != nil {
		err = aside(err)
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// openLocked opens the file at path as bbolt would and takes its lock; it makes
// sure that the locked file is still the one at path (another process may have
// moved a damaged db aside while this one waited).
func openLocked(path string, opts Options) (*os.File, error) {
	flag := os.O_RDWR | os.O_CREATE
	if opts.ReadOnly {
		flag = os.O_RDONLY
	}
	// A FIFO or device at the path would block the open or feed it garbage.
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, &dbError{
			msg:  fmt.Sprintf("state db %s is not a regular file (%s): focussync leaves it alone", path, fi.Mode().Type()),
			kind: ErrForeign,
		}
	}
	for range 3 {
		f, err := os.OpenFile(path, flag, 0o600)
		if err != nil {
			if opts.ReadOnly {
				return nil, fmt.Errorf("open state db read-only: %w", err)
			}
			return nil, fmt.Errorf("open state db: %w", err)
		}
		if err := lockFile(f, !opts.ReadOnly, opts.Timeout); err != nil {
			f.Close()
			if errors.Is(err, errLockTimeout) {
				return nil, openError(path, berrors.ErrTimeout)
			}
			return nil, fmt.Errorf("open state db: %w", err)
		}
		fi, err1 := f.Stat()
		pi, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(fi, pi) {
			return f, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("open state db %s: the file keeps being replaced", path)
}

// openError turns a bbolt Open error into one that says what happened to which file.
func openError(path string, err error) error {
	var pe *fs.PathError
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return &dbError{
			msg: fmt.Sprintf("state db %s is in use by another focussync process "+
				"(is the daemon running? stop it, or use 'focussync status')", path),
			kind:  ErrLocked,
			cause: err,
		}
	case errors.As(err, &pe):
		return fmt.Errorf("open state db: %w", err)
	default:
		return &dbError{
			msg:   fmt.Sprintf("state db %s is corrupt or not a focussync state db: %v", path, err),
			kind:  ErrCorrupt,
			cause: err,
		}
	}
}

// Close closes the database and releases its lock.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close state db %s: %w", s.path, err)
	}
	return nil
}

// Path returns the path the store was opened with.
func (s *Store) Path() string { return s.path }

// ReadOnly reports whether the store was opened read-only.
func (s *Store) ReadOnly() bool { return s.readOnly }

// dbError is an error with a plain message that matches a sentinel kind with
// errors.Is and still carries its cause.
type dbError struct {
	msg   string
	kind  error
	cause error
}

func (e *dbError) Error() string { return e.msg }

func (e *dbError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}
