package syncer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/watcher"
)

// plan prepares a round and plans it. Preparing loads the records, scans the
// folder, gathers what the planner needs to know (whether the root can be
// trusted, the files still settling with their sizes, the open intents) and lists
// the task when the records cannot be trusted alone: at the first run, for
// PassOptions.ListFirst, when verification is due, and when an open upload must be
// looked up. The plan (MakePlan) then decides everything; a dry run stops there,
// so what it shows is what this round would send.
func (p *pass) plan(ctx context.Context) (*Plan, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.load(); err != nil {
		return nil, err
	}
	paused := ""
	snap, err := watcher.Scan(ctx, watcher.ScanOptions{
		Folder:      p.f,
		Now:         p.e.now(),
		Cache:       p.cache,
		Files:       len(p.folder.Files),
		Unhashed:    p.hashLater(),
		HashWorkers: p.e.HashWorkers,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		paused = err.Error()
	}
	p.snap = snap
	p.res.Settling = false
	settling := map[string]int64{}
	if snap != nil {
		for rel, kind := range snap.HeldKinds {
			if kind != watcher.HoldSettling {
				continue
			}
			p.res.Settling = true
			// A file renamed a moment ago is among them (a rename touches its ctime).
			if fi, err := os.Lstat(p.abs(rel)); err == nil {
				settling[rel] = fi.Size()
			}
		}
		// A file the scan could not take is in the result's Skipped, which `sync`
		// and the daemon both report once with LogSkipped.
		for _, fe := range snap.Errors {
			p.log.Debug("cannot read", "file", fe.Path, "err", fe.Err)
		}
		if d := p.folder.Meta.Device; d != 0 && snap.Device != 0 && d != snap.Device && p.managed() > 0 {
			paused = fmt.Sprintf("folder root %s is on another device than when it was first synced (is the share unmounted?); not syncing until it is back", p.f.Path)
		}
	}

	var listing, remote []focus.Attachment
	listed := false
	creates := false
	for _, in := range p.folder.Intents {
		creates = creates || in.Op == state.IntentCreate
	}
	relist := p.opt.ListFirst && !p.relisted
	first := !p.folder.Meta.Listed || relist
	complete := true // the listing, if any, can count as the task's first one
	if paused == "" && !p.opt.Offline && (creates || first || p.verifyDue()) {
		if creates {
			if err := p.e.awaitAbandoned(ctx, p.key); err != nil {
				return nil, err
			}
		}
		listing, err = p.list(ctx, p.listPriority())
		if err != nil {
			return nil, err
		}
		listed = true
		switch {
		case first:
			remote = listing
			// A file still settling may be an attachment of the listing that it
			// can only be matched with once it has settled: until a listing finds
			// no such file, the task does not count as listed, and the next round
			// lists again instead of uploading a file the task already holds.
			complete = !p.adoptableLater(settling, listing)
		case !creates:
			// A verification only checks our own attachments: adopting is for the
			// first listing (or lost state). An attachment a person added later
			// with the name and size of a local file is theirs, not ours.
			remote = p.ownedOnly(listing)
		}
	}
	plan := MakePlan(PlanInput{
		Snapshot: snap,
		Records:  p.folder.Files,
		Paths:    p.folder.Paths,
		Remote:   remote,
		Settling: settling,
		Intents:  p.folder.Intents,
		Listing:  listing,
		Options: PlanOptions{
			Folder:          p.f,
			AllowMassDelete: p.opt.AllowMassDelete,
			Paused:          paused,
			MaxBatchFiles:   focus.MaxBulkFiles,
			MaxBatchBytes:   p.e.MaxBatchBytes,
		},
	})
	p.keepDevices(plan)
	// The listing is recorded with the plan's adoptions, in one transaction, so that
	// a crash in between cannot leave "listed" behind without the adopted records.
	if complete {
		p.relisted = p.relisted || relist
	}
	p.listedAt = time.Time{}
	if listed && complete && (first || remote != nil) {
		p.listedAt = p.e.now()
	}
	return plan, nil
}

// keepDevices notes the device of each file the plan uploads that is not on the
// root's device, and drops the snapshot's files, which the rest of the round
// does not read.
func (p *pass) keepDevices(plan *Plan) {
	p.devices = nil
	if p.snap == nil {
		return
	}
	for _, b := range plan.Uploads {
		for _, f := range b.Files {
			if d := p.snap.Files[f.Path].Device; d != p.snap.Device {
				if p.devices == nil {
					p.devices = map[string]uint64{}
				}
				p.devices[f.Path] = d
			}
		}
	}
	p.snap.Files = nil
}

// device returns the device a file to upload was scanned on.
func (p *pass) device(path string) uint64 {
	if d, ok := p.devices[path]; ok {
		return d
	}
	if p.snap == nil {
		return 0
	}
	return p.snap.Device
}

// adoptableLater reports whether a file still settling has the name of an
// attachment of the listing that no record owns.
func (p *pass) adoptableLater(settling map[string]int64, listing []focus.Attachment) bool {
	if len(settling) == 0 {
		return false
	}
	owned := ownedIDs(p.folder.Files)
	names := map[string]bool{}
	for rel := range settling {
		names[RemoteName(rel)] = true
	}
	for _, a := range listing {
		if !owned[a.ID] && names[a.Name] {
			return true
		}
	}
	return false
}

// ownedOnly keeps the attachments that a record owns.
func (p *pass) ownedOnly(remote []focus.Attachment) []focus.Attachment {
	owned := ownedIDs(p.folder.Files)
	var out []focus.Attachment
	for _, a := range remote {
		if owned[a.ID] {
			out = append(out, a)
		}
	}
	return out
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
	return p.pacer.Budget.Spare()
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
	out := p.pacer.Call(ctx, pri, focus.EndpointList, func(ctx context.Context) error {
		var err error
		items, err = p.e.Client.List(ctx, p.f.Task())
		return err
	})
	if !out.OK() {
		return nil, p.folderError("list task", out)
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

// folderError turns the outcome of a request that stops the folder (a cancelled
// pass, a refused token, a listing that failed) into the error Sync returns.
func (p *pass) folderError(what string, out Outcome) error {
	err := out.Err
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	const remedy = "check the API token: FOCUS_API_TOKEN or [api] token_file"
	if fe := (*focus.Error)(nil); errors.As(err, &fe) && strings.HasPrefix(fe.Op, what) {
		// The client's error names the request already ("list task 101: ...").
		if out.Class == ClassUnauthorized {
			return fmt.Errorf("%w: %w (%s)", ErrFatal, unauthorized{err}, remedy)
		}
		return fmt.Errorf("folder %s: %w", p.f.Path, err)
	}
	if out.Class == ClassUnauthorized {
		return fmt.Errorf("%w: %s: %w (%s)", ErrFatal, what, unauthorized{err}, remedy)
	}
	return fmt.Errorf("%s for folder %s: %w", what, p.f.Path, err)
}

// unauthorized wraps the 401 that stopped a pass: it is ErrUnauthorized, and
// reads as the 401 itself.
type unauthorized struct{ error }

func (u unauthorized) Unwrap() error { return u.error }

func (unauthorized) Is(target error) bool { return target == ErrUnauthorized }
