package watcher

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

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

// RemoteName returns the attachment name for a relative path: the path with
// '/', with any bytes that are not valid UTF-8 replaced by U+FFFD (each run of
// them by one, as strings.ToValidUTF8 does).
func RemoteName(rel string) string {
	if utf8.ValidString(rel) {
		return rel
	}
	return strings.ToValidUTF8(rel, "\uFFFD")
}

// formatSize renders a byte count with binary units and at most one decimal:
// "100 MiB", "1.5 GiB", "512 B".
func formatSize(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	num := strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0")
	return num + " " + units[i:i+1] + "iB"
}
