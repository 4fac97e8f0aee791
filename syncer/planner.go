package syncer

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/watcher"
)

// MakePlan diffs the local snapshot against the records (and, when given, a fresh
// listing of the task) and returns the fewest requests that bring the task in line
// with the folder. It does no I/O and is deterministic: the same input always gives
// the same plan.
//
// What it decides, per file:
//   - same path, same hash: nothing (Touch when only the stat changed);
//   - same path, new hash: upload with Replaces set, keeping the old display order
//     when still in order; a hash the server refused is skipped until it changes;
//   - a file gone and another with the same hash and size appeared: one rename
//     Update (candidates are paired with the same base name first, then in path order);
//     when it was moved onto a managed file (mv a b over an existing b), the rename
//     is paired with a Delete of b's old attachment instead of a re-upload. A swap
//     of two names (no file gone) stays two new versions: renaming in a cycle
//     would leave an attachment unowned if the process stopped halfway;
//   - a new file: upload, or, with a listing, adopt an unowned attachment with the
//     same name and size (the lowest id first);
//   - a file gone: Delete when DeleteRemote, otherwise the record is kept;
//   - with a listing: a record whose attachment vanished is uploaded again (or
//     forgotten when its file is gone too), and names changed in Focus are restored.
//     A display order changed in Focus is put back only when it breaks the folder's
//     sequence; otherwise the record takes the new value (Touch, no request).
//   - a record adopted before it was hashed (Hash "") matches its file on size.
//
// Display orders are handed out as order.go describes: the fewest attachments whose
// order must change get a reorder Update; new files take keys between neighbours.
// Each Update carries the record to store once it succeeds.
//
// Safety lives here too: when Options.Paused is set (the root cannot be trusted),
// the plan sends nothing and says so in Paused; when the folder is empty while
// attachments are managed (unless AllowMassDelete confirms it), it holds
// everything (it carries only Held and HeldDeletes, since a folder that may not be
// there must not drive renames or uploads either). A delete whose record has the
// size of a file still settling is deferred (Plan.Deferred). Open intents are
// settled first (Plan.Recovery), and the rest is planned over the records as they
// will be once that is done. A pass whose deletes exceed MaxDelete
// deletes nothing unless AllowMassDelete; its uploads and renames still go ahead.
// No op ever names an attachment that no record owns, except the ones it adopts.
func MakePlan(in PlanInput) *Plan {
	var rec Recovery
	if in.Options.Paused == "" && len(in.Intents) > 0 {
		rec, in.Records = recoveryOf(in)
		in.Paths = nil
	}
	waiting := uploadsUnknown(&in)
	p := newPlanner(in)
	p.waiting = waiting
	p.classifyRecords()
	p.pairRenames()
	p.placeChanged()
	p.placeNewFiles()
	p.skipHeld()
	if in.Options.Paused != "" {
		return &Plan{Paused: in.Options.Paused, HeldDeletes: p.deleteCount()}
	}
	if held, n := p.pauseReason(); held != "" {
		return &Plan{Held: held, HeldDeletes: n}
	}
	p.plan.Recovery = rec
	p.planDeletes()
	p.order()
	return p.plan
}

// uploadsUnknown takes the files of open create intents out of in's snapshot when
// there is no listing to settle them with: they are neither uploaded again nor
// deleted until a pass that lists the task finds out whether they reached Focus.
func uploadsUnknown(in *PlanInput) map[string]bool {
	if in.Listing != nil || in.Snapshot == nil {
		return nil
	}
	waiting := map[string]bool{}
	snap := *in.Snapshot
	for _, it := range in.Intents {
		if it.Op != state.IntentCreate {
			continue
		}
		for _, f := range it.Files {
			if _, ok := snap.Files[f.Path]; !ok {
				continue
			}
			if len(waiting) == 0 {
				snap.Files, snap.Held = maps.Clone(snap.Files), maps.Clone(snap.Held)
			}
			delete(snap.Files, f.Path)
			snap.Held[f.Path] = "an interrupted upload: waiting for a listing of the task"
			waiting[f.Path] = true
		}
	}
	in.Snapshot = &snap
	return waiting
}

// planner is the working state of one MakePlan call.
type planner struct {
	in     PlanInput
	snap   *watcher.Snapshot
	remote map[int64]focus.Attachment // nil without a listing
	// contested maps an attachment id that more than one record names to the one
	// record path that owns it (the first in path order); an id that only one
	// record names is owned by that record and is not in it.
	contested map[int64]string
	plan      *Plan

	paths     []string                    // the paths of in.Records, sorted
	seq       []*orderItem                // the files that will be managed, in any order
	items     []orderItem                 // where seq's items live, a chunk at a time
	fixedHeld map[string]bool             // held files among the managed files with no request of their own
	adopted   map[string]state.FileRecord // by path: the records of the attachments adopted
	uploads   []state.IntentFile          // the files to upload; orderItem.upload points into it
	renames   map[string]Update           // by new path
	restores  map[string]bool             // fixed paths whose name must be restored
	unclaimed []string                    // settled files with no live record at their path, sorted
	missing   []string                    // live records whose file is not present, sorted
	changed   []string                    // live records whose settled file has other content, sorted
	overwrite []string                    // changed paths whose new content is another record's, renamed onto them
	managed   int                         // attachments owned by records
	maxKey    int64                       // largest display order known in the task
	waiting   map[string]bool             // files of interrupted uploads left for a pass that lists
}

func newPlanner(in PlanInput) *planner {
	paths := in.Paths
	if len(paths) != len(in.Records) || !strictlySorted(paths) {
		paths = sortedKeys(in.Records)
	}
	p := &planner{
		in:        in,
		snap:      in.Snapshot,
		plan:      &Plan{},
		paths:     paths,
		fixedHeld: map[string]bool{},
		adopted:   map[string]state.FileRecord{},
		renames:   map[string]Update{},
		restores:  map[string]bool{},
	}
	if p.snap == nil {
		p.snap = &watcher.Snapshot{}
	}
	p.seq = make([]*orderItem, 0, max(len(paths), len(p.snap.Files)))
	if in.Remote != nil {
		p.remote = make(map[int64]focus.Attachment, len(in.Remote))
		for _, a := range in.Remote {
			if !a.Deleted() {
				p.remote[a.ID] = a
				p.maxKey = max(p.maxKey, a.DisplayOrder)
			}
		}
	}
	p.findOwners()
	return p
}

// findOwners counts the managed attachments, finds the ids that more than one
// record names (see contested) and, without a listing, the largest display order.
// It sorts the ids rather than filling a map of every one: a folder of many files
// pays for that on every pass.
func (p *planner) findOwners() {
	type named struct {
		id    int64
		at    int   // index in p.paths
		order int64 // the record's display order
	}
	ids := make([]named, 0, len(p.paths))
	for i, path := range p.paths {
		r, ok := p.in.Records[path]
		if !ok { // in.Paths were not the keys of in.Records
			p.paths = sortedKeys(p.in.Records)
			p.findOwners()
			return
		}
		if r.Managed() {
			ids = append(ids, named{r.AttachmentID, i, r.DisplayOrder})
		}
	}
	slices.SortFunc(ids, func(a, b named) int {
		return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.at, b.at))
	})
	for i, n := range ids {
		if i > 0 && ids[i-1].id == n.id {
			if p.contested == nil {
				p.contested = map[int64]string{}
			}
			if _, ok := p.contested[n.id]; !ok {
				p.contested[n.id] = p.paths[ids[i-1].at]
			}
			continue
		}
		p.managed++
		if p.remote == nil {
			p.maxKey = max(p.maxKey, n.order)
		}
	}
}

// owns reports whether the record at path owns its attachment (a second record
// naming the same attachment owns nothing).
func (p *planner) owns(path string, r state.FileRecord) bool {
	if !r.Managed() {
		return false
	}
	owner, ok := p.contested[r.AttachmentID]
	return !ok || owner == path
}

// remoteGone reports whether a listing was given and lacks the attachment.
func (p *planner) remoteGone(id int64) bool {
	if p.remote == nil {
		return false
	}
	_, ok := p.remote[id]
	return !ok
}

// current returns the attachment's name and display order as they stand: from the
// listing when there is one, from the record otherwise.
func (p *planner) current(r state.FileRecord) (string, int64) {
	if a, ok := p.remote[r.AttachmentID]; ok {
		return a.Name, a.DisplayOrder
	}
	return r.RemoteName, r.DisplayOrder
}

// classifyRecords sorts every record into unchanged, changed, held, missing, or
// forgotten, and collects the settled files left without a live record.
func (p *planner) classifyRecords() {
	claimed := 0 // settled files with a live record at their path
	for _, path := range p.paths {
		r := p.in.Records[path]
		f, settled := p.snap.Files[path]
		present := settled || p.snap.Present(path)
		if !p.owns(path, r) || p.remoteGone(r.AttachmentID) {
			if !present {
				p.plan.Forget = append(p.plan.Forget, path)
			}
			continue // a settled file here is handled as unclaimed
		}
		if settled {
			claimed++
		}
		truth := p.truth(r, f, settled)
		name, key := truth.RemoteName, truth.DisplayOrder
		switch {
		case settled && sameContent(r, f):
			p.addFixed(path, r, truth, name, key, f.ModTime)
		case settled && f.Hash == r.RefusedHash():
			p.plan.Skipped = append(p.plan.Skipped, Skip{Path: path, Reason: refusedReason(r), Kind: SkipRefused})
			p.addFixed(path, r, truth, name, key, f.ModTime)
		case settled:
			// New content: a new version, unless it is a file moved onto this one
			// (pairRenames decides, then placeChanged).
			p.changed = append(p.changed, path)
		case present: // held, or under a directory that could not be listed
			if _, held := p.snap.Held[path]; held {
				p.fixedHeld[path] = true
			}
			p.addFixed(path, r, truth, name, key, r.ModTime)
		default:
			p.missing = append(p.missing, path)
		}
	}
	if claimed == len(p.snap.Files) {
		return // every settled file has its live record: none is unclaimed
	}
	for path := range p.snap.Files {
		r, ok := p.in.Records[path]
		if ok && p.owns(path, r) && !p.remoteGone(r.AttachmentID) {
			continue
		}
		p.unclaimed = append(p.unclaimed, path)
	}
	slices.Sort(p.unclaimed)
}

// truth returns the record r as the truth stands now: with the attachment's
// current name and order and, when its file f is settled with the same content,
// the file's stat.
func (p *planner) truth(r state.FileRecord, f watcher.File, settled bool) state.FileRecord {
	r.RemoteName, r.DisplayOrder = p.current(r)
	if settled && sameContent(r, f) {
		r.Size, r.ModTime, r.Inode, r.Hash = f.Size, f.ModTime, f.Inode, f.Hash
	}
	return r
}

// fixedRecord returns the record of a managed file with no request of its own,
// as classifyRecords or placeNewFiles entered it: only the few that need an
// update are asked for, so the sequence need not carry every record.
func (p *planner) fixedRecord(path string) state.FileRecord {
	if rec, ok := p.adopted[path]; ok {
		return rec
	}
	f, settled := p.snap.Files[path]
	return p.truth(p.in.Records[path], f, settled)
}

// addFixed enters a managed file that needs no request of its own into the sequence;
// its name is restored when it differs from the one wanted. r is its record as
// stored, truth as it will be.
func (p *planner) addFixed(path string, r, truth state.FileRecord, name string, key int64, mtime time.Time) {
	if !sameRecord(truth, r) {
		p.plan.Touch = append(p.plan.Touch, truth)
	}
	it := orderItem{path: path, name: RemoteName(path), mtime: mtime, kind: itemFixed, key: key}
	if name != it.name {
		p.restores[path] = true
		it.kind = itemPrefer
	}
	p.add(it)
}

// add enters it in the sequence. The items are stored in chunks of up to a few
// thousand, not one allocation each: a pass over a large folder lays out an item
// per file.
func (p *planner) add(it orderItem) {
	if len(p.items) == cap(p.items) {
		p.items = make([]orderItem, 0, min(max(cap(p.seq)-len(p.seq), 16), 4096))
	}
	p.items = append(p.items, it)
	p.seq = append(p.seq, &p.items[len(p.items)-1])
}

// pairRenames matches missing records with unclaimed files of the same hash and
// size: same base name first, then in path order.
func (p *planner) pairRenames() {
	type content struct {
		hash string
		size int64
	}
	// Only the contents of missing records can pair: the files are indexed by
	// those alone, so that a pass that adds many files and removes none builds
	// no index of them.
	files := map[content][]string{}
	for _, old := range p.missing {
		if r := p.in.Records[old]; r.Hash != "" {
			files[content{r.Hash, r.Size}] = nil
		}
	}
	if len(files) == 0 {
		return
	}
	for _, list := range [][]string{p.unclaimed, p.changed} {
		for _, path := range list {
			f := p.snap.Files[path]
			c := content{f.Hash, f.Size}
			if paths, ok := files[c]; ok {
				files[c] = append(paths, path)
			}
		}
	}
	used := map[string]bool{}
	consumed := map[string]bool{}
	match := func(sameBase bool) {
		for _, old := range p.missing {
			r := p.in.Records[old]
			if consumed[old] || r.Hash == "" {
				continue
			}
			for _, path := range files[content{r.Hash, r.Size}] {
				if used[path] || (sameBase && baseName(path) != baseName(old)) {
					continue
				}
				used[path], consumed[old] = true, true
				p.addRename(old, path)
				break
			}
		}
	}
	match(true)
	match(false)
	p.missing = without(p.missing, consumed)
	p.unclaimed = without(p.unclaimed, used)
	for _, path := range p.changed {
		if used[path] {
			// A file moved onto this one (mv a b over an existing b): the moved
			// attachment is renamed, and the one it replaces is deleted.
			p.overwrite = append(p.overwrite, path)
		}
	}
	p.changed = without(p.changed, used)
}

// placeChanged uploads the new version of each changed file that is not a file
// moved onto it; the old version is deleted after the upload.
func (p *planner) placeChanged() {
	for _, path := range p.changed {
		r, f := p.in.Records[path], p.snap.Files[path]
		_, key := p.current(r)
		p.add(orderItem{path: path, name: RemoteName(path), mtime: f.ModTime, kind: itemPrefer, key: key,
			upload: p.addUpload(intentFor(f, r.AttachmentID))})
	}
}

// addRename records the move of the attachment of the record at old to path.
func (p *planner) addRename(old, path string) {
	r := p.in.Records[old]
	f := p.snap.Files[path]
	_, key := p.current(r)
	rec := r
	rec.Path, rec.Size, rec.ModTime, rec.Inode, rec.Hash = path, f.Size, f.ModTime, f.Inode, f.Hash
	rec.RemoteName = RemoteName(path)
	rec.Refused = nil
	p.renames[path] = Update{Path: path, OldPath: old, AttachmentID: r.AttachmentID, Name: rec.RemoteName, Hash: f.Hash, Record: rec}
	p.add(orderItem{path: path, name: rec.RemoteName, mtime: f.ModTime, kind: itemPrefer, key: key})
}

// placeNewFiles adopts or uploads the unclaimed files, or skips the refused ones.
func (p *planner) placeNewFiles() {
	type nameSize struct {
		name string
		size int64
	}
	var free map[nameSize][]int64
	if p.remote != nil {
		free = map[nameSize][]int64{}
		owned := ownedIDs(p.in.Records)
		for _, id := range sortedKeys(p.remote) {
			if owned[id] {
				continue
			}
			a := p.remote[id]
			free[nameSize{a.Name, a.Size}] = append(free[nameSize{a.Name, a.Size}], id)
		}
	}
	for _, path := range p.unclaimed {
		f := p.snap.Files[path]
		name := RemoteName(path)
		if ids := free[nameSize{name, f.Size}]; len(ids) > 0 {
			a := p.remote[ids[0]]
			free[nameSize{name, f.Size}] = ids[1:]
			rec := state.FileRecord{
				Path: path, Size: f.Size, ModTime: f.ModTime, Inode: f.Inode, Hash: f.Hash,
				AttachmentID: a.ID, RemoteName: a.Name, DisplayOrder: a.DisplayOrder,
			}
			p.plan.Adopt = append(p.plan.Adopt, rec)
			p.adopted[path] = rec
			p.add(orderItem{path: path, name: name, mtime: f.ModTime, kind: itemFixed, key: a.DisplayOrder})
			continue
		}
		if r, ok := p.in.Records[path]; ok && r.RefusedHash() != "" && r.RefusedHash() == f.Hash {
			p.plan.Skipped = append(p.plan.Skipped, Skip{Path: path, Reason: refusedReason(r), Kind: SkipRefused})
			continue
		}
		p.add(orderItem{path: path, name: name, mtime: f.ModTime, kind: itemFree, upload: p.addUpload(intentFor(f, 0))})
	}
}

// skipHeld reports the held files that have no live record.
func (p *planner) skipHeld() {
	for _, path := range sortedKeys(p.snap.Held) {
		if p.fixedHeld[path] {
			continue
		}
		kind := skipKindOf(p.snap.HeldKinds[path])
		if p.waiting[path] {
			kind = SkipUnknownUpload
		}
		p.plan.Skipped = append(p.plan.Skipped, Skip{Path: path, Reason: p.snap.Held[path], Kind: kind})
	}
}

// deleteCount is the number of deletes the pass would make with no guard.
func (p *planner) deleteCount() int {
	if !p.in.Options.DeleteRemote {
		return 0
	}
	return len(p.missing) + len(p.overwrite)
}

// pauseReason returns why the folder must be left alone, and how many deletes that
// holds back: it is empty while attachments are managed.
func (p *planner) pauseReason() (string, int) {
	if len(p.snap.Files) == 0 && len(p.snap.Held) == 0 && p.managed > 0 && !p.in.Options.AllowMassDelete {
		return fmt.Sprintf("folder is empty but %d attachments are managed: not deleting (is the share mounted? if the files are really gone, run 'focussync sync --allow-mass-delete')", p.managed), p.deleteCount()
	}
	return "", 0
}

// planDeletes deletes the attachments of missing files, unless the mass-delete
// guard holds them back. Without DeleteRemote the records are kept as they are.
func (p *planner) planDeletes() {
	n := p.deleteCount()
	if n == 0 {
		return
	}
	o := p.in.Options
	if !o.AllowMassDelete && o.MaxDelete.Exceeded(n, p.managed) {
		if o.MaxDelete.Percent > 0 {
			pct := math.Round(float64(n) * 100 / float64(p.managed))
			p.plan.Held = fmt.Sprintf("would delete %d of %d attachments (%g%%), over max_delete %s: run 'focussync sync --allow-mass-delete' to confirm", n, p.managed, pct, o.MaxDelete)
		} else {
			p.plan.Held = fmt.Sprintf("would delete %d of %d attachments, over max_delete %s: run 'focussync sync --allow-mass-delete' to confirm", n, p.managed, o.MaxDelete)
		}
		p.plan.HeldDeletes = n
		return
	}
	settling := map[int64]bool{}
	for _, size := range p.in.Settling {
		settling[size] = true
	}
	for _, path := range append(append([]string(nil), p.missing...), p.overwrite...) {
		r := p.in.Records[path]
		name, _ := p.current(r)
		d := Delete{Path: path, AttachmentID: r.AttachmentID, Name: name}
		if settling[r.Size] {
			// A file of the same size is still settling: it may be this one, renamed
			// a moment ago. The delete waits for a pass that may find a rename.
			p.plan.Deferred = append(p.plan.Deferred, d)
			continue
		}
		p.plan.Deletes = append(p.plan.Deletes, d)
	}
}

// order hands out display orders and turns them into requests: upload batches in
// sequence order, then renames (by path), then restores and reorders in sequence order.
func (p *planner) order() {
	sortSequence(p.seq, p.in.Options.Order)
	assignKeys(p.seq, p.in.Options.Order, p.maxKey)
	batches := p.batcher()
	var updates []Update
	for _, it := range p.seq {
		if it.upload > 0 {
			f := p.uploads[it.upload-1]
			f.DisplayOrder = it.assigned
			batches.add(f)
			continue
		}
		if _, ok := p.renames[it.path]; ok {
			u := p.renames[it.path]
			u.DisplayOrder, u.Record.DisplayOrder = it.assigned, it.assigned
			p.renames[it.path] = u
			continue
		}
		if p.restores[it.path] || it.assigned != it.key {
			rec := p.fixedRecord(it.path)
			rec.RemoteName, rec.DisplayOrder = it.name, it.assigned
			updates = append(updates, Update{Path: it.path, AttachmentID: rec.AttachmentID, Name: it.name, DisplayOrder: it.assigned, Hash: rec.Hash, Record: rec})
		}
	}
	for _, path := range sortedKeys(p.renames) {
		p.plan.Updates = append(p.plan.Updates, p.renames[path])
	}
	p.plan.Updates = append(p.plan.Updates, updates...)
	p.plan.Uploads = batches.done()
}

// addUpload enters f among the files to upload and returns it as an
// orderItem.upload.
func (p *planner) addUpload(f state.IntentFile) int {
	p.uploads = append(p.uploads, f)
	return len(p.uploads)
}

// batcher cuts uploads, in the order added, into bulk creates of at most
// maxFiles files and, when maxBytes is set, maxBytes bytes; a file larger than
// the byte cap goes alone.
type batcher struct {
	maxFiles int
	maxBytes int64
	out      []Batch
	cur      Batch
}

// batcher returns a batcher with the plan's caps.
func (p *planner) batcher() *batcher {
	maxFiles := p.in.Options.MaxBatchFiles
	if maxFiles <= 0 || maxFiles > focus.MaxBulkFiles {
		maxFiles = focus.MaxBulkFiles
	}
	return &batcher{maxFiles: maxFiles, maxBytes: p.in.Options.MaxBatchBytes}
}

// add appends f to the batch being filled, or to a new one when f does not fit.
func (b *batcher) add(f state.IntentFile) {
	if len(b.cur.Files) > 0 && (len(b.cur.Files) == b.maxFiles || (b.maxBytes > 0 && b.cur.Bytes()+f.Size > b.maxBytes)) {
		b.out = append(b.out, b.cur)
		b.cur = Batch{}
	}
	if b.cur.Files == nil {
		b.cur.Files = make([]state.IntentFile, 0, b.maxFiles)
	}
	b.cur.Files = append(b.cur.Files, f)
}

// done returns the batches.
func (b *batcher) done() []Batch {
	if len(b.cur.Files) > 0 {
		b.out = append(b.out, b.cur)
	}
	return b.out
}

// baseName is the last element of a relative path with '/'.
func baseName(rel string) string { return rel[strings.LastIndexByte(rel, '/')+1:] }

// sameContent reports whether a local file holds what the record uploaded. A record
// adopted before it was hashed matches on size.
func sameContent(r state.FileRecord, f watcher.File) bool {
	return r.Hash == f.Hash || (r.Hash == "" && r.Size == f.Size)
}

// sameRecord compares two records field by field (times with Equal).
func sameRecord(a, b state.FileRecord) bool {
	return a.Path == b.Path && a.Size == b.Size && a.ModTime.Equal(b.ModTime) && a.Inode == b.Inode &&
		a.Hash == b.Hash && a.AttachmentID == b.AttachmentID && a.RemoteName == b.RemoteName &&
		a.DisplayOrder == b.DisplayOrder && (a.Refused == nil) == (b.Refused == nil) &&
		(a.Refused == nil || *a.Refused == *b.Refused)
}

// refusedReason says why a refused file is skipped.
func refusedReason(r state.FileRecord) string {
	reason := ""
	if r.Refused != nil {
		reason = r.Refused.LastError
	}
	return "refused by the server: " + reason + "; waiting for the file to change"
}

// intentFor describes the upload of a local file; replaces is the attachment id of
// the old version (0 for a new file).
func intentFor(f watcher.File, replaces int64) state.IntentFile {
	return state.IntentFile{
		Path: f.Path, Name: RemoteName(f.Path), Size: f.Size, Hash: f.Hash,
		ModTime: f.ModTime, Inode: f.Inode, Replaces: replaces,
	}
}

// without returns the elements of list not in drop, in order.
func without(list []string, drop map[string]bool) []string {
	out := list[:0:0]
	for _, s := range list {
		if !drop[s] {
			out = append(out, s)
		}
	}
	return out
}

// strictlySorted reports whether each element sorts after the one before it.
func strictlySorted[T cmp.Ordered](s []T) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

// sortedKeys returns the keys of m in ascending order.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
