package syncer

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/watcher"
)

// TestMakePlan_Remote checks what a fresh listing of the task changes: adoption,
// names and orders edited in Focus, attachments deleted there.
func TestMakePlan_Remote(t *testing.T) {
	runPlanCases(t, []planCase{
		{
			name: "first run over a task holding the files: adopt, lowest id first",
			setup: func() PlanInput {
				fs, _ := three()
				remote := []focus.Attachment{
					{ID: 9, Name: "b.txt", Size: fs[1].Size, DisplayOrder: 20},
					{ID: 4, Name: "b.txt", Size: fs[1].Size, DisplayOrder: 30},
					{ID: 5, Name: "a.txt", Size: fs[0].Size, DisplayOrder: 10},
					{ID: 6, Name: "c.txt", Size: fs[2].Size + 1, DisplayOrder: 40}, // other size
					{ID: 7, Name: "hand.txt", Size: 3, DisplayOrder: 50},
				}
				return PlanInput{Snapshot: snapOf(fs...), Records: recsOf(), Remote: remote, Options: nameOpts}
			},
			cost: 1, // c.txt uploaded
			check: func(t *testing.T, p *Plan) {
				got := map[string]int64{}
				for _, r := range p.Adopt {
					got[r.Path] = r.AttachmentID
				}
				if want := map[string]int64{"a.txt": 5, "b.txt": 4}; !reflect.DeepEqual(got, want) {
					t.Errorf("adopted %v, want %v", got, want)
				}
				if f := p.Uploads[0].Files[0]; f.Path != "c.txt" || f.DisplayOrder <= 30 {
					t.Errorf("upload %s at %d, want c.txt after 30", f.Path, f.DisplayOrder)
				}
			},
		},
		{
			name: "name changed in Focus: restored",
			setup: func() PlanInput {
				fs, recs := three()
				remote := remoteOf(recs)
				remote[1].Name = "renamed by hand.txt"
				return PlanInput{Snapshot: snapOf(fs...), Records: recs, Remote: remote, Options: nameOpts}
			},
			cost: 1,
			check: func(t *testing.T, p *Plan) {
				want := Update{Path: "b.txt", AttachmentID: 2, Name: "b.txt", DisplayOrder: 2048, Hash: "hb"}
				got := p.Updates[0]
				got.Record = state.FileRecord{}
				if got != want {
					t.Errorf("update = %+v, want %+v", got, want)
				}
			},
		},
		{
			name: "moved out of order in Focus: one reorder",
			setup: func() PlanInput {
				fs, recs := three()
				remote := remoteOf(recs)
				remote[0].DisplayOrder = 5000
				return PlanInput{Snapshot: snapOf(fs...), Records: recs, Remote: remote, Options: nameOpts}
			},
			cost: 1,
			check: func(t *testing.T, p *Plan) {
				if u := p.Updates[0]; u.Path != "a.txt" || u.DisplayOrder != 1024 {
					t.Errorf("update = %+v, want a.txt back at 1024", u)
				}
			},
		},
		{
			name: "key changed in Focus but still in order: recorded, no request",
			setup: func() PlanInput {
				fs, recs := three()
				remote := remoteOf(recs)
				remote[1].DisplayOrder = 2500
				return PlanInput{Snapshot: snapOf(fs...), Records: recs, Remote: remote, Options: nameOpts}
			},
			check: func(t *testing.T, p *Plan) {
				if len(p.Touch) != 1 || p.Touch[0].DisplayOrder != 2500 || p.Cost() != 0 {
					t.Errorf("plan:\n%s", describe(p))
				}
			},
		},
		{
			name: "deleted in Focus: uploaded again",
			setup: func() PlanInput {
				fs, recs := three()
				remote := remoteOf(recs)[1:]
				return PlanInput{Snapshot: snapOf(fs...), Records: recs, Remote: remote, Options: nameOpts}
			},
			cost: 1,
			check: func(t *testing.T, p *Plan) {
				if f := p.Uploads[0].Files[0]; f.Path != "a.txt" || f.Replaces != 0 || f.DisplayOrder >= 2048 {
					t.Errorf("upload = %+v, want a.txt as new before 2048", f)
				}
			},
		},
		{
			name: "deleted in Focus and locally: forgotten",
			setup: func() PlanInput {
				fs, recs := three()
				remote := remoteOf(recs)[1:]
				gone := time.Now()
				remote = append(remote, focus.Attachment{ID: 1, Name: "a.txt", DeletedAt: &gone})
				return PlanInput{Snapshot: snapOf(fs[1:]...), Records: recs, Remote: remote, Options: nameOpts}
			},
			check: func(t *testing.T, p *Plan) {
				if !reflect.DeepEqual(p.Forget, []string{"a.txt"}) || p.Cost() != 0 {
					t.Errorf("plan:\n%s", describe(p))
				}
			},
		},
	})
}

func TestMakePlan_MassDelete(t *testing.T) {
	build := func(n, keep int, opt PlanOptions) PlanInput {
		var files []watcher.File
		recs := recsOf()
		for i := 0; i < n; i++ {
			f := lf(fmt.Sprintf("f%02d", i), fmt.Sprintf("h%d", i))
			recs[f.Path] = managedRec(f, int64(i+1), int64(OrderStep*(i+1)))
			if i < keep {
				files = append(files, f)
			}
		}
		files = append(files, lf("new", "hnew"))
		return PlanInput{Snapshot: snapOf(files...), Records: recs, Options: opt}
	}
	tests := []struct {
		name       string
		n, keep    int
		opt        PlanOptions
		held       string
		deletes    int
		heldDelete int
	}{
		{"percent over", 40, 10, PlanOptions{Folder: config.Folder{DeleteRemote: true, MaxDelete: config.Limit{Percent: 50}}}, "would delete 30 of 40 attachments (75%), over max_delete 50%: run 'focussync sync --allow-mass-delete' to confirm", 0, 30},
		{"percent at the bound", 40, 20, PlanOptions{Folder: config.Folder{DeleteRemote: true, MaxDelete: config.Limit{Percent: 50}}}, "", 20, 0},
		{"percent not applied to 10 or fewer", 10, 1, PlanOptions{Folder: config.Folder{DeleteRemote: true, MaxDelete: config.Limit{Percent: 50}}}, "", 9, 0},
		{"count over", 10, 5, PlanOptions{Folder: config.Folder{DeleteRemote: true, MaxDelete: config.Limit{Count: 4}}}, "would delete 5 of 10 attachments, over max_delete 4: run 'focussync sync --allow-mass-delete' to confirm", 0, 5},
		{"count at the bound", 10, 6, PlanOptions{Folder: config.Folder{DeleteRemote: true, MaxDelete: config.Limit{Count: 4}}}, "", 4, 0},
		{"confirmed", 40, 10, PlanOptions{Folder: config.Folder{DeleteRemote: true, MaxDelete: config.Limit{Percent: 50, Count: 3}}, AllowMassDelete: true}, "", 30, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := build(tt.n, tt.keep, tt.opt)
			p := MakePlan(in)
			if p.Held != tt.held || len(p.Deletes) != tt.deletes || p.HeldDeletes != tt.heldDelete {
				t.Errorf("held %q (%d), %d deletes; want %q (%d), %d deletes", p.Held, p.HeldDeletes, len(p.Deletes), tt.held, tt.heldDelete, tt.deletes)
			}
			if len(p.Uploads) != 1 {
				t.Errorf("the new file is not uploaded while deletes are held:\n%s", describe(p))
			}
			checkApplied(t, in, p)
		})
	}
}

func TestMakePlan_GapExhausted(t *testing.T) {
	t.Run("renumbers one neighbour", func(t *testing.T) {
		a, c, d, e := lf("a", "ha"), lf("c", "hc"), lf("d", "hd"), lf("e", "he")
		recs := recsOf(managedRec(a, 1, 1024), managedRec(c, 2, 1025), managedRec(d, 3, 2048), managedRec(e, 4, 3072))
		in := PlanInput{Snapshot: snapOf(a, lf("b", "hb"), c, d, e), Records: recs, Options: nameOpts}
		p := MakePlan(in)
		if got, want := p.Cost(), 2; got != want {
			t.Fatalf("cost = %d, want %d (upload and one reorder)\n%s", got, want, describe(p))
		}
		sim := checkApplied(t, in, p)
		var keys []int64
		for _, path := range []string{"a", "b", "c", "d", "e"} {
			keys = append(keys, sim.remote[sim.records[path].AttachmentID].DisplayOrder)
		}
		for i := 1; i < len(keys); i++ {
			if keys[i] <= keys[i-1] {
				t.Errorf("keys out of order: %v", keys)
			}
		}
	})
	t.Run("prefers renumbering an item whose request is sent anyway", func(t *testing.T) {
		a, c := lf("a", "ha"), lf("c", "hc")
		recs := recsOf(managedRec(a, 1, 1024), managedRec(c, 2, 1025))
		a.Hash = "ha2" // a new version goes up anyway
		in := PlanInput{Snapshot: snapOf(a, lf("b", "hb"), c), Records: recs, Options: nameOpts}
		p := MakePlan(in)
		if got, want := p.Cost(), 2; got != want || len(p.Updates) != 0 {
			t.Fatalf("cost = %d, want %d with no reorder\n%s", got, want, describe(p))
		}
		checkApplied(t, in, p)
	})
}

func TestMakePlan_Orders(t *testing.T) {
	newer := lf("a-newest", "h1")
	newer.ModTime = tBase.Add(3 * time.Hour)
	older := lf("z-oldest", "h2")
	older.ModTime = tBase.Add(-3 * time.Hour)
	files := []watcher.File{newer, older, lf("B", "h3"), lf("b", "h4"), lf("c", "h5")}
	tests := []struct {
		order string
		want  string
	}{
		{"name", "[a-newest B b c z-oldest]"},
		{"", "[a-newest B b c z-oldest]"},
		{"mtime", "[z-oldest B b c a-newest]"},
		{"none", "[a-newest B b c z-oldest]"},
	}
	for _, tt := range tests {
		t.Run("order "+tt.order, func(t *testing.T) {
			p := MakePlan(PlanInput{Snapshot: snapOf(files...), Records: recsOf(), Options: PlanOptions{Folder: config.Folder{Order: tt.order}}})
			var got []string
			for i, f := range p.Uploads[0].Files {
				got = append(got, f.Path)
				if f.DisplayOrder != int64(OrderBase+OrderStep*i) {
					t.Errorf("%s at %d, want %d", f.Path, f.DisplayOrder, OrderBase+OrderStep*i)
				}
			}
			if fmt.Sprint(got) != tt.want {
				t.Errorf("sequence %v, want %s", got, tt.want)
			}
		})
	}
	t.Run("none never reorders; new files go after the largest key", func(t *testing.T) {
		fs, recs := three()
		remote := remoteOf(recs, focus.Attachment{ID: 50, Name: "by hand", DisplayOrder: 9000})
		remote[0].DisplayOrder = 5000 // a.txt moved to the end in Focus
		in := PlanInput{Snapshot: snapOf(append(fs, lf("0.txt", "h0"))...), Records: recs, Remote: remote, Options: PlanOptions{Folder: config.Folder{Order: "none"}}}
		p := MakePlan(in)
		if p.Cost() != 1 || p.Uploads[0].Files[0].DisplayOrder != 9000+OrderStep {
			t.Errorf("plan:\n%s", describe(p))
		}
		checkApplied(t, in, p)
	})
}

func TestMakePlan_Deterministic(t *testing.T) {
	sc := genScenario(&byteChooser{b: []byte(strings.Repeat("\x07\x93\x21\xfe\x10\x55\x3c", 60))})
	first := describe(MakePlan(sc.in))
	for i := 0; i < 20; i++ {
		if got := describe(MakePlan(sc.in)); got != first {
			t.Fatalf("run %d differs:\n%s\nfirst:\n%s", i, got, first)
		}
	}
}
