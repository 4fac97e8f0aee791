package scope

import (
	"errors"
	"path"
	"testing"
)

func TestMatcher_Match(t *testing.T) {
	tests := []struct {
		name             string
		include, exclude []string
		rel              string
		isDir            bool
		want             bool
	}{
		{"no patterns, root file", nil, nil, "a.txt", false, true},
		{"no patterns, deep file", nil, nil, "x/y/a.txt", false, true},
		{"no patterns, dotfile", nil, nil, ".env", false, false},
		{"no patterns, under dot-dir", nil, nil, "x/.git/config", false, false},
		{"no patterns, dot-dir", nil, nil, ".git", true, false},
		{"no patterns, temp file deep", nil, nil, "x/report.docx.tmp", false, false},
		{"no patterns, office owner file", nil, nil, "x/~$report.docx", false, false},

		{"**/*.pdf at root", []string{"**/*.pdf"}, nil, "a.pdf", false, true},
		{"**/*.pdf deep", []string{"**/*.pdf"}, nil, "x/y/a.pdf", false, true},
		{"**/*.pdf other ext", []string{"**/*.pdf"}, nil, "x/a.txt", false, false},
		{"**/*.pdf walks any dir", []string{"**/*.pdf"}, nil, "x", true, true},
		{"*.docx base name at root", []string{"*.docx"}, nil, "a.docx", false, true},
		{"*.docx base name deep", []string{"*.docx"}, nil, "deep/er/b.docx", false, true},
		{"*.docx no match", []string{"*.docx"}, nil, "a.doc", false, false},
		{"dir matching *.docx includes contents", []string{"*.docx"}, nil, "a.docx/b.txt", false, true},
		{"reports/** inside", []string{"reports/**"}, nil, "reports/a.txt", false, true},
		{"reports/** deep inside", []string{"reports/**"}, nil, "reports/q1/a.txt", false, true},
		{"reports/** anchored", []string{"reports/**"}, nil, "old/reports/a.txt", false, false},
		{"reports/** outside", []string{"reports/**"}, nil, "a.txt", false, false},
		{"reports/** prunes other dirs", []string{"reports/**"}, nil, "other", true, false},
		{"reports/** walks reports", []string{"reports/**"}, nil, "reports", true, true},
		{"a/*/c.txt one level", []string{"a/*/c.txt"}, nil, "a/b/c.txt", false, true},
		{"a/*/c.txt two levels", []string{"a/*/c.txt"}, nil, "a/b/x/c.txt", false, false},
		{"a/*/c.txt walks a/b", []string{"a/*/c.txt"}, nil, "a/b", true, true},
		{"a/*/c.txt prunes a/b/x", []string{"a/*/c.txt"}, nil, "a/b/x", true, false},
		{"a/**/c.txt zero levels", []string{"a/**/c.txt"}, nil, "a/c.txt", false, true},
		{"a/**/c.txt many levels", []string{"a/**/c.txt"}, nil, "a/b/x/c.txt", false, true},
		{"a/**/**/c.txt collapsed", []string{"a/**/**/c.txt"}, nil, "a/c.txt", false, true},
		{"? one char", []string{"?.txt"}, nil, "a.txt", false, true},
		{"? not two chars", []string{"?.txt"}, nil, "ab.txt", false, false},
		{"/top.txt at root", []string{"/top.txt"}, nil, "top.txt", false, true},
		{"/top.txt anchored", []string{"/top.txt"}, nil, "sub/top.txt", false, false},
		{"./top.txt anchored", []string{"./top.txt"}, nil, "sub/top.txt", false, false},
		{"dir name includes contents", []string{"docs"}, nil, "x/docs/y/z.txt", false, true},
		{"include ignores built-in rules", []string{"**"}, nil, "a/.hidden", false, false},

		{"exclude reports/**", nil, []string{"reports/**"}, "reports/a.txt", false, false},
		{"exclude reports/** prunes", nil, []string{"reports/**"}, "reports", true, false},
		{"exclude reports/** elsewhere", nil, []string{"reports/**"}, "x/reports/a.txt", false, true},
		{"exclude base name dir", nil, []string{"build"}, "src/build/y.o", false, false},
		{"exclude base name not prefix", nil, []string{"build"}, "builder/y.o", false, true},
		{"exclude dir-only skips dirs", nil, []string{"build/"}, "build/y.o", false, false},
		{"exclude dir-only keeps file", nil, []string{"build/"}, "build", false, true},
		{"exclude *.log", nil, []string{"*.log"}, "x/y.log", false, false},
		{"exclude wins over include", []string{"*.pdf"}, []string{"secret/**"}, "secret/a.pdf", false, false},
		{"include with exclude elsewhere", []string{"*.pdf"}, []string{"secret/**"}, "open/a.pdf", false, true},
		{"exclude the included dir", []string{"reports/**"}, []string{"reports/tmp"}, "reports/tmp/a.txt", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewMatcher(tt.include, tt.exclude)
			if err != nil {
				t.Fatalf("NewMatcher(%q, %q): %v", tt.include, tt.exclude, err)
			}
			if got := m.Match(tt.rel, tt.isDir); got != tt.want {
				t.Errorf("Match(%q, dir=%v) with include %q exclude %q = %v, want %v",
					tt.rel, tt.isDir, tt.include, tt.exclude, got, tt.want)
			}
		})
	}
}

func TestNewMatcher_BadPatterns(t *testing.T) {
	for _, g := range []string{"", "/", "[", "a/[b/c", "a/../b", "a//b"} {
		if _, err := NewMatcher(nil, []string{g}); err == nil {
			t.Errorf("NewMatcher(exclude %q) succeeded, want an error", g)
		}
	}
	_, err := NewMatcher([]string{"ok/*.txt", "[x"}, nil)
	if !errors.Is(err, path.ErrBadPattern) {
		t.Errorf("NewMatcher(include [x) error = %v, want ErrBadPattern", err)
	}
	if err != nil && err.Error() != `include[1] "[x": syntax error in pattern` {
		t.Errorf("error message = %q, want it to name include[1] and the pattern", err)
	}
}

func TestIgnoredByDefault(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"~$report.docx", true},
		{".~lock.report.odt#", true},
		{"download.tmp", true},
		{"DOWNLOAD.TMP", true},
		{"video.part", true},
		{"video.partial", true},
		{"setup.exe.crdownload", true},
		{".notes.txt.swp", true},
		{"notes.swx", true},
		{"notes.txt~", true},
		{".DS_Store", true},
		{"Thumbs.db", true},
		{"thumbs.db", true},
		{"desktop.ini", true},
		{"Desktop.ini", true},
		{".focussync", true},
		{".focussync-state", true},
		{".git", true},
		{"", true},

		{"report.docx", false},
		{"tmp", false},
		{"part", false},
		{"my.tmp.txt", false},
		{"~report.docx", false},
		{"a~b.txt", false},
		{"Thumbs.db.txt", false},
		{"partial.txt", false},
	}
	for _, tt := range tests {
		if got := IgnoredByDefault(tt.name); got != tt.want {
			t.Errorf("IgnoredByDefault(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
