package syncer

import (
	"fmt"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/watcher"
)

// OrderStep is the gap between the display orders the planner hands out, so that a
// file placed between two others takes a key between theirs at no extra request.
const OrderStep = 1024

// OrderBase is the display order of the first file of an empty task: far enough
// from 0 that files placed before it later find room below it (each halves the
// gap: about 30 insertions before any attachment is renumbered), small enough
// that keys stay exact as JSON numbers and within 32 bits for a task of up to a
// million files.
const OrderBase = 1 << 30

// PlanInput is everything the planner looks at. It does no I/O.
type PlanInput struct {
	Snapshot *watcher.Snapshot           // the local folder; never nil
	Records  map[string]state.FileRecord // the state store's records, by path
	// Paths, when set, are the keys of Records in path order (as the store
	// reads them), so that MakePlan need not sort them; nil means unknown.
	Paths []string

	// Remote, when non-nil, is a fresh listing of the task (soft-deleted items
	// removed). With it the planner adopts unmanaged attachments whose name and size
	// match a local file that has no attachment yet, re-uploads files whose attachment
	// is gone, and restores names and orders changed in Focus. Attachments that no
	// record owns and that are not adopted are never touched.
	Remote []focus.Attachment

	// Settling holds the files that exist but are held because they are still
	// changing, with their size: a delete of a record of the same size waits for
	// them (the file may be the record's, renamed a moment ago).
	Settling map[string]int64

	// Intents are the writes a pass journaled and did not see through (a crash, a
	// cut connection). Listing is a fresh listing of the task, with soft-deleted
	// items, given when an open create needs it: the plan settles them first (see
	// Recovery).
	Intents []state.Intent
	Listing []focus.Attachment

	Options PlanOptions
}

// PlanOptions are what shapes a plan besides the snapshot and the records.
type PlanOptions struct {
	// Folder is the folder's settings; the planner uses Order, DeleteRemote and
	// MaxDelete (config.Limit.Exceeded is the mass-delete rule: a pass over it
	// deletes nothing).
	config.Folder
	AllowMassDelete bool // a person confirmed the deletes the guard would hold

	// Paused, when not empty, says why the folder may not delete anything now (root
	// missing, on another device, marker missing).
	Paused string

	MaxBatchFiles int   // at most focus.MaxBulkFiles; 0 means that
	MaxBatchBytes int64 // 0 means no byte cap; a larger file goes alone
}

// Plan is the ordered work that brings the task in line with the folder.
type Plan struct {
	Adopt   []state.FileRecord // records to store: attachments adopted (no request)
	Touch   []state.FileRecord // records whose stat changed but not their content (no request)
	Forget  []string           // record paths to drop with no request (attachment gone remotely, or a stale refusal)
	Uploads []Batch            // bulk creates, in order
	Deletes []Delete           // deletes of removed files
	Updates []Update           // renames first, then reorders
	Skipped []Skip             // files left alone this pass, with why

	// Recovery settles the open intents; it is executed before the rest.
	Recovery Recovery
	// Deferred are deletes put off because a file of the same size is still
	// settling (it may be the same file, renamed a moment ago): a later pass, once
	// it settled, may find a rename instead. They cost nothing now.
	Deferred []Delete

	// Paused says why the folder sends nothing at all (its root is missing,
	// unreadable, without its marker or on another device), and Held why deletes
	// were held back; HeldDeletes is how many deletes either holds.
	Paused      string
	Held        string
	HeldDeletes int

	// takenReplaces counts the Replaces of the upload batches whose files the
	// executor took (takeUpload).
	takenReplaces int
}

// Recovery is how a plan settles the intents a pass left open: deletes are sent
// again (a 404 is success) unless their file came back, updates are dropped (the
// plan sends them again if still needed), and the files of a cut-off upload are
// looked up in the listing: one that reached Focus is adopted (and the version it
// replaces deleted), one that did not goes up again with the other new files.
type Recovery struct {
	End     []uint64           // intents closed with no request
	Adopt   []state.FileRecord // files of cut-off uploads found in the listing
	Resend  []state.Intent     // journaled deletes to send again
	Replace []state.Intent     // new deletes of the versions adopted files replace (not yet journaled)
}

// Empty reports whether there is nothing to settle.
func (r Recovery) Empty() bool {
	return len(r.End)+len(r.Adopt)+len(r.Resend)+len(r.Replace) == 0
}

// Batch is one bulk create of up to focus.MaxBulkFiles files.
type Batch struct {
	Files []state.IntentFile // Replaces set for a new version of a managed file
}

// Bytes is the total size of the batch.
func (b Batch) Bytes() int64 {
	var n int64
	for _, f := range b.Files {
		n += f.Size
	}
	return n
}

// Delete removes the attachment of a file that is gone from the folder.
type Delete struct {
	Path         string // the record's path
	AttachmentID int64
	Name         string
}

// Update is one PUT: a rename (the file moved or was renamed; same content) or a
// reorder. It always carries both the name and the display order.
type Update struct {
	Path         string // the file's (new) path
	OldPath      string // the record's path before a rename; "" for a reorder
	AttachmentID int64
	Name         string
	DisplayOrder int64
	Hash         string // content hash (renames), so the record can move with it

	// Record is the record to store once the update succeeds: for a rename, the old
	// record moved to Path with the local file's stat; for a reorder or a restored
	// name, the record with the new name and display order.
	Record state.FileRecord
}

// Rename reports whether the update renames the attachment.
func (u Update) Rename() bool { return u.OldPath != "" }

// Skip is a file left alone in this pass.
type Skip struct {
	Path   string   `json:"path"`
	Reason string   `json:"reason"` // for people
	Kind   SkipKind `json:"kind"`   // for code
}

// SkipKind says why a file was left alone.
type SkipKind string

// The kinds of skipped files.
const (
	// SkipSettling is a file still changing: a later pass takes it by itself.
	SkipSettling SkipKind = "settling"
	// SkipTooLarge is a file larger than max_file_size.
	SkipTooLarge SkipKind = "too-large"
	// SkipUnreadable is a file that could not be examined or read.
	SkipUnreadable SkipKind = "unreadable"
	// SkipRefused is a file the server refused; it is sent again when it changes.
	SkipRefused SkipKind = "refused"
	// SkipUnknownUpload is a file whose upload was cut off and whose outcome a
	// pass could not learn (it did not list the task): it waits for one that does.
	SkipUnknownUpload SkipKind = "interrupted-upload"
)

// skipKindOf is the kind of skip of a file the scanner held.
func skipKindOf(k watcher.HoldKind) SkipKind {
	switch k {
	case watcher.HoldSettling:
		return SkipSettling
	case watcher.HoldTooLarge:
		return SkipTooLarge
	}
	return SkipUnreadable
}

// Settling reports whether the file is skipped only because it is still changing:
// a later pass picks it up by itself.
func (s Skip) Settling() bool { return s.Kind == SkipSettling }

// Replaces counts the old versions the uploads will delete afterwards.
func (p *Plan) Replaces() int {
	n := p.takenReplaces
	for _, b := range p.Uploads {
		for _, f := range b.Files {
			if f.Replaces != 0 {
				n++
			}
		}
	}
	return n
}

// takeUpload hands the files of upload batch i to the executor and drops the
// plan's hold on them, so that the memory of a large plan goes as its batches
// are sent, not when the pass ends. Cost and Replaces still count the batch.
func (p *Plan) takeUpload(i int) []state.IntentFile {
	files := p.Uploads[i].Files
	for _, f := range files {
		if f.Replaces != 0 {
			p.takenReplaces++
		}
	}
	p.Uploads[i].Files = nil
	return files
}

// Cost is the number of write requests the plan sends when nothing fails.
func (p *Plan) Cost() int {
	return len(p.Recovery.Resend) + len(p.Recovery.Replace) + len(p.Uploads) + p.Replaces() + len(p.Deletes) + len(p.Updates)
}

// Empty reports whether the plan sends no request and changes no record.
func (p *Plan) Empty() bool {
	return p.Cost() == 0 && len(p.Adopt) == 0 && len(p.Touch) == 0 && len(p.Forget) == 0 && p.Recovery.Empty()
}

// Op is one write request of a plan, as --dry-run prints it and as the executor
// sends it (Result.Sent).
type Op struct {
	Kind       string // "upload", "delete", "delete old version", "rename", "reorder"
	Path       string // the file (the batch's first file for an upload)
	Files      int    // files in an upload batch
	Attachment int64  // the attachment a delete or an update names
	Order      int64  // the display order an update sets
}

func (o Op) String() string {
	switch o.Kind {
	case "upload":
		return fmt.Sprintf("upload %s (%d file(s))", o.Path, o.Files)
	case "rename", "reorder":
		return fmt.Sprintf("%s %s (attachment %d, order %d)", o.Kind, o.Path, o.Attachment, o.Order)
	}
	return fmt.Sprintf("%s %s (attachment %d)", o.Kind, o.Path, o.Attachment)
}

// Ops lists the write requests the plan sends when nothing fails, in the order
// the executor sends them: deletes left open by an earlier pass, then the
// uploads (two at a time), then the deletes of the old versions they replace,
// then the deletes of removed files, then renames and reorders.
func (p *Plan) Ops() []Op {
	var ops []Op
	for _, in := range append(append([]state.Intent(nil), p.Recovery.Resend...), p.Recovery.Replace...) {
		ops = append(ops, Op{Kind: "delete old version", Path: in.Name, Attachment: in.AttachmentID})
	}
	for _, b := range p.Uploads {
		ops = append(ops, Op{Kind: "upload", Path: b.Files[0].Path, Files: len(b.Files)})
	}
	for _, b := range p.Uploads {
		for _, f := range b.Files {
			if f.Replaces != 0 {
				ops = append(ops, Op{Kind: "delete old version", Path: f.Name, Attachment: f.Replaces})
			}
		}
	}
	for _, d := range p.Deletes {
		ops = append(ops, Op{Kind: "delete", Path: d.Path, Attachment: d.AttachmentID})
	}
	for _, u := range p.Updates {
		kind := "reorder"
		if u.Rename() {
			kind = "rename"
		}
		ops = append(ops, Op{Kind: kind, Path: u.Path, Attachment: u.AttachmentID, Order: u.DisplayOrder})
	}
	return ops
}
