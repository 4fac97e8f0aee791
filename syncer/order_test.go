package syncer

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// randomItems builds a sequence of n items; keys fall in [1, span] (or 0 at times).
func randomItems(r *rand.Rand, n int, span int64) []*orderItem {
	items := make([]*orderItem, n)
	for i := range items {
		it := &orderItem{path: fmt.Sprintf("p%03d", i), kind: itemKind(r.Intn(3))}
		if it.kind != itemFree {
			it.key = 1 + r.Int63n(span)
			if r.Intn(20) == 0 {
				it.key = 0
			}
		}
		items[i] = it
	}
	return items
}

// bestRunWeights finds, in O(n^2), the most fixed items an increasing run of keys can
// keep, and the most prefer items alongside that many fixed ones.
func bestRunWeights(items []*orderItem) (fixed, prefer int) {
	type w struct{ f, p int }
	better := func(a, b w) bool { return a.f > b.f || (a.f == b.f && a.p > b.p) }
	best := make([]w, len(items))
	var top w
	for i, it := range items {
		if it.kind == itemFree || it.key <= 0 {
			continue
		}
		var prev w
		for j := 0; j < i; j++ {
			if items[j].kind != itemFree && items[j].key > 0 && items[j].key < it.key && better(best[j], prev) {
				prev = best[j]
			}
		}
		if it.kind == itemFixed {
			prev.f++
		} else {
			prev.p++
		}
		best[i] = prev
		if better(prev, top) {
			top = prev
		}
	}
	return top.f, top.p
}

func TestLongestRun_MatchesQuadratic(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for c := 0; c < 400; c++ {
		items := randomItems(r, r.Intn(40), int64(1+r.Intn(60)))
		if c%4 == 0 { // keys already in order, as in most passes
			for i, it := range items {
				if it.key > 0 {
					it.key = int64(1 + i)
				}
			}
		}
		run := longestRun(items)
		var f, p int
		for k, i := range run {
			if k > 0 && (i <= run[k-1] || items[i].key <= items[run[k-1]].key) {
				t.Fatalf("case %d: run %v is not increasing", c, run)
			}
			if items[i].kind == itemFixed {
				f++
			} else {
				p++
			}
		}
		if wf, wp := bestRunWeights(items); f != wf || p != wp {
			t.Fatalf("case %d: run keeps %d fixed and %d prefer, want %d and %d", c, f, p, wf, wp)
		}
	}
}

func TestSpread(t *testing.T) {
	tests := []struct {
		lo, hi int64
		inf    bool
		n      int
	}{
		{1024, 2048, false, 1},
		{1024, 2048, false, 7},
		{1024, 1026, false, 1},
		{0, 5, false, 4},
		{0, math.MaxInt64, false, 3},
		{math.MaxInt64 - 10, math.MaxInt64, true, 5},
		{3072, math.MaxInt64, true, 4},
	}
	for _, tt := range tests {
		keys := spread(tt.lo, tt.hi, tt.inf, tt.n)
		prev := tt.lo
		for _, k := range keys {
			if k <= prev || k >= tt.hi {
				t.Errorf("spread(%d, %d, %v, %d) = %v: not strictly inside and increasing", tt.lo, tt.hi, tt.inf, tt.n, keys)
				break
			}
			prev = k
		}
	}
	if got := fmt.Sprint(spread(1024, 2048, false, 3)); got != "[1280 1536 1792]" {
		t.Errorf("spread(1024, 2048, 3) = %s, want [1280 1536 1792]", got)
	}
	if got := fmt.Sprint(spread(3072, math.MaxInt64, true, 2)); got != "[4096 5120]" {
		t.Errorf("spread after the last = %s, want [4096 5120]", got)
	}
	if got, want := fmt.Sprint(spread(0, math.MaxInt64, true, 2)), fmt.Sprint([]int64{OrderBase, OrderBase + OrderStep}); got != want {
		t.Errorf("spread with no anchor = %s, want %s (room below the first)", got, want)
	}
	if got := fmt.Sprint(spread(0, OrderBase, false, 1)); got != fmt.Sprint([]int64{OrderBase / 2}) {
		t.Errorf("spread before the first = %s, want [%d] (half way down)", got, OrderBase/2)
	}
}

// TestAssignKeys_Random checks that every sequence comes out strictly increasing and
// positive, and that with room in the gaps only the out-of-order fixed items move.
func TestAssignKeys_Random(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	for c := 0; c < 600; c++ {
		n := r.Intn(50)
		span := int64(OrderStep * (n + 1))
		tight := r.Intn(2) == 0
		if tight {
			span = int64(1 + r.Intn(2*n+2))
		}
		items := randomItems(r, n, span)
		assignKeys(items, "name", 0)
		moved := 0
		for i, it := range items {
			if it.assigned <= 0 || (i > 0 && it.assigned <= items[i-1].assigned) {
				t.Fatalf("case %d: keys not positive and increasing at %d: %v", c, i, dumpKeys(items))
			}
			if it.moved() {
				moved++
			}
		}
		wantFixed, _ := bestRunWeights(items)
		fixed := 0
		for _, it := range items {
			if it.kind == itemFixed {
				fixed++
			}
		}
		if bound := fixed - wantFixed; moved < bound || (!tight && moved != bound) {
			t.Fatalf("case %d (tight %v): %d fixed items moved, out of order %d: %v", c, tight, moved, bound, dumpKeys(items))
		}
	}
}

func dumpKeys(items []*orderItem) string {
	s := ""
	for _, it := range items {
		s += fmt.Sprintf(" %d:%d->%d", it.kind, it.key, it.assigned)
	}
	return s
}

func TestWidenGaps_RenumbersTheFewest(t *testing.T) {
	mk := func(spec ...any) []*orderItem {
		var items []*orderItem
		for i := 0; i < len(spec); i += 2 {
			items = append(items, &orderItem{path: fmt.Sprint(i), kind: spec[i].(itemKind), key: int64(spec[i+1].(int))})
		}
		return items
	}
	tests := []struct {
		name  string
		items []*orderItem
		moved int
	}{
		{"insert between 1024 and 1025", mk(itemFixed, 1024, itemFree, 0, itemFixed, 1025, itemFixed, 2048), 1},
		{"left neighbours packed, right has room", mk(itemFixed, 1, itemFixed, 2, itemFixed, 3, itemFree, 0, itemFixed, 4, itemFixed, 9000), 1},
		{"right neighbours packed, left has room", mk(itemFixed, 100, itemFixed, 200, itemFree, 0, itemFree, 0, itemFixed, 202, itemFixed, 203, itemFixed, 204), 1},
		{"a prefer item gives way for free", mk(itemPrefer, 1024, itemFree, 0, itemFixed, 1025), 0},
		{"no room anywhere below", mk(itemFree, 0, itemFixed, 1, itemFixed, 2), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assignKeys(tt.items, "name", 0)
			moved := 0
			for i, it := range tt.items {
				if it.assigned <= 0 || (i > 0 && it.assigned <= tt.items[i-1].assigned) {
					t.Fatalf("keys not increasing: %s", dumpKeys(tt.items))
				}
				if it.moved() {
					moved++
				}
			}
			if moved != tt.moved {
				t.Errorf("moved %d, want %d: %s", moved, tt.moved, dumpKeys(tt.items))
			}
		})
	}
}

// BenchmarkMakePlan plans a folder of 10,000 managed files with 100 new ones and
// 100 renames.
func BenchmarkMakePlan(b *testing.B) {
	snap := snapOf()
	recs := recsOf()
	for i := 0; i < 10000; i++ {
		f := lf(fmt.Sprintf("f%05d.dat", i), fmt.Sprintf("h%05d", i))
		recs[f.Path] = managedRec(f, int64(i+1), int64(OrderStep*(i+1)))
		if i%100 == 0 {
			f.Path = fmt.Sprintf("g%05d.dat", i)
		}
		snap.Files[f.Path] = f
	}
	for i := 0; i < 100; i++ {
		f := lf(fmt.Sprintf("f%05d-new.dat", i*97), fmt.Sprintf("n%05d", i))
		snap.Files[f.Path] = f
	}
	in := PlanInput{Snapshot: snap, Records: recs, Options: nameOpts}
	b.ReportAllocs()
	for b.Loop() {
		if p := MakePlan(in); len(p.Uploads) != 10 {
			b.Fatalf("%d batches, want 10", len(p.Uploads))
		}
	}
}

// BenchmarkMakePlan_FirstSync plans the first pass over a folder of 100,000 new
// files: every one uploaded, in 10,000 bulk creates.
func BenchmarkMakePlan_FirstSync(b *testing.B) {
	snap := snapOf()
	for i := 0; i < 100000; i++ {
		f := lf(fmt.Sprintf("d%03d/f%05d.dat", i/1000, i), fmt.Sprintf("h%06d", i))
		snap.Files[f.Path] = f
	}
	in := PlanInput{Snapshot: snap, Records: recsOf(), Options: nameOpts}
	b.ReportAllocs()
	for b.Loop() {
		if p := MakePlan(in); len(p.Uploads) != 10000 {
			b.Fatalf("%d batches, want 10000", len(p.Uploads))
		}
	}
}
