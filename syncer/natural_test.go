package syncer

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestCompareNames_NaturalOrder(t *testing.T) {
	for _, want := range [][]string{
		{"doc1", "doc2", "doc10", "doc11"},
		{"apple", "Banana", "cherry"},
		{"A", "a", "b"},                     // case only: bytes decide, upper case first
		{"doc1", "doc01", "doc001", "doc2"}, // equal numbers: fewer leading zeros first
		{"x", "x1", "x1a", "x2", "xa"},
		{"2024-01-03 notes.txt", "2024-01-10 notes.txt", "2024-2-1 notes.txt"},
		{"v1.2.9.txt", "v1.2.10.txt", "v1.10.0.txt"},
		{"file99999999999999999999.txt", "file100000000000000000000.txt"}, // beyond int64
		{"img 9.jpg", "img 10.jpg", "img_1.jpg"},
		{"é1", "é2", "é10"},
	} {
		for i := range want {
			for j := range want {
				if got, exp := CompareNames(want[i], want[j]), cmpInt(i, j); got != exp {
					t.Errorf("CompareNames(%q, %q) = %d, want %d", want[i], want[j], got, exp)
				}
			}
		}
		got := slices.Clone(want)
		rand.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
		slices.SortFunc(got, CompareNames)
		if !slices.Equal(got, want) {
			t.Errorf("sorted = %q, want %q", got, want)
		}
	}
}

// TestCompareNames_TotalOrder checks that the comparison is a total order on
// many generated names (so that sorting is deterministic): antisymmetric,
// transitive, and 0 only for equal names.
func TestCompareNames_TotalOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "A", "b", "0", "00", "1", "9", "10", "01", " ", "-", "_", ".", "é", "\xff"}
	var names []string
	for range 300 {
		n := ""
		for range 1 + r.IntN(5) {
			n += alphabet[r.IntN(len(alphabet))]
		}
		names = append(names, n)
	}
	for _, a := range names {
		for _, b := range names {
			ab, ba := CompareNames(a, b), CompareNames(b, a)
			if ab != -ba {
				t.Fatalf("CompareNames(%q, %q) = %d but the reverse is %d", a, b, ab, ba)
			}
			if (ab == 0) != (a == b) {
				t.Fatalf("CompareNames(%q, %q) = %d", a, b, ab)
			}
		}
	}
	sorted := slices.Clone(names)
	slices.SortFunc(sorted, CompareNames)
	for i := 1; i < len(sorted); i++ {
		for j := i; j < len(sorted); j++ {
			if CompareNames(sorted[i-1], sorted[j]) > 0 {
				t.Fatalf("not transitive: %q sorts before %q but compares after it", sorted[i-1], sorted[j])
			}
		}
	}
}

func cmpInt(i, j int) int {
	switch {
	case i < j:
		return -1
	case i > j:
		return 1
	}
	return 0
}
