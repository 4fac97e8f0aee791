package watcher

import "time"

// File is one settled, readable, in-scope local file.
type File struct {
	Path    string // relative to the root, with '/'; may hold non-UTF-8 bytes
	Size    int64
	ModTime time.Time
	Inode   uint64
	Device  uint64 // st_dev of the file when it was scanned; 0 when unknown
	Hash    string // hex SHA-256; "" for a file left to be hashed later (ScanOptions.Unhashed)
}

// Snapshot is the result of one scan of a folder.
type Snapshot struct {
	Root      string
	Device    uint64 // device id of the root
	ScannedAt time.Time
	Files     map[string]File // by Path

	// Held are files that exist but are not ready to sync (still changing within
	// settle, too large, unreadable), by path, with the reason. They are neither
	// uploaded nor deleted remotely.
	Held map[string]string
	// HeldKinds says, by path, why each held file is held, as a value to test.
	HeldKinds map[string]HoldKind

	// FailedDirs are directories (relative, with '/'; "" is the root) that could not
	// be listed: nothing under them is deleted remotely.
	FailedDirs []string

	// Errors are the problems met, one per file or directory, for reporting.
	Errors []FileError
}

// HoldKind says why a file is held.
type HoldKind string

// The kinds of held files.
const (
	// HoldSettling is a file still changing: it changed within the settle time
	// (or its clock is ahead), or while it was hashed. A later pass takes it.
	HoldSettling HoldKind = "settling"
	// HoldTooLarge is a file larger than max_file_size.
	HoldTooLarge HoldKind = "too-large"
	// HoldUnreadable is a file that could not be examined or read.
	HoldUnreadable HoldKind = "unreadable"
)

// FileError is a problem with one path; the scan carries on.
type FileError struct {
	Path string
	Err  error
}

func (e FileError) Error() string { return e.Path + ": " + e.Err.Error() }

// Present reports whether path exists locally (settled or held), or lies under a
// directory that could not be listed, so that its remote copy must be kept.
func (s *Snapshot) Present(path string) bool {
	if _, ok := s.Files[path]; ok {
		return true
	}
	if _, ok := s.Held[path]; ok {
		return true
	}
	for _, d := range s.FailedDirs {
		if d == "" || path == d || (len(path) > len(d) && path[:len(d)] == d && path[len(d)] == '/') {
			return true
		}
	}
	return false
}
