package syncer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/state"
)

// execute runs one plan: records that need no request first (with this round's
// listing, in one transaction), then uploads, deletes, renames and reorders.
// Failures of single files are reported; the error is for what stops the folder.
func (p *pass) execute(ctx context.Context, plan *Plan) error {
	if err := p.recover(ctx, plan.Recovery); err != nil {
		return err
	}
	m := p.meta()
	put := append(append([]state.FileRecord{}, plan.Adopt...), plan.Touch...)
	if err := p.commit(state.Change{Put: put, Delete: plan.Forget, Meta: &m}); err != nil {
		return err
	}
	p.listedAt = time.Time{}
	p.res.Adopted += len(plan.Adopt)
	p.logAdopted(plan.Adopt)

	left := plan.Cost()
	p.pacer.Announce(left)
	p.setProgress(func(pr *Progress) {
		*pr = Progress{Folder: p.f.Path}
		for _, b := range plan.Uploads {
			pr.FilesTotal += len(b.Files)
			pr.BytesTotal += b.Bytes()
		}
	})
	if err := p.uploadBatches(ctx, plan, func() {
		left--
		p.pacer.Announce(left)
	}); err != nil {
		return err
	}
	for _, d := range plan.Deletes {
		if err := p.remove(ctx, d); err != nil {
			return err
		}
		left--
		p.pacer.Announce(left)
	}
	for _, u := range plan.Updates {
		if err := p.update(ctx, u); err != nil {
			return err
		}
		left--
		p.pacer.Announce(left)
	}
	return nil
}

// upload sends one batch as a create (one file) or a bulk create, journaled,
// and records its outcome.
func (p *pass) upload(ctx context.Context, files []state.IntentFile) error {
	if err := p.mayWrite(ctx); err != nil {
		return err
	}
	in := p.uploadIntent(files)
	if err := p.journal(in, "upload"); err != nil {
		return err
	}
	p.sentUpload(in.Files)
	created, out := p.send(ctx, in)
	return p.settleUpload(ctx, in, created, out)
}

// sentUpload records in the result that a batch's upload is sent.
func (p *pass) sentUpload(files []state.IntentFile) {
	p.res.Sent = append(p.res.Sent, Op{Kind: "upload", Path: files[0].Path, Files: len(files)})
}

// uploadIntent is the create intent of a batch, not yet journaled.
func (p *pass) uploadIntent(files []state.IntentFile) *state.Intent {
	return &state.Intent{Op: state.IntentCreate, Files: files, Started: p.e.now()}
}

// send sends the create (one file) or bulk create of a journaled intent through
// the pacer. It touches nothing of the pass but what the pacer's hooks and
// setProgress guard, so that several batches may be sent at once.
func (p *pass) send(ctx context.Context, in *state.Intent) ([]focus.Attachment, Outcome) {
	files := in.Files
	ups := p.uploadsOf(files)
	p.setProgress(func(pr *Progress) { pr.Current = batchName(files) })

	var created []focus.Attachment
	ep := focus.EndpointBulk
	if len(files) == 1 {
		ep = focus.EndpointCreate
	}
	out := p.pacer.Call(ctx, PriorityUpload, ep, func(ctx context.Context) error {
		release, err := p.e.uploadSlot(ctx)
		if err != nil {
			return err
		}
		defer release()
		if len(ups) == 1 {
			var a focus.Attachment
			a, err = p.e.Client.Create(ctx, p.f.Task(), ups[0])
			created = []focus.Attachment{a}
		} else {
			created, err = p.e.Client.BulkCreate(ctx, p.f.Task(), ups)
		}
		return err
	})
	return created, out
}

// settleUpload records the outcome of a journaled create: the attachments made,
// or, when the outcome is unknown, what a listing shows; a refused batch is
// split to find the file the server refuses.
func (p *pass) settleUpload(ctx context.Context, in *state.Intent, created []focus.Attachment, out Outcome) error {
	files, err := in.Files, out.Err
	if ctx.Err() != nil && (out.Class == ClassAmbiguous || out.Class == ClassCanceled) {
		p.e.abandon(p.key)
	}
	switch out.Class {
	case ClassDone:
		return p.uploaded(ctx, in, created)
	case ClassAmbiguous:
		// The files may be in Focus now: learn what happened before anything is sent
		// again. Without a listing the intent stays open for the next pass.
		p.log.Info("upload outcome unknown; listing the task before retrying", "files", len(files), "err", err)
		if err := ctx.Err(); err != nil {
			return err
		}
		remote, lerr := p.list(ctx, PriorityUpload)
		if lerr != nil {
			return lerr
		}
		return p.adoptCreated(ctx, []state.Intent{*in}, remote)
	case ClassCanceled:
		// Cancelled mid-request: the intent stays open and is settled at the next start.
		return ctx.Err()
	case ClassNotSent:
		// Nothing went out: the intent stays open (the next listing finds nothing
		// for it) and the folder stops until the budget can be asked again.
		return p.folderError("upload", out)
	}
	// The server answered and created nothing.
	if err := p.commit(state.Change{EndIntents: []uint64{in.ID}}); err != nil {
		return err
	}
	switch {
	case out.Class == ClassUnauthorized:
		return p.folderError("upload", out)
	case out.Class == ClassRefused && len(files) == 1:
		return p.refuse(files[0], err)
	case out.Class == ClassRefused:
		return p.split(ctx, files, err)
	case errors.Is(err, focus.ErrNotScanned):
		p.notScanned(files, err)
		return nil
	case out.Class == ClassLocal:
		// The file changed, vanished or could not be opened under the upload: the
		// next round scans again, reading the batch's files first (a file that
		// cannot be read is reported then, and kept out of the next batch).
		p.readFirstNext(files)
		p.log.Info("a file changed during the upload; the next round looks again", "files", batchName(files), "err", err)
		return nil
	default:
		for _, f := range files {
			p.fail(f.Path, err.Error())
		}
		return nil
	}
}

// split isolates the file(s) the server refused in a batch: when the message names
// one file of the batch, that file goes alone; otherwise the batch is halved.
func (p *pass) split(ctx context.Context, files []state.IntentFile, cause error) error {
	var named, rest []state.IntentFile
	var fe *focus.Error
	if errors.As(cause, &fe) && fe.Message != "" {
		for _, f := range files {
			if f.Name != "" && strings.Contains(fe.Message, f.Name) {
				named = append(named, f)
			} else {
				rest = append(rest, f)
			}
		}
	}
	if len(named) != 1 {
		named, rest = files[:len(files)/2], files[len(files)/2:]
	}
	p.log.Info("batch refused; splitting it to find the file the server refuses", "files", len(files), "err", cause)
	for _, part := range [][]state.IntentFile{named, rest} {
		if len(part) == 0 {
			continue
		}
		if err := p.upload(ctx, part); err != nil {
			return err
		}
	}
	return nil
}

// refuse records a file the server will not take; it is sent again only when its
// content changes.
func (p *pass) refuse(f state.IntentFile, cause error) error {
	rec, ok := p.folder.Files[f.Path]
	if !ok {
		rec = state.FileRecord{Path: f.Path}
	}
	attempts := 1
	if rec.Refused != nil {
		attempts += rec.Refused.Attempts
	}
	rec.Refused = &state.Refusal{Hash: f.Hash, LastError: cause.Error(), Attempts: attempts}
	p.failRefused(f.Path, "refused by the server: "+cause.Error())
	return p.commit(state.Change{Put: []state.FileRecord{rec}})
}

// uploaded records the attachments a create made, then deletes the old versions
// they replace. The records and the delete intents are written in one transaction.
func (p *pass) uploaded(ctx context.Context, in *state.Intent, created []focus.Attachment) error {
	var c state.Change
	if !p.uploadedChange(&c, in, created) {
		// The answer does not account for every file: learn them from a listing.
		remote, err := p.list(ctx, PriorityUpload)
		if err != nil {
			return err
		}
		return p.adoptCreated(ctx, []state.Intent{*in}, remote)
	}
	if err := p.commit(c); err != nil {
		return err
	}
	return p.deleteReplaced(ctx, c.Begin)
}

// uploadedChange adds to c what a create's answer makes of the intent: the
// files' records, the end of the intent and the delete intents of the versions
// they replace; it counts and logs the uploads. It reports false, and leaves c
// alone, when the answer does not account for every file of the batch.
func (p *pass) uploadedChange(c *state.Change, in *state.Intent, created []focus.Attachment) bool {
	used := make([]bool, len(created))
	match := make([]int, len(in.Files))
	for i, f := range in.Files {
		match[i] = matchCreated(created, used, f, i)
		if match[i] < 0 {
			return false
		}
		used[match[i]] = true
	}
	c.EndIntents = append(c.EndIntents, in.ID)
	var bytes int64
	for i, f := range in.Files {
		j := match[i]
		c.Put = append(c.Put, recordFor(f, created[j]))
		if f.Replaces != 0 {
			c.Begin = append(c.Begin, &state.Intent{Op: state.IntentDelete, AttachmentID: f.Replaces, Name: f.Name, Started: p.e.now()})
		}
		p.res.Uploaded++
		p.res.UploadedBytes += f.Size
		bytes += f.Size
		p.log.Info("uploaded", "file", f.Path, "attachment", created[j].ID, "size", f.Size)
	}
	if p.e.Metrics != nil {
		p.e.Metrics.uploaded(len(in.Files), in.Files)
	}
	p.setProgress(func(pr *Progress) {
		pr.Files += len(in.Files)
		pr.Bytes += bytes
	})
	return true
}

// matchCreated finds the created attachment for the i-th file of a batch: the same
// name and size, preferring the same position.
func matchCreated(created []focus.Attachment, used []bool, f state.IntentFile, i int) int {
	if i < len(created) && !used[i] && created[i].ID != 0 && created[i].Name == f.Name && created[i].Size == f.Size {
		return i
	}
	for j, a := range created {
		if !used[j] && a.ID != 0 && a.Name == f.Name && a.Size == f.Size {
			return j
		}
	}
	return -1
}

// recordFor is the record of a file uploaded (or adopted) as attachment a.
func recordFor(f state.IntentFile, a focus.Attachment) state.FileRecord {
	return state.FileRecord{
		Path:         f.Path,
		Size:         f.Size,
		ModTime:      f.ModTime,
		Inode:        f.Inode,
		Hash:         f.Hash,
		AttachmentID: a.ID,
		RemoteName:   f.Name,
		DisplayOrder: f.DisplayOrder,
	}
}

// owner returns the record that owns attachment id.
func (p *pass) owner(id int64) (state.FileRecord, bool) {
	path, ok := ownerOf(p.folder.Files, id)
	return p.folder.Files[path], ok
}

// deleteReplaced sends the journaled deletes of replaced versions. One that cannot be
// sent now stays in the journal and is sent by a later pass.
func (p *pass) deleteReplaced(ctx context.Context, intents []*state.Intent) error {
	for _, in := range intents {
		if err := p.mayWrite(ctx); err != nil {
			return err
		}
		p.res.Sent = append(p.res.Sent, Op{Kind: "delete old version", Path: in.Name, Attachment: in.AttachmentID})
		out := p.pacer.Call(ctx, PriorityUpload, focus.EndpointDelete, func(ctx context.Context) error {
			return p.e.Client.Delete(ctx, p.f.Task(), in.AttachmentID)
		})
		switch out.Class {
		case ClassDone, ClassNotFound: // gone, as it should be
		case ClassCanceled, ClassNotSent, ClassUnauthorized:
			return p.folderError("delete old version", out)
		default:
			p.fail(in.Name, fmt.Sprintf("old version (attachment %d) not deleted yet: %v", in.AttachmentID, out.Err))
			continue
		}
		c := state.Change{EndIntents: []uint64{in.ID}}
		if r, ok := p.owner(in.AttachmentID); ok {
			// The delete of a removed file, resent after a restart.
			c.Delete = []string{r.Path}
			p.res.Deleted++
			p.log.Info("deleted", "file", r.Path, "attachment", in.AttachmentID)
		} else {
			p.res.Replaced++
			p.log.Info("deleted old version", "file", in.Name, "attachment", in.AttachmentID)
		}
		if err := p.commit(c); err != nil {
			return err
		}
	}
	return nil
}

// remove deletes the attachment of a file that is gone from the folder.
func (p *pass) remove(ctx context.Context, d Delete) error {
	if err := p.mayWrite(ctx); err != nil {
		return err
	}
	in := &state.Intent{Op: state.IntentDelete, AttachmentID: d.AttachmentID, Name: d.Name, Started: p.e.now()}
	if err := p.journal(in, "delete"); err != nil {
		return err
	}
	p.res.Sent = append(p.res.Sent, Op{Kind: "delete", Path: d.Path, Attachment: d.AttachmentID})
	out := p.pacer.Call(ctx, PriorityDelete, focus.EndpointDelete, func(ctx context.Context) error {
		return p.e.Client.Delete(ctx, p.f.Task(), d.AttachmentID)
	})
	switch out.Class {
	case ClassDone, ClassNotFound: // gone, as it should be
	case ClassCanceled, ClassNotSent, ClassUnauthorized:
		return p.folderError("delete", out)
	default:
		p.fail(d.Path, "delete: "+out.Err.Error())
		return p.commit(state.Change{EndIntents: []uint64{in.ID}})
	}
	p.res.Deleted++
	p.log.Info("deleted", "file", d.Path, "attachment", d.AttachmentID)
	c := state.Change{EndIntents: []uint64{in.ID}}
	if r, ok := p.folder.Files[d.Path]; ok && r.AttachmentID == d.AttachmentID {
		c.Delete = []string{d.Path}
	}
	return p.commit(c)
}

// update sends one rename or reorder.
func (p *pass) update(ctx context.Context, u Update) error {
	if err := p.mayWrite(ctx); err != nil {
		return err
	}
	in := &state.Intent{Op: state.IntentUpdate, AttachmentID: u.AttachmentID, Name: u.Name, DisplayOrder: u.DisplayOrder, Started: p.e.now()}
	if err := p.journal(in, "update"); err != nil {
		return err
	}
	pri, kind := PriorityReorder, "reorder"
	if u.Rename() {
		pri, kind = PriorityRename, "rename"
	}
	p.res.Sent = append(p.res.Sent, Op{Kind: kind, Path: u.Path, Attachment: u.AttachmentID, Order: u.DisplayOrder})
	out := p.pacer.Call(ctx, pri, focus.EndpointUpdate, func(ctx context.Context) error {
		return p.e.Client.Update(ctx, p.f.Task(), u.AttachmentID, u.Name, u.DisplayOrder)
	})
	from := u.Path
	if u.Rename() {
		from = u.OldPath
	}
	c := state.Change{EndIntents: []uint64{in.ID}}
	switch out.Class {
	case ClassDone:
		if u.Rename() {
			if r, ok := p.folder.Files[u.OldPath]; ok && r.AttachmentID == u.AttachmentID {
				c.Delete = []string{u.OldPath}
			}
			p.res.Renamed++
			p.log.Info("renamed", "file", u.Path, "from", u.OldPath, "attachment", u.AttachmentID)
		} else {
			p.res.Reordered++
			p.log.Debug("reordered", "file", u.Path, "attachment", u.AttachmentID, "display_order", u.DisplayOrder)
		}
		c.Put = []state.FileRecord{u.Record}
	case ClassNotFound:
		// The attachment was deleted in Focus: forget it; the file goes up again.
		p.log.Info("attachment is gone from Focus; the file will be uploaded again", "file", u.Path, "attachment", u.AttachmentID)
		c.Delete = []string{from}
	case ClassCanceled, ClassNotSent, ClassUnauthorized:
		return p.folderError("update", out)
	default:
		p.fail(u.Path, "update: "+out.Err.Error())
	}
	return p.commit(c)
}

// mayWrite asks PassOptions.MayWrite whether the next write may be sent.
func (p *pass) mayWrite(ctx context.Context) error {
	if p.opt.MayWrite == nil {
		return nil
	}
	if err := p.opt.MayWrite(ctx); err != nil {
		return fmt.Errorf("%w: task %d: %w", ErrWriteRefused, p.f.TaskID, err)
	}
	return nil
}

// abs is the local path of a record path.
func (p *pass) abs(rel string) string {
	return filepath.Join(p.f.Path, filepath.FromSlash(rel))
}

// setProgress changes the progress under the pass's lock (batches are sent from
// more than one goroutine) and reports it.
func (p *pass) setProgress(fn func(*Progress)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(&p.progress)
	if p.opt.Progress == nil {
		return
	}
	p.progress.RequestsSent = p.res.RequestsSent()
	p.progress.QuotaLeft = -1
	if st := p.pacer.Budget.Quota().State(); st.Known {
		p.progress.QuotaLeft = st.Remaining
	}
	p.opt.Progress(p.progress)
}

// logAdopted logs the attachments a pass adopted: each one when they are few;
// when they are many (a first run or a takeover over a large folder), each at
// debug level and their count at info, so that the log stays readable.
func (p *pass) logAdopted(recs []state.FileRecord) {
	const each = 20
	level := slog.LevelInfo
	if len(recs) > each {
		level = slog.LevelDebug
	}
	if ctx := context.Background(); p.log.Enabled(ctx, level) {
		for _, r := range recs {
			p.log.Log(ctx, level, "adopted existing attachment", "file", r.Path, "attachment", r.AttachmentID)
		}
	}
	if len(recs) > each {
		p.log.Info("adopted existing attachments", "files", fmt.Sprintf("%s and %d more", recs[0].Path, len(recs)-1), "count", len(recs))
	}
}

func batchName(files []state.IntentFile) string {
	if len(files) == 1 {
		return files[0].Path
	}
	return fmt.Sprintf("%s and %d more", files[0].Path, len(files)-1)
}
