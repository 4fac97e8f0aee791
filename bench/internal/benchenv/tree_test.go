package benchenv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
)

func TestExpect_NamesAsFocussyncSeesThem(t *testing.T) {
	root := t.TempDir()
	for p, c := range map[string]string{
		"a.txt":           "alpha",
		"sub/b.txt":       "bravo",
		"bad\xffname.txt": "not utf-8",
		".hidden":         "ignored",
		"skip.me":         "skipped",
	} {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	flat, err := Expect(root, false, map[string]bool{"skip.me": true})
	if err != nil {
		t.Fatal(err)
	}
	if len(flat) != 2 || flat["a.txt"] == "" || flat[`bad\xffname.txt`] == "" {
		t.Errorf("flat = %v, want a.txt and bad\\xffname.txt", flat)
	}
	deep, err := Expect(root, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(deep) != 4 || deep["sub/b.txt"] == "" {
		t.Errorf("recursive = %v, want 4 names with sub/b.txt", deep)
	}
}

func TestCompare_FindsEveryKindOfDifference(t *testing.T) {
	want := Want{"same": "h1", "changed": "h2", "missing": "h3", "twice": "h4"}
	got := []focustest.Stored{
		{Attachment: focus.Attachment{ID: 1, Name: "same"}, SHA256: "h1"},
		{Attachment: focus.Attachment{ID: 2, Name: "changed"}, SHA256: "other"},
		{Attachment: focus.Attachment{ID: 3, Name: "twice"}, SHA256: "h4"},
		{Attachment: focus.Attachment{ID: 4, Name: "twice"}, SHA256: "h4"},
		{Attachment: focus.Attachment{ID: 5, Name: "extra"}, SHA256: "h5"},
		{Attachment: focus.Attachment{ID: 6, Name: "hand-made"}, SHA256: "h6"},
	}
	d := Compare(want, got, map[int64]bool{6: true})
	if len(d.Missing) != 1 || len(d.Wrong) != 1 || len(d.Extra) != 1 || len(d.Duplicates) != 1 {
		t.Errorf("diff = %v, want one of each kind", d)
	}
	if d.Empty() {
		t.Error("a diff with differences reports empty")
	}
	if d := Compare(Want{"same": "h1"}, got[:1], nil); !d.Empty() {
		t.Errorf("identical: %v", d)
	}
}

func TestProc_ReadsOwnProcess(t *testing.T) {
	m, err := ReadMem(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.HWM < m.RSS || m.Anon <= 0 || m.File <= 0 || m.Anon+m.File > m.RSS {
		t.Errorf("mem = %+v, want 0 < RSS <= HWM, RssAnon and RssFile > 0 and within RSS", m)
	}
	if _, err := CPUSeconds(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMem(1 << 30); err == nil {
		t.Error("ReadMem of a pid that does not exist: no error")
	}
}
