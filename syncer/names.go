package syncer

import (
	"strings"
	"unicode/utf8"
)

// RemoteName returns the attachment name for a relative path: the path with '/'.
// Names that are valid UTF-8 and hold no backslash (nearly all) are sent as they
// are. Otherwise each byte that is not part of valid UTF-8 is written as \xhh
// (two lower-case hex digits) and each backslash as \\, so that the mapping is
// injective and stable: "bad\xff.txt" and "bad\xfe.txt" keep distinct names,
// and a file literally named `bad\xff.txt` becomes `bad\\xff.txt`.
func RemoteName(rel string) string {
	if utf8.ValidString(rel) && strings.IndexByte(rel, '\\') < 0 {
		return rel
	}
	const hex = "0123456789abcdef"
	var b strings.Builder
	b.Grow(len(rel) + 8)
	for i := 0; i < len(rel); {
		c := rel[i]
		if c == '\\' {
			b.WriteString(`\\`)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(rel[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString(`\x`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
			i++
			continue
		}
		b.WriteString(rel[i : i+size])
		i += size
	}
	return b.String()
}
