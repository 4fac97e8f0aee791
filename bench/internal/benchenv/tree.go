package benchenv

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/focussync/focussync/focus/focustest"
	"github.com/focussync/focussync/internal/scope"
	"github.com/focussync/focussync/syncer"
)

// WriteRandom creates path (and its directory) with size bytes from rng.
func WriteRandom(path string, size int64, rng *rand.Rand) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	buf := make([]byte, min(size, 1<<20))
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		fillRandom(buf[:n], rng)
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
		left -= n
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// fillRandom fills b with pseudo-random bytes, 8 at a time.
func fillRandom(b []byte, rng *rand.Rand) {
	for i := 0; i < len(b); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
}

// LogUniformSize draws a size between lo and hi bytes with a uniform logarithm:
// as many files of 1-10 KB as of 100 KB-1 MB.
func LogUniformSize(rng *rand.Rand, lo, hi int64) int64 {
	r := rng.Float64()
	f := float64(lo) * math.Pow(float64(hi)/float64(lo), r)
	return max(lo, min(hi, int64(f)))
}

// Want is what a folder should look like in its task: remote name -> hex SHA-256.
type Want map[string]string

// Expect walks a folder as focussync sees it (recursive or not, skipping the
// names it ignores by default and the names in skip, by relative path) and
// returns the attachments it should have.
func Expect(root string, recursive bool, skip map[string]bool) (Want, error) {
	want := Want{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if p == root {
			return nil
		}
		if scope.IgnoredByDefault(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if skip[rel] {
			return nil
		}
		sum, err := HashFile(p)
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		want[syncer.RemoteName(rel)] = sum
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("expect %s: %w", root, err)
	}
	return want, nil
}

// HashFile returns the hex SHA-256 of a file.
func HashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Diff is how a task differs from its folder.
type Diff struct {
	Missing    []string // files with no attachment
	Wrong      []string // attachments whose content differs from the file
	Extra      []string // attachments with no file
	Duplicates []string // names held by more than one live attachment
}

// Empty reports whether the task mirrors the folder.
func (d Diff) Empty() bool {
	return len(d.Missing)+len(d.Wrong)+len(d.Extra)+len(d.Duplicates) == 0
}

func (d Diff) String() string {
	if d.Empty() {
		return "in sync"
	}
	return fmt.Sprintf("missing %d %q, wrong content %d %q, extra %d %q, duplicates %d %q",
		len(d.Missing), clip(d.Missing), len(d.Wrong), clip(d.Wrong), len(d.Extra), clip(d.Extra), len(d.Duplicates), clip(d.Duplicates))
}

func clip(s []string) []string {
	if len(s) > 8 {
		return append(s[:8:8], fmt.Sprintf("... %d more", len(s)-8))
	}
	return s
}

// Compare checks a task's live attachments against want, leaving out the
// attachments whose ids are in ignore (hand-made ones).
func Compare(want Want, got []focustest.Stored, ignore map[int64]bool) Diff {
	var d Diff
	seen := map[string]int{}
	for _, a := range got {
		if ignore[a.ID] {
			continue
		}
		seen[a.Name]++
		if seen[a.Name] == 2 {
			d.Duplicates = append(d.Duplicates, a.Name)
		}
		h, ok := want[a.Name]
		switch {
		case !ok:
			d.Extra = append(d.Extra, a.Name)
		case h != a.SHA256:
			d.Wrong = append(d.Wrong, a.Name)
		}
	}
	for name := range want {
		if seen[name] == 0 {
			d.Missing = append(d.Missing, name)
		}
	}
	for _, s := range [][]string{d.Missing, d.Wrong, d.Extra, d.Duplicates} {
		sort.Strings(s)
	}
	return d
}

// DirSize adds up the sizes of the regular files under root.
func DirSize(root string) (files int, bytes int64, err error) {
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		files++
		bytes += fi.Size()
		return nil
	})
	return files, bytes, err
}
