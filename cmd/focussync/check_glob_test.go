package main

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/watcher"
)

// TestCheck_AgreesWithTheScanner runs `focussync check` and a scan of the folder
// over each pattern: a pattern check accepts must scan, and one it refuses must
// be refused by the scanner too (there is one grammar, package scope).
func TestCheck_AgreesWithTheScanner(t *testing.T) {
	t.Setenv("FOCUS_API_TOKEN", "")
	for _, tc := range []struct {
		pattern string
		valid   bool
	}{
		{"/", false},
		{"a//b", false},
		{"../x", false},
		{"./", false},
		{"", false},
		{"[", false},
		{"sub/../x", false},
		{"**", true},
		{"*.tmp", true},
		{"sub/**/x", true},
		{"/anchored.txt", true},
		{"build/", true},
		{"./rel/*.pdf", true},
	} {
		for _, key := range []string{"include", "exclude"} {
			body := checkHead + checkFolder + key + " = [" + strconv.Quote(tc.pattern) + "]\n"
			path, dir := writeCheckConfig(t, body)
			code, _, errOut := runCheckCmd(t, "check", "--config", path)
			checked := code == 0
			_, scanErr := watcher.Scan(context.Background(), watcher.ScanOptions{
				Folder: config.Folder{Path: filepath.Join(dir, "a"), Include: only(key == "include", tc.pattern), Exclude: only(key == "exclude", tc.pattern)},
			})
			scanned := scanErr == nil
			if checked != scanned {
				t.Errorf("%s %q: check says valid=%v (%s), the scanner says valid=%v (%v)", key, tc.pattern, checked, errOut, scanned, scanErr)
			}
			if checked != tc.valid {
				t.Errorf("%s %q: check says valid=%v, want %v (stderr %s)", key, tc.pattern, checked, tc.valid, errOut)
			}
		}
	}
}

// only returns []string{s} when cond holds, nil otherwise.
func only(cond bool, s string) []string {
	if cond {
		return []string{s}
	}
	return nil
}
