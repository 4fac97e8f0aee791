package syncer

import (
	"context"
	"maps"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/state"
)

// createdSlack is how much earlier than its intent an attachment may carry a
// creation time (clocks differ) and still be taken for the intent's upload.
const createdSlack = 10 * time.Minute

// recoveryOf decides how the open intents of in are settled (see Recovery) and
// returns the records as they will be once that is done: the files of cut-off
// uploads found in the listing adopted, the records of removed files whose delete
// is sent again gone.
func recoveryOf(in PlanInput) (Recovery, map[string]state.FileRecord) {
	if len(in.Intents) == 0 {
		return Recovery{}, in.Records
	}
	recs := maps.Clone(in.Records)
	present := func(string) bool { return false }
	if in.Snapshot != nil {
		present = in.Snapshot.Present
	}
	var r Recovery
	var creates []state.Intent
	for _, it := range in.Intents {
		switch it.Op {
		case state.IntentCreate:
			creates = append(creates, it)
		case state.IntentDelete:
			path, owned := ownerOf(recs, it.AttachmentID)
			if owned && present(path) {
				// The delete of a removed file, and the file is back: keep it.
				r.End = append(r.End, it.ID)
				continue
			}
			r.Resend = append(r.Resend, it)
			if owned {
				delete(recs, path)
			}
		default:
			r.End = append(r.End, it.ID)
		}
	}
	if len(creates) > 0 && in.Listing == nil {
		// No listing (a pass that may not read the task): whether these uploads
		// reached Focus is unknown, so their files wait and the intents stay open.
		return r, recs
	}
	if len(creates) > 0 {
		adopt, replace := matchUploads(creates, recs, in.Listing)
		for _, rec := range adopt {
			recs[rec.Path] = rec
		}
		r.Adopt, r.Replace = adopt, replace
		for _, it := range creates {
			r.End = append(r.End, it.ID)
		}
	}
	return r, recs
}

// ownedIDs returns the ids of the attachments that the records manage.
func ownedIDs(recs map[string]state.FileRecord) map[int64]bool {
	owned := make(map[int64]bool, len(recs))
	for _, r := range recs {
		if r.Managed() {
			owned[r.AttachmentID] = true
		}
	}
	return owned
}

// ownerOf returns the path of the record that owns attachment id.
func ownerOf(recs map[string]state.FileRecord, id int64) (string, bool) {
	for path, r := range recs {
		if r.AttachmentID == id {
			return path, true
		}
	}
	return "", false
}

// matchUploads matches the files of create intents with the attachments of a
// listing (same name and size, created after the intent began, owned by no
// record) and returns the records of those found and the deletes of the old
// versions they replace. A file with no match did not reach Focus: it is not
// returned, and goes up again as a new file.
func matchUploads(intents []state.Intent, recs map[string]state.FileRecord, listing []focus.Attachment) (adopt []state.FileRecord, replace []state.Intent) {
	owned := ownedIDs(recs)
	for _, in := range intents {
		for _, f := range in.Files {
			// The newest match: an attachment made by hand a little earlier with the
			// same name and size is older than the upload that was cut off.
			best := -1
			for i, a := range listing {
				if owned[a.ID] || a.Deleted() || a.Name != f.Name || a.Size != f.Size {
					continue
				}
				if !a.CreatedAt.IsZero() && a.CreatedAt.Before(in.Started.Add(-createdSlack)) {
					continue
				}
				if best < 0 || a.ID > listing[best].ID {
					best = i
				}
			}
			if best < 0 {
				continue
			}
			a := listing[best]
			owned[a.ID] = true
			replaces := f.Replaces
			if old, ok := recs[f.Path]; ok && old.Managed() && old.AttachmentID != a.ID && replaces == 0 {
				replaces = old.AttachmentID
			}
			adopt = append(adopt, recordFor(f, a))
			if replaces != 0 && replaces != a.ID {
				replace = append(replace, state.Intent{Op: state.IntentDelete, AttachmentID: replaces, Name: f.Name})
			}
		}
	}
	return adopt, replace
}

// recover executes a plan's Recovery: the records and the new delete intents in
// one transaction with the intents it closes, then the deletes.
func (p *pass) recover(ctx context.Context, r Recovery) error {
	if r.Empty() {
		return nil
	}
	p.log.Info("settling writes left unfinished", "adopted", len(r.Adopt), "deletes", len(r.Resend)+len(r.Replace), "closed", len(r.End))
	return p.adopt(ctx, r.End, r.Adopt, r.Resend, r.Replace)
}

// adoptCreated settles create intents whose outcome is unknown from a listing:
// what reached Focus is adopted, the rest goes up again in a later round.
func (p *pass) adoptCreated(ctx context.Context, intents []state.Intent, listing []focus.Attachment) error {
	adopt, replace := matchUploads(intents, p.folder.Files, listing)
	var end []uint64
	for _, in := range intents {
		end = append(end, in.ID)
	}
	return p.adopt(ctx, end, adopt, nil, replace)
}

// adopt stores the adopted records and journals the deletes of the versions they
// replace, closing the intents end, all in one transaction; then it sends the
// deletes of resend and replace.
func (p *pass) adopt(ctx context.Context, end []uint64, adopt []state.FileRecord, resend, replace []state.Intent) error {
	now := p.e.now()
	c := state.Change{EndIntents: end}
	for _, rec := range adopt {
		c.Put = append(c.Put, rec)
		p.res.Uploaded++
		p.res.UploadedBytes += rec.Size
		p.log.Info("upload found in Focus; adopted", "file", rec.Path, "attachment", rec.AttachmentID)
	}
	for _, in := range replace {
		in.Started = now
		c.Begin = append(c.Begin, &in)
	}
	if err := p.commit(c); err != nil {
		return err
	}
	var sends []*state.Intent
	for i := range resend {
		sends = append(sends, &resend[i])
	}
	return p.deleteReplaced(ctx, append(sends, c.Begin...))
}
