package watcher

import (
	"path/filepath"
	"strings"
	"sync"
)

// ownFiles holds the absolute paths, with symlinks resolved, of focussync's own
// files (the state db), registered with SetOwnFiles.
var ownFiles struct {
	mu    sync.Mutex
	paths []string
}

// SetOwnFiles registers focussync's own files (the state db, its control socket)
// by absolute path. No Scan ever takes one of them, nor a companion: a file
// whose name is the registered name followed by "." or "-" (a lock, a journal,
// a damaged db moved aside as state.db.damaged-...). Folders are shares that
// others write to; the state db should never be in one (config validation
// refuses it), and this keeps it from being uploaded even when a symlink or a
// bind mount puts it there. Dotfiles, such as a lease record in a folder, are
// never synced anyway (scope.IgnoredByDefault).
func SetOwnFiles(paths ...string) {
	var resolved []string
	for _, p := range paths {
		if p == "" || !filepath.IsAbs(p) {
			continue
		}
		p = filepath.Clean(p)
		resolved = append(resolved, p)
		if dir, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
			if r := filepath.Join(dir, filepath.Base(p)); r != p {
				resolved = append(resolved, r)
			}
		}
	}
	ownFiles.mu.Lock()
	ownFiles.paths = resolved
	ownFiles.mu.Unlock()
}

// ownNames returns, for a scan of root, the base names of focussync's own files
// under it by the relative path of their directory ("" for the root); nil when
// there are none.
func ownNames(root string) map[string][]string {
	ownFiles.mu.Lock()
	paths := ownFiles.paths
	ownFiles.mu.Unlock()
	if len(paths) == 0 {
		return nil
	}
	roots := []string{filepath.Clean(root)}
	if r, err := filepath.EvalSymlinks(root); err == nil && r != roots[0] {
		roots = append(roots, r)
	}
	var own map[string][]string
	for _, p := range paths {
		for _, r := range roots {
			rel, err := filepath.Rel(r, filepath.Dir(p))
			if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				continue
			}
			if rel == "." {
				rel = ""
			}
			if own == nil {
				own = map[string][]string{}
			}
			own[filepath.ToSlash(rel)] = append(own[filepath.ToSlash(rel)], filepath.Base(p))
		}
	}
	return own
}

// isOwn reports whether name is one of names or a companion of one.
func isOwn(names []string, name string) bool {
	for _, n := range names {
		if name == n || strings.HasPrefix(name, n) && (name[len(n)] == '.' || name[len(n)] == '-') {
			return true
		}
	}
	return false
}
