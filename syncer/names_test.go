package syncer

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRemoteName(t *testing.T) {
	for in, want := range map[string]string{
		"report.pdf":         "report.pdf",
		"sub/dir/a.txt":      "sub/dir/a.txt",
		"x/\xff\xfe.txt":     `x/\xff\xfe.txt`,
		"dir/été 50%.txt":    "dir/été 50%.txt",
		"bad\xff\xfe.txt":    `bad\xff\xfe.txt`,
		"bad\xff\xfd.txt":    `bad\xff\xfd.txt`,
		`bad\xff.txt`:        `bad\\xff.txt`,
		`a\b.txt`:            `a\\b.txt`,
		"caf\xe9/x.txt":      `caf\xe9/x.txt`,
		"ok\u00e9\xc3.txt":   `ok` + "\u00e9" + `\xc3.txt`,
		"\xed\xa0\x80surrog": `\xed\xa0\x80surrog`,
	} {
		if got := RemoteName(in); got != want {
			t.Errorf("RemoteName(%q) = %q, want %q", in, got, want)
		}
	}
}

// unescape is the inverse of RemoteName: it proves the mapping injective.
func unescape(t *testing.T, name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if name[i] != '\\' {
			b.WriteByte(name[i])
			continue
		}
		switch {
		case i+1 < len(name) && name[i+1] == '\\':
			b.WriteByte('\\')
			i++
		case i+3 < len(name) && name[i+1] == 'x':
			v, err := strconv.ParseUint(name[i+2:i+4], 16, 8)
			if err != nil {
				t.Fatalf("bad escape in %q", name)
			}
			b.WriteByte(byte(v))
			i += 3
		default:
			t.Fatalf("lone backslash in %q", name)
		}
	}
	return b.String()
}

func TestRemoteName_InjectiveAndValid(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte{'a', '\\', 'x', 'f', '/', 0xff, 0xfe, 0xc3, 0xa9, 0x80, 0xe2, '%'}
	seen := map[string]string{}
	for range 20000 {
		b := make([]byte, 1+rng.IntN(8))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		in := string(b)
		got := RemoteName(in)
		if !utf8.ValidString(got) {
			t.Fatalf("RemoteName(%q) = %q is not valid UTF-8", in, got)
		}
		if back := unescape(t, got); back != in {
			t.Fatalf("RemoteName(%q) = %q, which reads back as %q", in, got, back)
		}
		if other, ok := seen[got]; ok && other != in {
			t.Fatalf("%q and %q both map to %q", in, other, got)
		}
		seen[got] = in
	}
}
