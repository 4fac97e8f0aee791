package syncer

import (
	"cmp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CompareNames is the order of file names for order = "name": the natural
// order that Explorer and Finder show, in which a run of digits counts as a
// number (doc1, doc2, doc10, doc11) and letters compare without regard to case
// (apple, Banana, cherry). Names that are equal by that measure ("doc1" and
// "doc01", "a" and "A") are ordered by fewer leading zeros first, then by their
// bytes, so that no two different names compare equal and the order never
// depends on the order in which files were found.
func CompareNames(a, b string) int {
	if c := compareNatural(a, b); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// compareNatural compares a and b by numbers and case-folded letters; it
// returns 0 for names that differ only in case or in leading zeros, except
// that the first difference in leading zeros decides when nothing else does.
func compareNatural(a, b string) int {
	zeros := 0
	for a != "" && b != "" {
		if isDigit(a[0]) && isDigit(b[0]) {
			na, restA := digitRun(a)
			nb, restB := digitRun(b)
			ta, tb := strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
			if c := cmp.Compare(len(ta), len(tb)); c != 0 {
				return c // more significant digits: a larger number, however long
			}
			if c := strings.Compare(ta, tb); c != 0 {
				return c
			}
			if zeros == 0 {
				zeros = cmp.Compare(len(na), len(nb))
			}
			a, b = restA, restB
			continue
		}
		ra, sa := utf8.DecodeRuneInString(a)
		rb, sb := utf8.DecodeRuneInString(b)
		if c := cmp.Compare(unicode.ToLower(ra), unicode.ToLower(rb)); c != 0 {
			return c
		}
		a, b = a[sa:], b[sb:]
	}
	switch {
	case a == "" && b != "":
		return -1 // a prefix comes first
	case a != "" && b == "":
		return 1
	}
	return zeros
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// digitRun splits s, which starts with a digit, after its run of ASCII digits.
func digitRun(s string) (digits, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}
