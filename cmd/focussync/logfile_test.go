package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRotatingFile_BoundedAndWhole(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "logs", "focussync.log")
	r, err := openLogFile(path, 1000, 3)
	if err != nil {
		t.Fatal(err)
	}
	line := func(i int) string { return fmt.Sprintf("%s line %04d\n", strings.Repeat("x", 80), i) } // 91 bytes
	for i := range 200 {
		if _, err := r.Write([]byte(line(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(path + "*")
	if len(names) != 4 {
		t.Errorf("files = %q, want the log and 3 old ones", names)
	}
	var all []byte
	for _, n := range []string{path + ".3", path + ".2", path + ".1", path} {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 1000 {
			t.Errorf("%s is %d bytes, over the 1000 limit", n, len(b))
		}
		if !bytes.HasSuffix(b, []byte("\n")) || !bytes.HasPrefix(b, []byte("xxx")) {
			t.Errorf("%s does not hold whole lines", n)
		}
		all = append(all, b...)
	}
	// The newest lines, in order, with none lost between the files.
	lines := strings.Split(strings.TrimSuffix(string(all), "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasSuffix(last, "line 0199") {
		t.Errorf("last line = %q", last)
	}
	for i := 1; i < len(lines); i++ {
		var a, b int
		fmt.Sscanf(lines[i-1][len(lines[i-1])-4:], "%d", &a)
		fmt.Sscanf(lines[i][len(lines[i])-4:], "%d", &b)
		if b != a+1 {
			t.Fatalf("line %d follows line %d", b, a)
		}
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("log file mode: %v, %v", st, err)
	}

	// Reopened, it carries on at its size.
	r, err = openLogFile(path, 1000, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	before, _ := os.ReadFile(path)
	r.Write([]byte(line(200)))
	after, _ := os.ReadFile(path)
	if len(before)+91 <= 1000 && !bytes.Equal(after, append(before, line(200)...)) {
		t.Errorf("reopened log did not append")
	}
}
