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
}

// Store is the bbolt state database: per folder, the file records, the folder
// meta and the open intents. Its methods are safe for concurrent use.
type Store struct {
	db       *bolt.DB
	path     string
	readOnly bool
}

// Open opens the state database at path, creating it (0600, and its directory 0700)
// and bringing its schema up to date unless opts.ReadOnly is set. It fails with an
// error wrapping ErrLocked when another process holds the database, ErrNewerSchema
// when a newer focussync wrote it, ErrCorrupt when it is not a state database, and
// fs.ErrNotExist for a read-only open of a missing file.
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
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if opts.ReadOnly {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("open state db read-only: %w", err)
		}
		if fi.Size() == 0 {
			return nil, &dbError{
				msg:  fmt.Sprintf("state db %s is empty: it was never initialised (a read-write open creates it)", path),
				kind: ErrCorrupt,
			}
		}
	} else if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create state db directory: %w", err)
		}
	}

	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, ReadOnly: opts.ReadOnly})
	if err != nil {
		return nil, openError(path, err)
	}
	s := &Store{db: db, path: path, readOnly: opts.ReadOnly}
	if err := s.upgrade(migs); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
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
