package state

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// damagedImage returns the bytes of a state db with n records in one folder (with
// n in the thousands it has branch pages) and an open intent; the freelist is
// not empty because the records went in over several commits.
func damagedImage(tb testing.TB, n int) []byte {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "state.db")
	s := mustOpen(tb, path)
	for i := 0; i < n; i += 500 {
		var c Change
		for j := i; j < min(n, i+500); j++ {
			c.Put = append(c.Put, sampleRecord(fmt.Sprintf("dir/file-%05d.txt", j), int64(j+1)))
		}
		mustCommit(tb, s, folderA, c)
	}
	if err := s.BeginIntent(folderA, &Intent{Op: IntentDelete, AttachmentID: 7}); err != nil {
		tb.Fatal(err)
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// pagesOfKind returns the ids of the live pages (reachable from the newest meta
// page, or its freelist) with the given flags, in ascending order.
func pagesOfKind(tb testing.TB, img []byte, flags uint16) []uint64 {
	tb.Helper()
	v, err := walkImage(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		tb.Fatal(err)
	}
	var ids []uint64
	for id := range v.hwm {
		if !v.isSeen(id) {
			continue
		}
		off := id * uint64(v.ps)
		if ne.Uint64(img[off:]) == id && ne.Uint16(img[off+8:]) == flags {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// liveSize returns the bytes of the image's pages in use (the file is longer).
func liveSize(tb testing.TB, img []byte) int {
	tb.Helper()
	v, err := walkImage(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		tb.Fatal(err)
	}
	return int(v.hwm) * int(v.ps)
}

// damages are the ways a state db image gets broken, by name.
func damages(tb testing.TB, img []byte, rng *rand.Rand) map[string][]byte {
	tb.Helper()
	ps := uint64(ne.Uint32(img[pageHeaderSize+8:]))
	out := map[string][]byte{"zero-length": {}}
	live := liveSize(tb, img)
	for _, cut := range []int{10, 100, 4096, 4096 + 100, 3 * 4096, live / 2, live - 4096, live - 1} {
		out[fmt.Sprintf("truncated at %d", cut)] = append([]byte(nil), img[:cut]...)
	}
	scribble := func(name string, flags uint16, all bool) {
		ids := pagesOfKind(tb, img, flags)
		if len(ids) == 0 {
			tb.Fatalf("the image has no page of type %#x", flags)
		}
		if !all {
			ids = ids[len(ids)/2 : len(ids)/2+1]
		}
		b := append([]byte(nil), img...)
		for _, id := range ids {
			// 64 random bytes within the page: the header and the first elements,
			// or for a meta page the whole meta.
			off := id*ps + uint64(rng.IntN(64))
			for i := range 64 {
				b[off+uint64(i)] = byte(rng.Uint32())
			}
		}
		out[name] = b
	}
	scribble("random bytes in meta page 0 and 1", metaPageFlag, true)
	scribble("random bytes in one meta page", metaPageFlag, false)
	scribble("random bytes in the freelist", freelistPageFlag, false)
	scribble("random bytes in a branch page", branchPageFlag, false)
	scribble("random bytes in a leaf page", leafPageFlag, false)
	// Values damaged deep inside a leaf page, where the page structure stays intact.
	b := append([]byte(nil), img...)
	leafs := pagesOfKind(tb, img, leafPageFlag)
	leaf := leafs[len(leafs)/2] * ps
	for e := leaf + pageHeaderSize; e < leaf+pageHeaderSize+3*elemSize; e += elemSize {
		pos, ksize := uint64(ne.Uint32(img[e+4:])), uint64(ne.Uint32(img[e+8:]))
		b[e+pos+ksize+5] ^= 0x5a // a byte inside the value
	}
	out["flipped bytes in the values of a leaf page"] = b
	return out
}

func TestOpen_DamagedIsMovedAside(t *testing.T) {
	img := damagedImage(t, 3000)
	rng := rand.New(rand.NewPCG(1, 2))
	for name, b := range damages(t, img, rng) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.db")
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			// A reader is told, and nothing changes.
			ro, err := Open(path, Options{ReadOnly: true})
			if err == nil {
				ro.Close()
				if len(b) != 0 {
					t.Fatalf("read-only Open of a damaged db succeeded")
				}
			} else if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrForeign) || !strings.Contains(err.Error(), path) {
				t.Fatalf("read-only Open = %v, want ErrCorrupt (not ErrForeign) naming the file", err)
			}

			s, err := Open(path, Options{MoveAsideDamaged: true})
			if err != nil {
				t.Fatalf("Open with MoveAsideDamaged: %v", err)
			}
			defer s.Close()
			if len(b) == 0 {
				if s.Recovered() != nil {
					t.Errorf("an empty file was moved aside: %+v", s.Recovered())
				}
				return
			}
			rec := s.Recovered()
			if rec == nil {
				t.Fatal("Recovered() = nil, want the damaged file moved aside")
			}
			if !strings.HasPrefix(rec.MovedTo, path+".damaged-") || !strings.HasSuffix(rec.MovedTo, "Z") {
				t.Errorf("moved to %q, want %s.damaged-<time>Z", rec.MovedTo, path)
			}
			kept, err := os.ReadFile(rec.MovedTo)
			if err != nil || string(kept) != string(b) {
				t.Errorf("the damaged file was not kept byte for byte at %s (err %v)", rec.MovedTo, err)
			}
			if f := mustLoad(t, s, folderA); len(f.Files) != 0 {
				t.Errorf("the new db holds %d records, want 0", len(f.Files))
			}
			mustCommit(t, s, folderA, Change{Put: []FileRecord{sampleRecord("a", 1)}})
		})
	}
}

func TestOpen_IntactImagePassesVerification(t *testing.T) {
	img := damagedImage(t, 3000)
	if n := len(pagesOfKind(t, img, branchPageFlag)); n == 0 {
		t.Fatal("the image has no branch page; add records")
	}
	if n := len(pagesOfKind(t, img, freelistPageFlag)); n == 0 {
		t.Fatal("the image has no freelist page")
	}
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, img, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{MoveAsideDamaged: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Recovered() != nil {
		t.Fatalf("an intact db was moved aside: %v", s.Recovered().Reason)
	}
	if f := mustLoad(t, s, folderA); len(f.Files) != 3000 || len(f.Intents) != 1 {
		t.Errorf("loaded %d records and %d intents, want 3000 and 1", len(f.Files), len(f.Intents))
	}
}

func TestOpen_ForeignFileIsLeftAlone(t *testing.T) {
	for name, content := range map[string][]byte{
		"sqlite":  append([]byte("SQLite format 3\x00"), make([]byte, 8192)...),
		"text":    []byte(strings.Repeat("a config file of another program\n", 300)),
		"garbage": []byte("garbage!garbage!garbage!garbage!garbage!garbage!garbage!garbage!garbage!"),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(path, Options{MoveAsideDamaged: true})
			if !errors.Is(err, ErrForeign) || !strings.Contains(err.Error(), "another program") {
				t.Fatalf("Open = %v, want ErrForeign saying it may be another program's", err)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != string(content) {
				t.Errorf("the foreign file was changed or moved (err %v)", err)
			}
			if m, _ := filepath.Glob(path + ".damaged-*"); len(m) != 0 {
				t.Errorf("moved aside: %v", m)
			}
		})
	}
	t.Run("bbolt db of another program", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "other.db")
		rawDB(t, path, func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte("sessions"))
			if err != nil {
				return err
			}
			return b.Put([]byte("k"), []byte("v"))
		})
		_, err := Open(path, Options{MoveAsideDamaged: true})
		if !errors.Is(err, ErrForeign) {
			t.Fatalf("Open = %v, want ErrForeign", err)
		}
		if _, err := os.Stat(path); err != nil {
			t.Errorf("the other program's db is gone: %v", err)
		}
	})
}

// TestStore_FaultIsAnError cuts the file short under an open store: bbolt's
// memory map then faults on the missing pages, which must come back as an error.
func TestStore_FaultIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, damagedImage(t, 3000), 0o600); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, path)
	defer s.Close()
	if err := os.Truncate(path, 2*4096); err != nil {
		t.Fatal(err)
	}
	_, err := s.Load(folderA)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "moves the damaged db aside") {
		t.Fatalf("Load of a db cut short = %v, want ErrCorrupt saying what happens next", err)
	}
	if _, err := s.Stats(folderA); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Stats after the fault = %v, want ErrCorrupt", err)
	}
}

// FuzzVerifyImage feeds damaged images of a state db to verifyImage and Open. The
// property: whatever verifyImage accepts, bbolt opens, reads and writes without a
// panic or fault (unguarded here, so a panic fails the fuzz run); and Open with
// MoveAsideDamaged never fails for a file that looks like a bbolt db.
//
// Run it with: go test ./state -run '^$' -fuzz FuzzVerifyImage -fuzztime 2m
func FuzzVerifyImage(f *testing.F) {
	// A small image, cut to its live pages, keeps the fuzzer quick.
	img := damagedImage(f, 300)
	img = img[:liveSize(f, img)]
	f.Add(img)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, b := range damages(f, img, rng) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "state.db")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		fh, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		verr := verifyImage(fh, int64(len(b)))
		bolty := len(b) == 0 || looksLikeBolt(fh, int64(len(b)))
		fh.Close()
		if verr == nil {
			readAll(t, path)
		}
		s, err := Open(path, Options{MoveAsideDamaged: true})
		if err != nil {
			if bolty {
				t.Fatalf("Open of a bbolt-like file failed: %v", err)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open = %v, want ErrCorrupt or ErrForeign", err)
			}
			return
		}
		defer s.Close()
		if _, err := s.Folders(); err != nil {
			t.Fatalf("Folders after Open: %v", err)
		}
	})
}

// readAll opens path with bbolt directly, with no guard, reads every key of every
// bucket and commits a write.
func readAll(t *testing.T, path string) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: DefaultTimeout})
	if err != nil {
		return // bbolt refusing the file is fine; crashing is not
	}
	defer db.Close()
	var walk func(b *bolt.Bucket)
	walk = func(b *bolt.Bucket) {
		_ = b.ForEach(func(k, v []byte) error {
			if v == nil {
				if c := b.Bucket(k); c != nil {
					walk(c)
				}
			}
			return nil
		})
	}
	_ = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { walk(b); return nil })
	})
	_ = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("fuzz"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), make([]byte, 5000))
	})
}
