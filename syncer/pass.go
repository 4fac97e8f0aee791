package syncer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/watcher"
)

// plan loads the records, scans the folder, settles open intents, lists the task
// when the records cannot be trusted alone, and returns the plan. A nil plan with a
// nil error means the folder is paused (res.Paused says why).
func (p *pass) plan(ctx context.Context) (*Plan, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.load(); err != nil {
		return nil, err
	}
	snap, err := watcher.Scan(ctx, watcher.ScanOptions{
		Folder:      p.f,
		Now:         p.e.now(),
		Cache:       p.cache,
		HashWorkers: p.e.HashWorkers,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		p.pause(err.Error())
		return nil, nil
	}
	p.snap = snap
	p.res.Settling = false
	for _, reason := range snap.Held {
		if settlingReason(reason) {
			p.res.Settling = true
			break
		}
	}
	// A file the scan could not take is in the result's Skipped, which `sync`
	// and the daemon both report once with LogSkipped.
	for _, fe := range snap.Errors {
		p.log.Debug("cannot read", "file", fe.Path, "err", fe.Err)
	}
	if d := p.folder.Meta.Device; d != 0 && snap.Device != 0 && d != snap.Device && p.managed() > 0 {
		p.pause(fmt.Sprintf("folder root %s is on another device than when it was first synced (is the share unmounted?); not syncing until it is back", p.f.Path))
		return nil, nil
	}

	if len(p.folder.Intents) > 0 && !p.opt.DryRun {
		if err := p.recover(ctx); err != nil {
			return nil, err
		}
	}

	var remote []focus.Attachment
	listed := false
	relist := p.opt.ListFirst && !p.relisted
	if (!p.folder.Meta.Listed || relist || p.verifyDue()) && !p.opt.Offline {
		first := !p.folder.Meta.Listed || relist
		p.relisted = p.relisted || relist
		remote, err = p.list(ctx, p.listPriority())
		if err != nil {
			return nil, err
		}
		listed = true
		if !first {
			// A verification only checks our own attachments: adopting is for the
			// first listing (or lost state). An attachment a person added later
			// with the name and size of a local file is theirs, not ours.
			remote = p.ownedOnly(remote)
		}
	}
	plan := MakePlan(PlanInput{
		Snapshot: snap,
		Records:  p.folder.Files,
		Remote:   remote,
		Options: PlanOptions{
			Folder:          p.f,
			AllowMassDelete: p.opt.AllowMassDelete,
			MaxBatchFiles:   focus.MaxBulkFiles,
			MaxBatchBytes:   p.e.MaxBatchBytes,
		},
	})
	// The listing is recorded with the plan's adoptions, in one transaction, so that
	// a crash in between cannot leave "listed" behind without the adopted records.
	p.listedAt = time.Time{}
	if listed {
		p.listedAt = p.e.now()
	}
	return plan, nil
}

// settlingReason reports whether a held file is held because it is still changing.
func settlingReason(reason string) bool {
	return strings.HasPrefix(reason, "settling") || strings.HasPrefix(reason, "changed")
}

// settlingSizes returns the sizes of the files held because they are still
// changing. A file renamed a moment ago is among them (a rename touches its ctime).
func (p *pass) settlingSizes() map[int64]bool {
	sizes := map[int64]bool{}
	for rel, reason := range p.snap.Held {
		if !settlingReason(reason) {
			continue
		}
		if fi, err := os.Lstat(p.abs(rel)); err == nil {
			sizes[fi.Size()] = true
		}
	}
	return sizes
}

// ownedOnly keeps the attachments that a record owns.
func (p *pass) ownedOnly(remote []focus.Attachment) []focus.Attachment {
	owned := map[int64]bool{}
	for _, r := range p.folder.Files {
		if r.Managed() {
			owned[r.AttachmentID] = true
		}
	}
	var out []focus.Attachment
	for _, a := range remote {
		if owned[a.ID] {
			out = append(out, a)
		}
	}
	return out
}

// pause stops the folder for this call: nothing is sent. The caller reports it.
func (p *pass) pause(reason string) {
	p.res.Paused = reason
}

// cache feeds the scanner the stat and hash of each file's record, so unchanged
// files are not hashed again.
func (p *pass) cache(path string) (int64, time.Time, uint64, string, bool) {
	r, ok := p.folder.Files[path]
	if !ok || r.Hash == "" {
		return 0, time.Time{}, 0, "", false
	}
	return r.Size, r.ModTime, r.Inode, r.Hash, true
}

func (p *pass) managed() int {
	n := 0
	for _, r := range p.folder.Files {
		if r.Managed() {
			n++
		}
	}
	return n
}

// verifyDue reports whether the periodic remote verification is due and the quota
// has room for it.
func (p *pass) verifyDue() bool {
	if p.f.Verify <= 0 || p.opt.DryRun {
		return false
	}
	last := p.folder.Meta.LastVerify
	if !last.IsZero() && p.e.now().Sub(last) < p.f.Verify {
		return false
	}
	return p.budget.Spare()
}

func (p *pass) listPriority() Priority {
	if p.folder.Meta.Listed {
		return PriorityVerify
	}
	return PriorityUpload
}

// list returns the task's live attachments.
func (p *pass) list(ctx context.Context, pri Priority) ([]focus.Attachment, error) {
	var items []focus.Attachment
	err := p.call(ctx, pri, focus.EndpointList, func(ctx context.Context) error {
		var err error
		items, err = p.e.Client.List(ctx, p.f.Task())
		return err
	})
	if err != nil {
		return nil, p.folderError("list task", err)
	}
	p.res.Listed = true
	live := items[:0]
	for _, a := range items {
		if !a.Deleted() {
			live = append(live, a)
		}
	}
	return live, nil
}

// folderError turns a failure that stops the folder into the error Sync returns.
func (p *pass) folderError(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if fe := (*focus.Error)(nil); errors.As(err, &fe) && strings.HasPrefix(fe.Op, what) {
		// The client's error names the request already ("list task 101: ...").
		if focus.KindOf(err) == focus.KindAuth {
			return fmt.Errorf("%w: %w (check the API token: FOCUS_API_TOKEN or [api] token_file)", ErrFatal, err)
		}
		return fmt.Errorf("folder %s: %w", p.f.Path, err)
	}
	if focus.KindOf(err) == focus.KindAuth {
		return fmt.Errorf("%w: %s: %w (check the API token: FOCUS_API_TOKEN or [api] token_file)", ErrFatal, what, err)
	}
	return fmt.Errorf("%s for folder %s: %w", what, p.f.Path, err)
}
