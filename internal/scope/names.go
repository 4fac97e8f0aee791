package scope

import "strings"

// ignoredSuffixes are the endings of temporary and partial files written by
// editors, browsers and download tools; compared without regard to case.
var ignoredSuffixes = []string{
	".tmp", ".part", ".partial", ".crdownload", ".swp", ".swx",
}

// ignoredNames are system files; compared without regard to case.
var ignoredNames = []string{
	"Thumbs.db", "desktop.ini",
}

// IgnoredByDefault reports whether a base name is never synced, whatever the
// include patterns say: dotfiles and dot-directories (among them .DS_Store,
// LibreOffice's .~lock.* and focussync's own .focussync* files), Office
// owner files (~$*), backups ending in '~', temporary and partial downloads
// (*.tmp, *.part, *.partial, *.crdownload), vim swap files (*.swp, *.swx),
// Thumbs.db and desktop.ini.
func IgnoredByDefault(name string) bool {
	if name == "" || name[0] == '.' || name[len(name)-1] == '~' || strings.HasPrefix(name, "~$") {
		return true
	}
	for _, s := range ignoredSuffixes {
		if len(name) >= len(s) && strings.EqualFold(name[len(name)-len(s):], s) {
			return true
		}
	}
	for _, n := range ignoredNames {
		if strings.EqualFold(name, n) {
			return true
		}
	}
	return false
}
