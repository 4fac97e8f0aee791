package syncer

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/watcher"
)

// chooser yields the random choices a scenario is built from.
type chooser interface {
	Intn(n int) int
}

// byteChooser draws choices from fuzz bytes, and zeros once they run out.
type byteChooser struct{ b []byte }

func (c *byteChooser) Intn(n int) int {
	if n <= 1 {
		return 0
	}
	v := 0
	for m := n; m > 0 && len(c.b) > 0; m >>= 8 {
		v = v<<8 | int(c.b[0])
		c.b = c.b[1:]
	}
	return v % n
}

// scenario is a generated planner input with what the generator did to it, so that
// the properties can be checked against facts known independently of the planner.
type scenario struct {
	in     PlanInput
	remote map[int64]focus.Attachment // the task as it really is

	distinct   bool // all content hashes distinct
	wild       bool // keys drawn anywhere (gaps may run out)
	adds       int  // new local files
	renamed    int  // managed files moved or renamed
	removed    int  // managed files gone
	edited     int  // managed files with new content to upload
	goneRemote int  // managed attachments deleted in Focus whose file is still there
	renamedRem int  // managed attachments renamed in Focus
	refusedNew int  // refused files whose content changed since
	fixed      []string
}

// genScenario builds a random remote, records consistent with it, and a local
// snapshot derived from them by random adds, removes, renames and edits.
func genScenario(c chooser) *scenario {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sc := &scenario{remote: map[int64]focus.Attachment{}, distinct: c.Intn(2) == 0, wild: c.Intn(8) == 0}
	used := map[string]bool{}
	hashN := 0
	newHash := func() (string, int64) {
		hashN++
		n := hashN
		if !sc.distinct {
			n = c.Intn(6)
		}
		return fmt.Sprintf("h%03d", n), int64(n*37 + 1)
	}
	dirs := []string{"", "", "d1/", "d2/sub/"}
	prefixes := []string{"a", "A", "b", "\xffx", "c"}
	newPath := func(kind string) string {
		base := fmt.Sprintf("%s%s%s%02d", dirs[c.Intn(len(dirs))], prefixes[c.Intn(len(prefixes))], kind, c.Intn(40))
		p := base + ".txt"
		for i := 2; used[p]; i++ { // no loop on the choices: they may run out
			p = fmt.Sprintf("%s-%d.txt", base, i)
		}
		used[p] = true
		return p
	}
	key := func(i int) int64 {
		if sc.wild {
			return int64(c.Intn(4000)) - 100
		}
		return int64(OrderStep*(i+1) + c.Intn(100))
	}
	snap := &watcher.Snapshot{Files: map[string]watcher.File{}, Held: map[string]string{}}
	records := map[string]state.FileRecord{}
	nextID := int64(100)

	// The task as it was after the last pass: managed files in name order.
	n0 := c.Intn(26)
	var orig []watcher.File
	for i := 0; i < n0; i++ {
		h, size := newHash()
		orig = append(orig, watcher.File{Path: newPath("f"), Size: size, ModTime: t0.Add(time.Duration(c.Intn(30)) * time.Minute), Inode: uint64(i + 1), Hash: h})
	}
	sort.Slice(orig, func(i, j int) bool {
		return testLess(RemoteName(orig[i].Path), orig[i].Path, RemoteName(orig[j].Path), orig[j].Path)
	})
	for i, f := range orig {
		nextID++
		a := focus.Attachment{ID: nextID, Name: RemoteName(f.Path), Size: f.Size, DisplayOrder: key(i)}
		sc.remote[a.ID] = a
		records[f.Path] = state.FileRecord{Path: f.Path, Size: f.Size, ModTime: f.ModTime, Inode: f.Inode, Hash: f.Hash,
			AttachmentID: a.ID, RemoteName: a.Name, DisplayOrder: a.DisplayOrder}
	}
	// Attachments added by hand; some share a name and size with files added below.
	var handNames []watcher.File
	for i, n := 0, c.Intn(4); i < n; i++ {
		h, size := newHash()
		f := watcher.File{Path: newPath("n"), Size: size, ModTime: t0, Inode: uint64(500 + i), Hash: h}
		nextID++
		sc.remote[nextID] = focus.Attachment{ID: nextID, Name: RemoteName(f.Path), Size: f.Size, DisplayOrder: key(c.Intn(n0 + 1))}
		if c.Intn(3) == 0 { // a second copy with the same name
			nextID++
			sc.remote[nextID] = focus.Attachment{ID: nextID, Name: RemoteName(f.Path), Size: f.Size, DisplayOrder: key(c.Intn(n0 + 1))}
		}
		if c.Intn(2) == 0 {
			handNames = append(handNames, f)
		}
	}
	withRemote := c.Intn(10) < 7

	// Local changes.
	for _, f := range orig {
		r := records[f.Path]
		goneRemote, renamedRemote := false, false
		if withRemote {
			switch c.Intn(10) {
			case 0:
				delete(sc.remote, r.AttachmentID)
				goneRemote = true
			case 1:
				a := sc.remote[r.AttachmentID]
				a.Name += ".renamed"
				sc.remote[a.ID] = a
				renamedRemote = true
			case 2:
				a := sc.remote[r.AttachmentID]
				a.DisplayOrder = int64(OrderStep*c.Intn(n0+2) + OrderStep/2)
				if sc.wild {
					a.DisplayOrder = key(0)
				}
				sc.remote[a.ID] = a
			}
		}
		fate := c.Intn(10)
		switch {
		case fate < 5: // unchanged
			snap.Files[f.Path] = f
		case fate == 5: // touched: new mtime and inode, same content
			f.ModTime = f.ModTime.Add(time.Hour)
			f.Inode += 1000
			snap.Files[f.Path] = f
		case fate == 6: // removed
			if !goneRemote {
				sc.removed++
			}
			continue
		case fate == 7: // renamed or moved
			base := f.Path[strings.LastIndexByte(f.Path, '/')+1:]
			np := newPath("m")
			if c.Intn(2) == 0 {
				if d := dirs[c.Intn(len(dirs))] + base; !used[d] {
					used[d] = true
					np = d
				}
			}
			f.Path = np
			snap.Files[np] = f
			if goneRemote {
				sc.goneRemote++
			} else {
				sc.renamed++
			}
			continue
		case fate == 8: // edited
			f.Hash, f.Size = fmt.Sprintf("e%03d", c.Intn(1000)), int64(c.Intn(5000))
			f.ModTime = f.ModTime.Add(2 * time.Hour)
			snap.Files[f.Path] = f
			if c.Intn(4) == 0 && !goneRemote { // the new version was refused before
				r.Refused = &state.Refusal{Hash: f.Hash, LastError: "400 bad file"}
				records[f.Path] = r
				if renamedRemote {
					sc.renamedRem++
				} else {
					sc.fixed = append(sc.fixed, f.Path)
				}
			} else if goneRemote {
				sc.goneRemote++
			} else {
				sc.edited++
			}
			continue
		case fate == 9: // held (still changing) or under a directory that failed
			if c.Intn(2) == 0 {
				snap.Held[f.Path] = "still changing"
			} else {
				snap.FailedDirs = append(snap.FailedDirs, f.Path)
			}
			if !goneRemote && !renamedRemote {
				sc.fixed = append(sc.fixed, f.Path)
			}
			if renamedRemote {
				sc.renamedRem++
			}
			continue
		}
		if goneRemote {
			sc.goneRemote++
		} else if !renamedRemote {
			sc.fixed = append(sc.fixed, f.Path)
		}
		if renamedRemote {
			sc.renamedRem++
		}
	}
	// New files: fresh, copies of existing content, or matching hand-made attachments.
	for i, n := 0, c.Intn(14); i < n; i++ {
		h, size := newHash()
		f := watcher.File{Path: newPath("n"), Size: size, ModTime: t0.Add(time.Duration(c.Intn(30)) * time.Minute), Inode: uint64(1000 + i), Hash: h}
		if len(handNames) > 0 && c.Intn(3) == 0 {
			f = handNames[0]
			handNames = handNames[1:]
		}
		snap.Files[f.Path] = f
		sc.adds++
	}
	// Files the server refused: unchanged since (skipped) or changed (uploaded).
	for i, n := 0, c.Intn(3); i < n; i++ {
		h, size := newHash()
		f := watcher.File{Path: newPath("r"), Size: size, ModTime: t0, Inode: uint64(2000 + i), Hash: h}
		r := state.FileRecord{Path: f.Path, Refused: &state.Refusal{Hash: h, LastError: "400 too large", Attempts: 1}}
		if c.Intn(2) == 0 {
			r.Refused.Hash = "old"
			sc.refusedNew++
		}
		records[f.Path] = r
		if c.Intn(4) > 0 {
			snap.Files[f.Path] = f
		}
	}
	// Held new files.
	if c.Intn(4) == 0 {
		snap.Held[newPath("w")] = "still changing"
	}

	orders := []string{"name", "name", "mtime", "none"}
	opt := PlanOptions{
		Folder:          config.Folder{Order: orders[c.Intn(len(orders))], DeleteRemote: c.Intn(5) > 0},
		AllowMassDelete: c.Intn(5) == 0,
		MaxBatchFiles:   c.Intn(12),
	}
	switch c.Intn(3) {
	case 0:
		opt.MaxDelete = config.Limit{Count: 1 + c.Intn(4)}
	case 1:
		opt.MaxDelete = config.Limit{Percent: 50}
	}
	if c.Intn(20) == 0 {
		opt.Paused = "root missing"
	}
	sc.in = PlanInput{Snapshot: snap, Records: records, Options: opt}
	if withRemote {
		sc.in.Remote = listing(sc.remote)
	}
	return sc
}

// testLess is the name order, written again independently of the planner.
func testLess(na, pa, nb, pb string) bool {
	if x, y := strings.ToLower(na), strings.ToLower(nb); x != y {
		return x < y
	}
	if na != nb {
		return na < nb
	}
	return pa < pb
}

// listing returns the attachments by ascending id, as a list call would.
func listing(m map[int64]focus.Attachment) []focus.Attachment {
	out := []focus.Attachment{}
	for _, id := range sortedKeys(m) {
		out = append(out, m[id])
	}
	return out
}

// TestMakePlan_Properties runs the planner over random scenarios, applies each plan
// to a simulated task and state store, and checks convergence, safety and cost.
func TestMakePlan_Properties(t *testing.T) {
	seen := map[string]int{}
	for seed := int64(1); seed <= 500; seed++ {
		sc := genScenario(rand.New(rand.NewSource(seed)))
		if err := checkScenario(sc); err != nil {
			t.Errorf("seed %d: %v", seed, err)
		}
		p := MakePlan(sc.in)
		for _, u := range p.Updates {
			if u.Rename() {
				seen["rename"]++
			} else {
				seen["update"]++
			}
		}
		for k, n := range map[string]int{"adopt": len(p.Adopt), "touch": len(p.Touch), "forget": len(p.Forget),
			"delete": len(p.Deletes), "replace": p.Replaces(), "upload": len(p.Uploads), "skip": len(p.Skipped)} {
			seen[k] += n
		}
		if p.Held != "" {
			seen["held"]++
		}
	}
	// The scenarios must reach every kind of op, or the properties prove little.
	for _, k := range []string{"rename", "update", "adopt", "touch", "forget", "delete", "replace", "upload", "skip", "held"} {
		if seen[k] == 0 {
			t.Errorf("no scenario produced a %s", k)
		}
	}
	t.Logf("ops over all scenarios: %v", seen)
}

// checkScenario plans, applies, and checks the properties.
func checkScenario(sc *scenario) error {
	in := sc.in
	plan := MakePlan(in)
	if again := MakePlan(in); fmt.Sprint(again) != fmt.Sprint(plan) {
		return fmt.Errorf("not deterministic:\n%s\n%s", describe(plan), describe(again))
	}
	sim := newSimulator(sc.remote, in.Records)
	if err := sim.apply(plan); err != nil {
		return fmt.Errorf("apply: %w\nplan:\n%s", err, describe(plan))
	}
	opt := in.Options
	managed := sim.startManaged

	// (e) the guards.
	if n := len(plan.Deletes); n > 0 {
		switch {
		case !opt.DeleteRemote:
			return fmt.Errorf("%d deletes with delete_remote off", n)
		case opt.Paused != "":
			return fmt.Errorf("%d deletes while paused", n)
		case len(in.Snapshot.Files) == 0 && len(in.Snapshot.Held) == 0:
			return fmt.Errorf("%d deletes from an empty folder", n)
		case !opt.AllowMassDelete && opt.MaxDelete.Exceeded(n, managed):
			return fmt.Errorf("%d of %d deletes over max_delete %s", n, managed, opt.MaxDelete)
		}
	}
	if opt.Paused != "" && !plan.Empty() {
		return fmt.Errorf("paused, but the plan does something:\n%s", describe(plan))
	}

	// (a) a second pass over the result, with a fresh listing, does nothing.
	again := MakePlan(PlanInput{Snapshot: in.Snapshot, Records: sim.records, Remote: listing(sim.remote), Options: opt})
	if !again.Empty() {
		return fmt.Errorf("did not converge: second plan:\n%s\nfirst plan:\n%s", describe(again), describe(plan))
	}
	if opt.Paused != "" || plan.Held != "" {
		return nil
	}

	// (b) one managed attachment per settled file, named after it, in order.
	refused := map[string]bool{}
	for _, s := range plan.Skipped {
		refused[s.Path] = true
	}
	type entry struct {
		path, name string
		mtime      time.Time
		key        int64
	}
	var entries []entry
	for _, p := range sortedKeys(in.Snapshot.Files) {
		r, ok := sim.records[p]
		if !ok || !r.Managed() {
			if !refused[p] {
				return fmt.Errorf("file %q has no attachment", p)
			}
			continue
		}
		a, ok := sim.remote[r.AttachmentID]
		if !ok || a.Name != RemoteName(p) {
			return fmt.Errorf("file %q: attachment %d is %+v (present %v), want name %q", p, r.AttachmentID, a, ok, RemoteName(p))
		}
		entries = append(entries, entry{p, a.Name, in.Snapshot.Files[p].ModTime, a.DisplayOrder})
	}
	if opt.DeleteRemote {
		for p, r := range sim.records {
			if r.Managed() && !in.Snapshot.Present(p) {
				return fmt.Errorf("record %q of a removed file still owns attachment %d", p, r.AttachmentID)
			}
		}
	}
	if opt.Order == "name" || opt.Order == "mtime" {
		sort.Slice(entries, func(i, j int) bool {
			a, b := entries[i], entries[j]
			if opt.Order == "mtime" && !a.mtime.Equal(b.mtime) {
				return a.mtime.Before(b.mtime)
			}
			return testLess(a.name, a.path, b.name, b.path)
		})
		for i := 1; i < len(entries); i++ {
			if entries[i].key <= entries[i-1].key {
				return fmt.Errorf("display order out of sequence: %q %d then %q %d", entries[i-1].path, entries[i-1].key, entries[i].path, entries[i].key)
			}
		}
	}

	// (d) the cost.
	if sc.wild {
		return nil // keys may be too close together for the bound on reorders
	}
	maxFiles := opt.MaxBatchFiles
	if maxFiles <= 0 || maxFiles > focus.MaxBulkFiles {
		maxFiles = focus.MaxBulkFiles
	}
	uploads := sc.adds + sc.goneRemote + sc.refusedNew
	if !sc.distinct {
		uploads += sc.renamed
	}
	bound := (uploads+maxFiles-1)/maxFiles + 2*sc.edited + sc.renamed + sc.removed + sc.renamedRem +
		reorderBound(sc, opt.Order) + len(plan.Adopt)
	if plan.Cost() > bound {
		return fmt.Errorf("cost %d over bound %d (adds %d renamed %d removed %d edited %d goneRemote %d renamedRemote %d refusedNew %d reorders %d adopted %d)\n%s",
			plan.Cost(), bound, sc.adds, sc.renamed, sc.removed, sc.edited, sc.goneRemote, sc.renamedRem, sc.refusedNew,
			reorderBound(sc, opt.Order), len(plan.Adopt), describe(plan))
	}
	return nil
}

// reorderBound is the number of untouched managed files out of order: how many are
// not in a longest strictly increasing run of their keys, found in O(n^2).
func reorderBound(sc *scenario, order string) int {
	if order == "none" {
		return 0
	}
	type fx struct {
		path  string
		mtime time.Time
		key   int64
	}
	var items []fx
	for _, p := range sc.fixed {
		r := sc.in.Records[p]
		key := sc.remote[r.AttachmentID].DisplayOrder
		mtime := r.ModTime
		if f, ok := sc.in.Snapshot.Files[p]; ok {
			mtime = f.ModTime
		}
		items = append(items, fx{p, mtime, key})
	}
	sort.Slice(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if order == "mtime" && !a.mtime.Equal(b.mtime) {
			return a.mtime.Before(b.mtime)
		}
		return testLess(RemoteName(a.path), a.path, RemoteName(b.path), b.path)
	})
	best := 0
	run := make([]int, len(items))
	for i := range items {
		if items[i].key <= 0 {
			continue
		}
		run[i] = 1
		for j := 0; j < i; j++ {
			if items[j].key > 0 && items[j].key < items[i].key && run[j]+1 > run[i] {
				run[i] = run[j] + 1
			}
		}
		best = max(best, run[i])
	}
	return len(items) - best
}

// describe prints a plan one op a line, for failure messages.
func describe(p *Plan) string {
	var b strings.Builder
	for _, r := range p.Adopt {
		fmt.Fprintf(&b, "  adopt %q id %d order %d\n", r.Path, r.AttachmentID, r.DisplayOrder)
	}
	for _, r := range p.Touch {
		fmt.Fprintf(&b, "  touch %q id %d name %q order %d\n", r.Path, r.AttachmentID, r.RemoteName, r.DisplayOrder)
	}
	for _, path := range p.Forget {
		fmt.Fprintf(&b, "  forget %q\n", path)
	}
	for i, bt := range p.Uploads {
		for _, f := range bt.Files {
			fmt.Fprintf(&b, "  upload[%d] %q order %d replaces %d\n", i, f.Path, f.DisplayOrder, f.Replaces)
		}
	}
	for _, d := range p.Deletes {
		fmt.Fprintf(&b, "  delete %q id %d\n", d.Path, d.AttachmentID)
	}
	for _, u := range p.Updates {
		fmt.Fprintf(&b, "  update %q (from %q) id %d name %q order %d\n", u.Path, u.OldPath, u.AttachmentID, u.Name, u.DisplayOrder)
	}
	for _, s := range p.Skipped {
		fmt.Fprintf(&b, "  skip %q: %s\n", s.Path, s.Reason)
	}
	if p.Held != "" {
		fmt.Fprintf(&b, "  held %d: %s\n", p.HeldDeletes, p.Held)
	}
	return b.String()
}
