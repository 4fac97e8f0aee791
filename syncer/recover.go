package syncer

import (
	"context"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/state"
)

// owner returns the record that owns attachment id.
func (p *pass) owner(id int64) (state.FileRecord, bool) {
	for _, r := range p.folder.Files {
		if r.AttachmentID == id {
			return r, true
		}
	}
	return state.FileRecord{}, false
}

// createdSlack is how much earlier than its intent an attachment may carry a
// creation time (clocks differ) and still be taken for the intent's upload.
const createdSlack = 10 * time.Minute

// recover settles the intents left open by a pass that stopped mid-request: deletes
// are sent again (a 404 is success), updates are dropped (the plan sends them again
// if still needed), and creates are looked up in one listing of the task, so that
// what reached Focus is adopted and nothing is uploaded twice.
func (p *pass) recover(ctx context.Context) error {
	var creates []state.Intent
	var deletes []*state.Intent
	var end []uint64
	for _, in := range p.folder.Intents {
		switch in.Op {
		case state.IntentCreate:
			creates = append(creates, in)
		case state.IntentDelete:
			if r, ok := p.owner(in.AttachmentID); ok && p.snap.Present(r.Path) {
				// The delete of a removed file, and the file is back: keep it.
				end = append(end, in.ID)
				continue
			}
			deletes = append(deletes, &in)
		default:
			end = append(end, in.ID)
		}
	}
	p.log.Info("settling writes left unfinished", "creates", len(creates), "deletes", len(deletes), "updates", len(end))
	if len(end) > 0 {
		if err := p.commit(state.Change{EndIntents: end}); err != nil {
			return err
		}
	}
	if len(creates) > 0 {
		remote, err := p.list(ctx, PriorityUpload)
		if err != nil {
			return err
		}
		if err := p.adoptCreated(ctx, creates, remote); err != nil {
			return err
		}
	}
	return p.deleteReplaced(ctx, deletes)
}

// adoptCreated matches the files of create intents with the attachments of a
// listing (same name and size, created after the intent began, owned by no record)
// and records them; files with no match were not created and go up again in a
// later round. The intents are closed, and the old versions the adopted files
// replace are deleted.
func (p *pass) adoptCreated(ctx context.Context, intents []state.Intent, remote []focus.Attachment) error {
	owned := map[int64]bool{}
	for _, r := range p.folder.Files {
		if r.Managed() {
			owned[r.AttachmentID] = true
		}
	}
	var c state.Change
	for _, in := range intents {
		for _, f := range in.Files {
			// The newest match: an attachment made by hand a little earlier with the
			// same name and size is older than the upload that was cut off.
			best := -1
			for i, a := range remote {
				if owned[a.ID] || a.Deleted() || a.Name != f.Name || a.Size != f.Size {
					continue
				}
				if !a.CreatedAt.IsZero() && a.CreatedAt.Before(in.Started.Add(-createdSlack)) {
					continue
				}
				if best < 0 || a.ID > remote[best].ID {
					best = i
				}
			}
			if best < 0 {
				p.log.Info("upload did not reach Focus; it will be sent again", "file", f.Path)
				continue
			}
			a := remote[best]
			owned[a.ID] = true
			replaces := f.Replaces
			if old, ok := p.folder.Files[f.Path]; ok && old.Managed() && old.AttachmentID != a.ID && replaces == 0 {
				replaces = old.AttachmentID
			}
			c.Put = append(c.Put, p.recordFor(f, a))
			if replaces != 0 && replaces != a.ID {
				c.Begin = append(c.Begin, &state.Intent{Op: state.IntentDelete, AttachmentID: replaces, Name: f.Name, Started: p.e.now()})
			}
			p.res.Uploaded++
			p.res.UploadedBytes += f.Size
			p.log.Info("upload found in Focus; adopted", "file", f.Path, "attachment", a.ID)
		}
		c.EndIntents = append(c.EndIntents, in.ID)
	}
	if err := p.commit(c); err != nil {
		return err
	}
	return p.deleteReplaced(ctx, c.Begin)
}
