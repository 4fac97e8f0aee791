package syncer

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/watcher"
)

var tBase = time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)

// lf is a settled local file whose size follows from its content hash.
func lf(path, hash string) watcher.File {
	return watcher.File{Path: path, Size: int64(10 * len(hash)), ModTime: tBase, Inode: uint64(len(path)), Hash: hash}
}

// managedRec is the record of a file uploaded as attachment id with the given order.
func managedRec(f watcher.File, id, order int64) state.FileRecord {
	return state.FileRecord{Path: f.Path, Size: f.Size, ModTime: f.ModTime, Inode: f.Inode, Hash: f.Hash,
		AttachmentID: id, RemoteName: RemoteName(f.Path), DisplayOrder: order}
}

func snapOf(files ...watcher.File) *watcher.Snapshot {
	s := &watcher.Snapshot{Files: map[string]watcher.File{}, Held: map[string]string{}}
	for _, f := range files {
		s.Files[f.Path] = f
	}
	return s
}

func recsOf(recs ...state.FileRecord) map[string]state.FileRecord {
	m := map[string]state.FileRecord{}
	for _, r := range recs {
		m[r.Path] = r
	}
	return m
}

// remoteOf lists the attachments the records own, as the task holds them.
func remoteOf(recs map[string]state.FileRecord, extra ...focus.Attachment) []focus.Attachment {
	m := map[int64]focus.Attachment{}
	for _, r := range recs {
		if r.Managed() {
			m[r.AttachmentID] = focus.Attachment{ID: r.AttachmentID, Name: r.RemoteName, Size: r.Size, DisplayOrder: r.DisplayOrder}
		}
	}
	for _, a := range extra {
		m[a.ID] = a
	}
	return listing(m)
}

var nameOpts = PlanOptions{Folder: config.Folder{Order: "name", DeleteRemote: true, MaxDelete: config.Limit{Percent: 50}}}

// three is a task of a.txt, b.txt, c.txt at 1024, 2048, 3072, all in sync.
func three() ([]watcher.File, map[string]state.FileRecord) {
	fs := []watcher.File{lf("a.txt", "ha"), lf("b.txt", "hb"), lf("c.txt", "hc")}
	return fs, recsOf(managedRec(fs[0], 1, 1024), managedRec(fs[1], 2, 2048), managedRec(fs[2], 3, 3072))
}

// checkApplied applies the plan to a simulated task and checks that a second pass
// with a fresh listing is empty.
func checkApplied(t *testing.T, in PlanInput, p *Plan) *simulator {
	t.Helper()
	remote := map[int64]focus.Attachment{}
	for _, a := range in.Remote {
		remote[a.ID] = a
	}
	if in.Remote == nil {
		for _, a := range remoteOf(in.Records) {
			remote[a.ID] = a
		}
	}
	sim := newSimulator(remote, in.Records)
	if err := sim.apply(p); err != nil {
		t.Fatalf("apply: %v\n%s", err, describe(p))
	}
	again := MakePlan(PlanInput{Snapshot: in.Snapshot, Records: sim.records, Remote: listing(sim.remote), Options: in.Options})
	if !again.Empty() {
		t.Fatalf("second pass not empty:\n%s\nafter:\n%s", describe(again), describe(p))
	}
	return sim
}

func TestMakePlan_NewFiles(t *testing.T) {
	var files []watcher.File
	for i := 25; i > 0; i-- {
		files = append(files, lf(fmt.Sprintf("f%02d.pdf", i), fmt.Sprintf("h%d", i)))
	}
	in := PlanInput{Snapshot: snapOf(files...), Records: recsOf(), Options: nameOpts}
	p := MakePlan(in)
	if got, want := p.Cost(), 3; got != want {
		t.Fatalf("cost = %d, want %d\n%s", got, want, describe(p))
	}
	var sizes []int
	for _, b := range p.Uploads {
		sizes = append(sizes, len(b.Files))
	}
	if got, want := fmt.Sprint(sizes), "[10 10 5]"; got != want {
		t.Errorf("batch sizes = %s, want %s", got, want)
	}
	for i, f := range p.Uploads[0].Files[:3] {
		if want := fmt.Sprintf("f%02d.pdf", i+1); f.Path != want || f.Name != want || f.DisplayOrder != int64(OrderBase+OrderStep*i) {
			t.Errorf("upload %d = %s %q order %d, want %s order %d", i, f.Path, f.Name, f.DisplayOrder, want, OrderBase+OrderStep*i)
		}
	}
	checkApplied(t, in, p)
}

func TestMakePlan_BatchLimits(t *testing.T) {
	small := func(p string) watcher.File { f := lf(p, "h"+p); f.Size = 40; return f }
	big := lf("c-big.bin", "hbig")
	big.Size = 500
	files := []watcher.File{small("a1"), small("a2"), small("b1"), big, small("d1"), small("d2")}
	tests := []struct {
		name  string
		opt   PlanOptions
		sizes string
	}{
		{"files cap", PlanOptions{Folder: config.Folder{Order: "name"}, MaxBatchFiles: 4}, "[4 2]"},
		{"over focus limit", PlanOptions{Folder: config.Folder{Order: "name"}, MaxBatchFiles: 50}, "[6]"},
		{"bytes cap, big file alone", PlanOptions{Folder: config.Folder{Order: "name"}, MaxBatchBytes: 100}, "[2 1 1 2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := MakePlan(PlanInput{Snapshot: snapOf(files...), Records: recsOf(), Options: tt.opt})
			var sizes []int
			for _, b := range p.Uploads {
				sizes = append(sizes, len(b.Files))
			}
			if got := fmt.Sprint(sizes); got != tt.sizes {
				t.Errorf("batch sizes = %s, want %s\n%s", got, tt.sizes, describe(p))
			}
		})
	}
}

// planCase is one planner input with the request cost its plan must have and any
// further checks on the plan.
type planCase struct {
	name  string
	setup func() PlanInput
	cost  int
	check func(t *testing.T, p *Plan)
}

// runPlanCases plans each case, checks it, and checks that applying it converges.
func runPlanCases(t *testing.T, tests []planCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.setup()
			p := MakePlan(in)
			if got := p.Cost(); got != tt.cost {
				t.Errorf("cost = %d, want %d\n%s", got, tt.cost, describe(p))
			}
			if tt.check != nil {
				tt.check(t, p)
			}
			checkApplied(t, in, p)
		})
	}
}

// TestMakePlan_Costs checks each row of the cost table, and the rules behind it.
func TestMakePlan_Costs(t *testing.T) {
	runPlanCases(t, []planCase{
		{
			name: "nothing changed",
			setup: func() PlanInput {
				fs, recs := three()
				return PlanInput{Snapshot: snapOf(fs...), Records: recs, Options: nameOpts}
			},
			check: func(t *testing.T, p *Plan) {
				if !p.Empty() || len(p.Skipped) != 0 {
					t.Errorf("plan not empty:\n%s", describe(p))
				}
			},
		},
		{
			name: "stat changed, content not: touch",
			setup: func() PlanInput {
				fs, recs := three()
				fs[1].ModTime, fs[1].Inode = tBase.Add(time.Hour), 99
				return PlanInput{Snapshot: snapOf(fs...), Records: recs, Options: nameOpts}
			},
			check: func(t *testing.T, p *Plan) {
				if len(p.Touch) != 1 || p.Touch[0].Path != "b.txt" || p.Touch[0].Inode != 99 || p.Touch[0].AttachmentID != 2 {
					t.Errorf("touch = %+v, want b.txt with inode 99", p.Touch)
				}
			},
		},
		{
			name: "rename of an unchanged file keeps its order",
			setup: func() PlanInput {
				fs, recs := three()
				fs[1].Path = "b2.txt"
				return PlanInput{Snapshot: snapOf(fs...), Records: recs, Options: nameOpts}
			},
			cost: 1,
			check: func(t *testing.T, p *Plan) {
				want := Update{Path: "b2.txt", OldPath: "b.txt", AttachmentID: 2, Name: "b2.txt", DisplayOrder: 2048, Hash: "hb"}
				if len(p.Updates) != 1 {
					t.Fatalf("updates = %+v", p.Updates)
				}
				got := p.Updates[0]
				got.Record = state.FileRecord{}
				if got != want || !p.Updates[0].Rename() {
					t.Errorf("update = %+v, want %+v", got, want)
				}
				if r := p.Updates[0].Record; r.Path != "b2.txt" || r.AttachmentID != 2 || r.RemoteName != "b2.txt" || r.DisplayOrder != 2048 {
					t.Errorf("record after rename = %+v", r)
				}
			},
		},
		{
			name: "move within recursive folders",
			setup: func() PlanInput {
				f := lf("x/report.pdf", "hr")
				g := lf("y/notes.txt", "hn")
				recs := recsOf(managedRec(f, 7, 1024), managedRec(g, 8, 2048))
				f.Path = "y/sub/report.pdf"
				return PlanInput{Snapshot: snapOf(f, g), Records: recs, Options: nameOpts}
			},
			cost: 1,
			check: func(t *testing.T, p *Plan) {
				u := p.Updates[0]
				if u.OldPath != "x/report.pdf" || u.Path != "y/sub/report.pdf" || u.Name != "y/sub/report.pdf" || u.AttachmentID != 7 {
					t.Errorf("update = %+v", u)
				}
				if u.DisplayOrder <= 2048 {
					t.Errorf("moved file order %d, want after y/notes.txt (2048)", u.DisplayOrder)
				}
			},
		},
		{
			name: "content change: upload replacing, old order kept",
			setup: func() PlanInput {
				fs, recs := three()
				fs[1].Hash = "hb2"
				return PlanInput{Snapshot: snapOf(fs...), Records: recs, Options: nameOpts}
			},
			cost: 2,
			check: func(t *testing.T, p *Plan) {
				f := p.Uploads[0].Files[0]
				if f.Path != "b.txt" || f.Replaces != 2 || f.DisplayOrder != 2048 || f.Hash != "hb2" {
					t.Errorf("upload = %+v, want b.txt replacing 2 at 2048", f)
				}
			},
		},
		{
			name: "delete",
			setup: func() PlanInput {
				fs, recs := three()
				return PlanInput{Snapshot: snapOf(fs[0], fs[2]), Records: recs, Options: nameOpts}
			},
			cost: 1,
			check: func(t *testing.T, p *Plan) {
				if want := (Delete{Path: "b.txt", AttachmentID: 2, Name: "b.txt"}); len(p.Deletes) != 1 || p.Deletes[0] != want {
					t.Errorf("deletes = %+v, want %+v", p.Deletes, want)
				}
			},
		},
		{
			name: "new file between others takes a key between them",
			setup: func() PlanInput {
				fs, recs := three()
				return PlanInput{Snapshot: snapOf(append(fs, lf("b1.txt", "hb1"))...), Records: recs, Options: nameOpts}
			},
			cost: 1,
			check: func(t *testing.T, p *Plan) {
				if f := p.Uploads[0].Files[0]; f.Path != "b1.txt" || f.DisplayOrder != 2560 {
					t.Errorf("upload = %s at %d, want b1.txt at 2560", f.Path, f.DisplayOrder)
				}
			},
		},
		{
			name: "new file before the first",
			setup: func() PlanInput {
				fs, recs := three()
				return PlanInput{Snapshot: snapOf(append(fs, lf("0.txt", "h0"))...), Records: recs, Options: nameOpts}
			},
			cost: 1,
			check: func(t *testing.T, p *Plan) {
				if f := p.Uploads[0].Files[0]; f.DisplayOrder != 512 {
					t.Errorf("upload at %d, want 512", f.DisplayOrder)
				}
			},
		},
		{
			name: "rename and a content change in one pass",
			setup: func() PlanInput {
				fs, recs := three()
				fs[0].Path = "a-renamed.txt"
				fs[2].Hash = "hc2"
				return PlanInput{Snapshot: snapOf(fs...), Records: recs, Options: nameOpts}
			},
			cost: 3,
			check: func(t *testing.T, p *Plan) {
				if len(p.Updates) != 1 || !p.Updates[0].Rename() || p.Replaces() != 1 || len(p.Deletes) != 0 {
					t.Errorf("want one rename and one replacement:\n%s", describe(p))
				}
			},
		},
		{
			name: "two identical new files",
			setup: func() PlanInput {
				fs, recs := three()
				return PlanInput{Snapshot: snapOf(append(fs, lf("d1.txt", "same"), lf("d2.txt", "same"))...), Records: recs, Options: nameOpts}
			},
			cost: 1,
			check: func(t *testing.T, p *Plan) {
				if len(p.Uploads[0].Files) != 2 {
					t.Errorf("want both uploaded:\n%s", describe(p))
				}
			},
		},
		{
			name: "a file deleted and another with its content added is a rename",
			setup: func() PlanInput {
				fs, recs := three()
				fs[2] = lf("z.txt", "hc")
				return PlanInput{Snapshot: snapOf(fs...), Records: recs, Options: nameOpts}
			},
			cost: 1,
			check: func(t *testing.T, p *Plan) {
				if len(p.Updates) != 1 || p.Updates[0].OldPath != "c.txt" || p.Updates[0].Path != "z.txt" || p.Updates[0].DisplayOrder != 3072 {
					t.Errorf("want c.txt renamed to z.txt at 3072:\n%s", describe(p))
				}
			},
		},
		{
			name: "identical copies moved: same base name pairs first",
			setup: func() PlanInput {
				x, y := lf("old/x.txt", "dup"), lf("old/y.txt", "dup")
				recs := recsOf(managedRec(x, 1, 1024), managedRec(y, 2, 2048))
				return PlanInput{Snapshot: snapOf(lf("new/y.txt", "dup"), lf("new/x.txt", "dup")), Records: recs, Options: nameOpts}
			},
			cost: 2,
			check: func(t *testing.T, p *Plan) {
				for _, u := range p.Updates {
					if baseName(u.OldPath) != baseName(u.Path) {
						t.Errorf("paired %s with %s", u.OldPath, u.Path)
					}
				}
			},
		},
		{
			name: "delete_remote off keeps the attachment and the record",
			setup: func() PlanInput {
				fs, recs := three()
				o := nameOpts
				o.DeleteRemote = false
				return PlanInput{Snapshot: snapOf(fs[0], fs[1]), Records: recs, Options: o}
			},
			check: func(t *testing.T, p *Plan) {
				if !p.Empty() || p.Held != "" {
					t.Errorf("plan not empty:\n%s", describe(p))
				}
			},
		},
		{
			name: "held and failed-directory files are not deleted",
			setup: func() PlanInput {
				fs, recs := three()
				s := snapOf(fs[0])
				s.Held["b.txt"] = "still changing"
				s.Held["new.txt"] = "too large"
				s.HeldKinds = map[string]watcher.HoldKind{"b.txt": watcher.HoldSettling, "new.txt": watcher.HoldTooLarge}
				s.FailedDirs = []string{"c.txt"}
				return PlanInput{Snapshot: s, Records: recs, Options: nameOpts}
			},
			check: func(t *testing.T, p *Plan) {
				if !p.Empty() {
					t.Errorf("plan not empty:\n%s", describe(p))
				}
				if want := []Skip{{Path: "new.txt", Reason: "too large", Kind: SkipTooLarge}}; !reflect.DeepEqual(p.Skipped, want) {
					t.Errorf("skipped = %+v, want %+v", p.Skipped, want)
				}
			},
		},
		{
			name: "paused: nothing but held",
			setup: func() PlanInput {
				fs, recs := three()
				o := nameOpts
				o.Paused = "marker .focussync missing"
				return PlanInput{Snapshot: snapOf(fs[0], lf("new.txt", "hn")), Records: recs, Options: o}
			},
			check: func(t *testing.T, p *Plan) {
				want := &Plan{Paused: "marker .focussync missing", HeldDeletes: 2}
				if !reflect.DeepEqual(p, want) {
					t.Errorf("plan = %+v, want %+v", p, want)
				}
			},
		},
		{
			name: "empty folder with managed attachments is paused",
			setup: func() PlanInput {
				_, recs := three()
				return PlanInput{Snapshot: snapOf(), Records: recs, Options: nameOpts}
			},
			check: func(t *testing.T, p *Plan) {
				want := "folder is empty but 3 attachments are managed: not deleting (is the share mounted? if the files are really gone, run 'focussync sync --allow-mass-delete')"
				if p.Held != want || p.HeldDeletes != 3 || !p.Empty() {
					t.Errorf("plan = %+v, want held %q", p, want)
				}
			},
		},
		{
			name: "empty folder confirmed by a person: deletes",
			cost: 3,
			setup: func() PlanInput {
				_, recs := three()
				opts := nameOpts
				opts.AllowMassDelete = true
				return PlanInput{Snapshot: snapOf(), Records: recs, Options: opts}
			},
			check: func(t *testing.T, p *Plan) {
				if p.Held != "" || len(p.Deletes) != 3 {
					t.Errorf("plan:\n%s", describe(p))
				}
			},
		},
		{
			name: "refused file unchanged: skipped",
			setup: func() PlanInput {
				f := lf("huge.iso", "hx")
				recs := recsOf(state.FileRecord{Path: f.Path, Refused: &state.Refusal{Hash: "hx", LastError: "400 file too large", Attempts: 2}})
				return PlanInput{Snapshot: snapOf(f), Records: recs, Options: nameOpts}
			},
			check: func(t *testing.T, p *Plan) {
				want := []Skip{{Path: "huge.iso", Reason: "refused by the server: 400 file too large; waiting for the file to change", Kind: SkipRefused}}
				if !reflect.DeepEqual(p.Skipped, want) || !p.Empty() {
					t.Errorf("plan:\n%s", describe(p))
				}
			},
		},
		{
			name: "refused file changed: uploaded again",
			setup: func() PlanInput {
				f := lf("huge.iso", "hx2")
				recs := recsOf(state.FileRecord{Path: f.Path, Refused: &state.Refusal{Hash: "hx", LastError: "400 file too large"}})
				return PlanInput{Snapshot: snapOf(f), Records: recs, Options: nameOpts}
			},
			cost: 1,
		},
		{
			name: "refused new version of a managed file: skipped, old one kept",
			setup: func() PlanInput {
				fs, recs := three()
				fs[1].Hash = "hb2"
				r := recs["b.txt"]
				r.Refused = &state.Refusal{Hash: "hb2", LastError: "400 bad"}
				recs["b.txt"] = r
				return PlanInput{Snapshot: snapOf(fs...), Records: recs, Options: nameOpts}
			},
			check: func(t *testing.T, p *Plan) {
				if len(p.Skipped) != 1 || p.Skipped[0].Path != "b.txt" || !p.Empty() {
					t.Errorf("plan:\n%s", describe(p))
				}
			},
		},
		{
			name: "refusal of a file that is gone: forgotten",
			setup: func() PlanInput {
				fs, recs := three()
				recs["gone.bin"] = state.FileRecord{Path: "gone.bin", Refused: &state.Refusal{Hash: "hg", LastError: "400"}}
				return PlanInput{Snapshot: snapOf(fs...), Records: recs, Options: nameOpts}
			},
			check: func(t *testing.T, p *Plan) {
				if want := []string{"gone.bin"}; !reflect.DeepEqual(p.Forget, want) || p.Cost() != 0 {
					t.Errorf("plan:\n%s", describe(p))
				}
			},
		},
		{
			name: "two records naming one attachment: the second owns nothing",
			setup: func() PlanInput {
				fs, recs := three()
				dup := managedRec(lf("d.txt", "hd"), 2, 4096)
				recs[dup.Path] = dup
				return PlanInput{Snapshot: snapOf(fs[0], fs[2]), Records: recs, Options: nameOpts}
			},
			cost: 1,
			check: func(t *testing.T, p *Plan) {
				if len(p.Deletes) != 1 || p.Deletes[0].Path != "b.txt" || !reflect.DeepEqual(p.Forget, []string{"d.txt"}) {
					t.Errorf("plan:\n%s", describe(p))
				}
			},
		},
		{
			name: "adopted record not hashed yet: hash filled in, no upload",
			setup: func() PlanInput {
				fs, recs := three()
				r := recs["b.txt"]
				r.Hash = ""
				recs["b.txt"] = r
				return PlanInput{Snapshot: snapOf(fs...), Records: recs, Options: nameOpts}
			},
			check: func(t *testing.T, p *Plan) {
				if len(p.Touch) != 1 || p.Touch[0].Hash != "hb" || p.Cost() != 0 {
					t.Errorf("plan:\n%s", describe(p))
				}
			},
		},
	})
}

// Paths that are not the keys of Records (stale after a change, unsorted, or of
// another length) are not trusted: the plan is the one made without them.
func TestMakePlan_StalePathsAreNotTrusted(t *testing.T) {
	fs, recs := three()
	gone := lf("d.txt", "hd")
	recs[gone.Path] = managedRec(gone, 4, 4096)
	renamed := lf("e.txt", "hb")
	snap := snapOf(fs[0], renamed, fs[2]) // b.txt renamed to e.txt, d.txt deleted
	want := MakePlan(PlanInput{Snapshot: snap, Records: recs, Options: nameOpts})
	if len(want.Updates) != 1 || len(want.Deletes) != 1 {
		t.Fatalf("without Paths: %d updates, %d deletes; want the rename and the delete", len(want.Updates), len(want.Deletes))
	}
	for _, paths := range [][]string{
		{"a.txt", "b.txt", "c.txt", "x.txt"}, // same length, one key that is not there
		{"a.txt", "b.txt", "d.txt", "c.txt"}, // the keys, out of order
		{"a.txt", "c.txt"},                   // too few
	} {
		got := MakePlan(PlanInput{Snapshot: snap, Records: recs, Paths: paths, Options: nameOpts})
		if !reflect.DeepEqual(got, want) {
			t.Errorf("with Paths %q the plan differs:\n got %+v\nwant %+v", paths, got, want)
		}
	}
}

// Once a round is planned, its snapshot's files are dropped, and each upload is
// still checked against the device its file was scanned on, a file under a
// mount inside the folder included.
func TestPass_KeepDevicesOfUploads(t *testing.T) {
	a, b, c := lf("a.txt", "ha"), lf("mnt/b.txt", "hb"), lf("c.txt", "hc")
	a.Device, b.Device, c.Device = 7, 9, 7
	snap := snapOf(a, b, c)
	snap.Device = 7
	p := &pass{snap: snap}
	plan := &Plan{Uploads: []Batch{{Files: []state.IntentFile{intentFor(a, 0), intentFor(b, 0)}}}}
	p.keepDevices(plan)
	if p.snap.Files != nil {
		t.Errorf("the snapshot still holds %d files after planning", len(p.snap.Files))
	}
	for _, f := range []watcher.File{a, b} {
		if got := p.device(f.Path); got != f.Device {
			t.Errorf("device(%s) = %d, want %d, the device it was scanned on", f.Path, got, f.Device)
		}
	}
	if ups := p.uploadsOf(plan.Uploads[0].Files); ups[0].Device != 7 || ups[1].Device != 9 {
		t.Errorf("uploads carry devices %d and %d, want 7 and 9", ups[0].Device, ups[1].Device)
	}
}
