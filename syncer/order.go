package syncer

import (
	"math"
	"sort"
	"time"
)

// Display order keys.
//
// The planner lays every file that will be managed after the plan in its desired
// sequence (by name, by mtime, or, for "none", as it already is) and hands out display
// order keys so that the attachments come out in that sequence at the fewest requests.
//
// Each item of the sequence is one of three kinds:
//
//   - fixed: a managed attachment that gets no request in this pass. Changing its
//     key costs one PUT (a reorder).
//   - prefer: an item whose request is sent anyway and carries a key for free (a
//     rename, a name restored after an edit in Focus, the new version of a changed
//     file), but that had a key before. Keeping that key keeps the gaps around it
//     intact, so it is kept when it is still in order and costs nothing otherwise.
//   - free: a new attachment (a new file, or one uploaded again after its attachment
//     vanished). Its key is chosen to fit between its neighbours.
//
// The items that keep their keys (the anchors) are a longest strictly increasing
// run of keys in sequence order, weighted so that keeping one more fixed item always
// beats keeping any number of prefer items: the reorders are then exactly the fixed
// items that are out of order. Every other item takes a key spread evenly inside the
// gap between the anchors around it. When a gap holds fewer free keys than items, the
// anchors next to it are dropped, on whichever side drops the fewest fixed items,
// until it fits: the fewest attachments are renumbered.

// itemKind says what changing an item's key costs.
type itemKind int

const (
	itemFree   itemKind = iota // no key yet
	itemPrefer                 // has a key; its request carries a key anyway
	itemFixed                  // has a key; a new key costs one request
)

// orderItem is one entry of the desired sequence.
type orderItem struct {
	path  string
	name  string    // remote name
	mtime time.Time // local mtime, for order "mtime"
	kind  itemKind
	key   int64 // current key (fixed, prefer)
	// upload is the file the item uploads, as 1 + its index in the planner's
	// uploads; 0 when the item uploads nothing.
	upload int

	assigned int64 // the key handed out
	anchor   bool  // the item kept its key as an anchor
}

// moved reports whether a fixed item needs a reorder.
func (it *orderItem) moved() bool { return it.kind == itemFixed && it.assigned != it.key }

// lessByName orders items by remote name in natural order (CompareNames), then by path.
func lessByName(a, b *orderItem) bool {
	if c := CompareNames(a.name, b.name); c != 0 {
		return c < 0
	}
	return a.path < b.path
}

// sortSequence puts the items in the desired sequence for the order setting:
// "mtime" sorts by modification time then name; anything else by name.
func sortSequence(items []*orderItem, order string) {
	less := func(a, b *orderItem) bool {
		if order == "mtime" && !a.mtime.Equal(b.mtime) {
			return a.mtime.Before(b.mtime)
		}
		return lessByName(a, b)
	}
	// The items mostly come in path order, which for most folders already is
	// the sequence: one look at each neighbour costs far less than a sort.
	for i := 1; i < len(items); i++ {
		if less(items[i], items[i-1]) {
			sort.SliceStable(items, func(i, j int) bool { return less(items[i], items[j]) })
			return
		}
	}
}

// assignKeys hands out a key to every item of a sequence already in desired order.
// For order "none", items that have a key keep it and new items take keys after
// maxKey (the largest key in the task), OrderStep apart, in sequence order.
func assignKeys(items []*orderItem, order string, maxKey int64) {
	if order == "none" {
		next := maxKey
		if next <= 0 {
			next = OrderBase - OrderStep // an empty task starts at OrderBase
		}
		for _, it := range items {
			if it.kind != itemFree {
				it.assigned, it.anchor = it.key, true
				continue
			}
			if next > math.MaxInt64-OrderStep || next < 0 {
				next = 0 // out of room at the top: start over from the bottom
			}
			next += OrderStep
			it.assigned = next
		}
		return
	}
	anchors := longestRun(items)
	anchors = widenGaps(items, anchors)
	for _, i := range anchors {
		items[i].anchor = true
		items[i].assigned = items[i].key
	}
	prev := -1
	for g := 0; g <= len(anchors); g++ {
		next := len(items)
		if g < len(anchors) {
			next = anchors[g]
		}
		lo, hi, inf := gapBounds(items, anchors, g)
		n := next - prev - 1
		keys := spread(lo, hi, inf, n)
		for j := 0; j < n; j++ {
			items[prev+1+j].assigned = keys[j]
		}
		prev = next
	}
}

// longestRun returns the indices of the anchor candidates (fixed and prefer items
// with a positive key) that form the heaviest strictly increasing run of keys, in
// sequence order. A fixed item weighs more than all prefer items together.
// It runs in O(n log n) with a Fenwick tree of prefix maxima over the ranked keys.
func longestRun(items []*orderItem) []int {
	var cand []int
	for i, it := range items {
		if it.kind != itemFree && it.key > 0 {
			cand = append(cand, i)
		}
	}
	if len(cand) == 0 {
		return nil
	}
	keys := make([]int64, len(cand))
	for j, i := range cand {
		keys[j] = items[i].key
	}
	if strictlySorted(keys) { // nothing out of order: the run is every candidate
		return cand
	}
	sort.Slice(keys, func(a, b int) bool { return keys[a] < keys[b] })
	rank := func(k int64) int { // 1-based rank among distinct keys
		return sort.Search(len(keys), func(i int) bool { return keys[i] >= k }) + 1
	}
	heavy := int64(len(items) + 1)
	type best struct {
		w   int64
		end int // index into cand of the run's last item; -1 for none
	}
	tree := make([]best, len(keys)+1)
	for i := range tree {
		tree[i].end = -1
	}
	query := func(r int) best { // best over ranks 1..r
		b := best{end: -1}
		for ; r > 0; r -= r & -r {
			if tree[r].w > b.w {
				b = tree[r]
			}
		}
		return b
	}
	update := func(r int, v best) {
		for ; r < len(tree); r += r & -r {
			if v.w > tree[r].w {
				tree[r] = v
			}
		}
	}
	parent := make([]int, len(cand))
	weight := make([]int64, len(cand))
	top := best{end: -1}
	for j, i := range cand {
		w := int64(1)
		if items[i].kind == itemFixed {
			w = heavy
		}
		r := rank(items[i].key)
		prev := query(r - 1)
		parent[j] = prev.end
		weight[j] = prev.w + w
		cur := best{w: weight[j], end: j}
		update(r, cur)
		if cur.w > top.w {
			top = cur
		}
	}
	var run []int
	for j := top.end; j >= 0; j = parent[j] {
		run = append(run, cand[j])
	}
	for a, b := 0, len(run)-1; a < b; a, b = a+1, b-1 {
		run[a], run[b] = run[b], run[a]
	}
	return run
}

// gapBounds returns the keys around gap g (before anchors[g]): lo is 0 before the
// first anchor, and inf reports that there is no anchor after the gap.
func gapBounds(items []*orderItem, anchors []int, g int) (lo, hi int64, inf bool) {
	if g > 0 {
		lo = items[anchors[g-1]].key
	}
	if g < len(anchors) {
		return lo, items[anchors[g]].key, false
	}
	return lo, math.MaxInt64, true
}

// fits reports whether n keys fit strictly between lo and hi.
func fits(lo, hi int64, n int) bool {
	return hi-lo-1 >= int64(n)
}

// widenGaps drops anchors around every gap too narrow for the items in it, choosing
// for each gap the widening that drops the fewest fixed items (then the fewest
// anchors), and returns the anchors kept.
func widenGaps(items []*orderItem, anchors []int) []int {
	pos := func(g int) int { // sequence index of anchor g, with sentinels
		if g < 0 {
			return -1
		}
		if g >= len(anchors) {
			return len(items)
		}
		return anchors[g]
	}
	cost := func(g int) int {
		if items[anchors[g]].kind == itemFixed {
			return 1
		}
		return 0
	}
	for g := 0; g <= len(anchors); g++ {
		lo, hi, _ := gapBounds(items, anchors, g)
		if fits(lo, hi, pos(g)-pos(g-1)-1) {
			continue
		}
		// Drop l anchors on the left (anchors[g-l:g]) and r on the right
		// (anchors[g:g+r]); find the cheapest pair that makes the gap fit.
		bestL, bestR, bestCost := g, len(anchors)-g, math.MaxInt
		costL := 0
		for l := 0; l <= g; l++ {
			if l > 0 {
				costL += cost(g - l)
			}
			if costL > bestCost {
				break
			}
			lo, _, _ := gapBounds(items, anchors, g-l)
			costR := 0
			for r := 0; g+r <= len(anchors); r++ {
				if r > 0 {
					costR += cost(g + r - 1)
				}
				c := costL + costR
				if c > bestCost || (c == bestCost && l+r >= bestL+bestR) {
					break
				}
				_, hi, _ := gapBounds(items, anchors, g+r)
				if fits(lo, hi, pos(g+r)-pos(g-l-1)-1) {
					bestL, bestR, bestCost = l, r, c
					break
				}
			}
		}
		anchors = append(anchors[:g-bestL:g-bestL], anchors[g+bestR:]...)
		g -= bestL
	}
	return anchors
}

// spread returns n increasing keys strictly between lo and hi for the items of
// one gap, keeping room at both ends of the sequence for what comes later: with no
// anchor at all (lo 0, inf) the keys start at OrderBase, far above 0, OrderStep
// apart; after the last anchor (inf) they follow it OrderStep apart. Elsewhere,
// before the first anchor included, they are spaced evenly: a file put before a
// task's first file takes a key half way down to 0, which leaves about 30 halvings
// for later insertions there, whether each new file goes first or next to the
// previous one.
func spread(lo, hi int64, inf bool, n int) []int64 {
	keys := make([]int64, n)
	if n == 0 {
		return keys
	}
	span := OrderStep * int64(n)
	switch {
	case inf && lo == 0 && OrderBase <= math.MaxInt64-span:
		for j := range keys {
			keys[j] = OrderBase + OrderStep*int64(j)
		}
		return keys
	case inf && lo <= math.MaxInt64-span:
		for j := range keys {
			keys[j] = lo + OrderStep*int64(j+1)
		}
		return keys
	}
	d := hi - lo
	step, rem := d/int64(n+1), d%int64(n+1)
	for j := range keys {
		k := int64(j + 1)
		keys[j] = lo + step*k + rem*k/int64(n+1)
	}
	return keys
}
