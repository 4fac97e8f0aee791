// Package scope decides which paths of a folder are synced: the one grammar of
// include and exclude patterns (used by the scanner, the watcher and `focussync
// check` alike, so that a pattern check accepts is one the scanner can use), and
// the names that are never synced.
package scope

import (
	"fmt"
	"path"
	"strings"
)

// Matcher decides which relative paths are in scope, from include and exclude
// globs. A glob is matched against the '/'-separated path relative to the
// folder: '*' and '?' match within one segment (as in path.Match), a "**"
// segment matches any number of segments, none included. A pattern without
// '/' matches the base name at any depth, as in .gitignore; a leading '/'
// anchors a pattern to the root and a trailing '/' restricts it to
// directories. A directory that matches a pattern carries the decision to
// everything under it. Exclusion wins over inclusion.
type Matcher struct {
	include []pattern
	exclude []pattern
}

// pattern is one parsed glob.
type pattern struct {
	base    string   // the glob for the base name, when !anchored
	segs    []string // the glob's segments, when anchored
	dirOnly bool     // the glob ended in '/'
}

// NewMatcher parses the include and exclude globs; an empty include list means
// everything is included. It fails on an empty or malformed pattern.
func NewMatcher(include, exclude []string) (*Matcher, error) {
	m := &Matcher{}
	var err error
	if m.include, err = parsePatterns("include", include); err != nil {
		return nil, err
	}
	if m.exclude, err = parsePatterns("exclude", exclude); err != nil {
		return nil, err
	}
	return m, nil
}

// Check reports whether g is a valid include or exclude pattern, with the error
// the scanner would meet.
func Check(g string) error {
	if g == "" {
		return fmt.Errorf("empty pattern")
	}
	if _, err := parsePattern(g); err != nil {
		return fmt.Errorf("bad pattern %q: %w", g, err)
	}
	return nil
}

func parsePatterns(kind string, globs []string) ([]pattern, error) {
	var ps []pattern
	for i, g := range globs {
		p, err := parsePattern(g)
		if err != nil {
			return nil, fmt.Errorf("%s[%d] %q: %w", kind, i, g, err)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func parsePattern(g string) (pattern, error) {
	var p pattern
	s := g
	if strings.HasSuffix(s, "/") {
		p.dirOnly = true
		s = strings.TrimRight(s, "/")
	}
	anchored := strings.Contains(s, "/") // "/x" and "./x" are anchored too
	s = strings.TrimLeft(strings.TrimPrefix(s, "./"), "/")
	if s == "" {
		return p, fmt.Errorf("empty pattern")
	}
	for seg := range strings.SplitSeq(s, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return p, fmt.Errorf("bad segment %q", seg)
		}
		if _, err := path.Match(seg, ""); err != nil {
			return p, err
		}
		if seg == "**" && len(p.segs) > 0 && p.segs[len(p.segs)-1] == "**" {
			continue // "**/**" is "**"
		}
		p.segs = append(p.segs, seg)
	}
	if !anchored {
		p.base, p.segs = s, nil
	}
	return p, nil
}

// match reports whether the pattern matches the path rel itself.
func (p *pattern) match(rel string, isDir bool) bool {
	if p.dirOnly && !isDir {
		return false
	}
	if p.segs == nil {
		ok, _ := path.Match(p.base, baseName(rel))
		return ok
	}
	return matchSegs(p.segs, rel)
}

// matchSegs matches glob segments against the '/'-separated path s; "" is the
// empty remainder (a path segment is never empty).
func matchSegs(p []string, s string) bool {
	for len(p) > 0 {
		if p[0] == "**" {
			p = p[1:]
			if len(p) == 0 {
				return true
			}
			for {
				if matchSegs(p, s) {
					return true
				}
				i := strings.IndexByte(s, '/')
				if i < 0 {
					return false
				}
				s = s[i+1:]
			}
		}
		if s == "" {
			return false
		}
		seg, rest := s, ""
		if i := strings.IndexByte(s, '/'); i >= 0 {
			seg, rest = s[:i], s[i+1:]
		}
		if ok, _ := path.Match(p[0], seg); !ok {
			return false
		}
		p, s = p[1:], rest
	}
	return s == ""
}

// mayMatchBelow reports whether the pattern could match some path under the
// directory dir.
func (p *pattern) mayMatchBelow(dir string) bool {
	if p.segs == nil {
		return true
	}
	segs, s := p.segs, dir
	for {
		switch {
		case len(segs) == 0:
			return false
		case segs[0] == "**", s == "":
			return true
		}
		seg, rest := s, ""
		if i := strings.IndexByte(s, '/'); i >= 0 {
			seg, rest = s[:i], s[i+1:]
		}
		if ok, _ := path.Match(segs[0], seg); !ok {
			return false
		}
		segs, s = segs[1:], rest
	}
}

// IncludesAll reports whether there are no include patterns: everything not
// excluded is in scope.
func (m *Matcher) IncludesAll() bool { return len(m.include) == 0 }

// Match reports whether the relative path rel ('/'-separated) is in scope:
// no component is ignored by default (IgnoredByDefault), neither rel nor a
// directory above it is excluded, and rel or a directory above it is included
// (or there are no include patterns). For a directory (isDir), in scope means
// that it is walked: not excluded, and included or able to hold included
// paths.
func (m *Matcher) Match(rel string, isDir bool) bool {
	included := len(m.include) == 0
	for i := 0; ; {
		j := strings.IndexByte(rel[i:], '/')
		if j < 0 {
			if IgnoredByDefault(rel[i:]) {
				return false
			}
			if isDir {
				_, descend := m.DirScope(rel, included)
				return descend
			}
			return m.FileScope(rel, included)
		}
		if IgnoredByDefault(rel[i : i+j]) {
			return false
		}
		var descend bool
		if included, descend = m.DirScope(rel[:i+j], included); !descend {
			return false
		}
		i += j + 1
	}
}

// DirScope decides for the directory rel, whose parent is in scope and
// included or not: whether it is included, and whether to descend into it.
func (m *Matcher) DirScope(rel string, parentIncluded bool) (included, descend bool) {
	for i := range m.exclude {
		if m.exclude[i].match(rel, true) {
			return false, false
		}
	}
	if parentIncluded {
		return true, true
	}
	for i := range m.include {
		if m.include[i].match(rel, true) {
			return true, true
		}
	}
	for i := range m.include {
		if m.include[i].mayMatchBelow(rel) {
			return false, true
		}
	}
	return false, false
}

// FileScope decides whether the file rel, whose directory is in scope and
// included or not, is in scope.
func (m *Matcher) FileScope(rel string, parentIncluded bool) bool {
	for i := range m.exclude {
		if m.exclude[i].match(rel, false) {
			return false
		}
	}
	if parentIncluded {
		return true
	}
	for i := range m.include {
		if m.include[i].match(rel, false) {
			return true
		}
	}
	return false
}

func baseName(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[i+1:]
	}
	return rel
}
