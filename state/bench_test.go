package state

import (
	"fmt"
	"path/filepath"
	"testing"
)

// fill commits n records to k in batches of 10,000.
func fill(tb testing.TB, s *Store, k FolderKey, n int) {
	tb.Helper()
	const batch = 10_000
	for i := 0; i < n; i += batch {
		c := Change{Put: make([]FileRecord, 0, batch)}
		for j := i; j < i+batch && j < n; j++ {
			c.Put = append(c.Put, sampleRecord(fmt.Sprintf("dir%03d/file-%06d.pdf", j%500, j), int64(j+1)))
		}
		mustCommit(tb, s, k, c)
	}
}

func BenchmarkLoad100k(b *testing.B) {
	s := mustOpen(b, filepath.Join(b.TempDir(), "state.db"))
	fill(b, s, folderA, 100_000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f, err := s.Load(folderA)
		if err != nil {
			b.Fatal(err)
		}
		if len(f.Files) != 100_000 {
			b.Fatalf("loaded %d records", len(f.Files))
		}
	}
}

func BenchmarkStats100k(b *testing.B) {
	s := mustOpen(b, filepath.Join(b.TempDir(), "state.db"))
	fill(b, s, folderA, 100_000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		st, err := s.Stats(folderA)
		if err != nil {
			b.Fatal(err)
		}
		if st.Files != 100_000 {
			b.Fatalf("counted %d records", st.Files)
		}
	}
}

// BenchmarkCommit measures one durable transaction (two fsyncs) of n record puts
// and one ended intent, in a folder that already holds 10,000 records.
func BenchmarkCommit(b *testing.B) {
	for _, n := range []int{1, 10, 1000} {
		b.Run(fmt.Sprintf("puts=%d", n), func(b *testing.B) {
			s := mustOpen(b, filepath.Join(b.TempDir(), "state.db"))
			fill(b, s, folderA, 10_000)
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				c := Change{Put: make([]FileRecord, n), EndIntents: []uint64{uint64(i)}}
				for j := range c.Put {
					c.Put[j] = sampleRecord(fmt.Sprintf("new/%d-%d", i, j), int64(i))
				}
				if err := s.Commit(folderA, c); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkBeginIntent(b *testing.B) {
	s := mustOpen(b, filepath.Join(b.TempDir(), "state.db"))
	b.ReportAllocs()
	for b.Loop() {
		in := &Intent{Op: IntentCreate, Files: []IntentFile{{Path: "a", Name: "a", Size: 1, Hash: "h"}}}
		if err := s.BeginIntent(folderA, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen100k measures Open of a db of 100,000 records: verification of
// every page and every value before the db is used.
func BenchmarkOpen100k(b *testing.B) {
	path := filepath.Join(b.TempDir(), "state.db")
	s := mustOpen(b, path)
	fill(b, s, folderA, 100_000)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
