package daemon

import (
	"context"
	"time"

	"github.com/focussync/focussync/config"
)

// Gate decides whether this process may send writes for a folder's task, so that
// at most one process writes to a task at any moment (DESIGN.md §3, rule 8). The
// worker asks it before every pass, and the pass consults the answer's MayWrite
// before every write request it sends.
type Gate interface {
	// Turn is called before each pass of f. It must return quickly (it may block
	// only until ctx ends) and never fail: when in doubt it answers Write false.
	Turn(ctx context.Context, f config.Folder) Turn
}

// Turn is a Gate's answer for one pass.
type Turn struct {
	// Write reports that this process may send writes for the task in this pass.
	// Without it the pass is a standby pass: it scans and plans (the status shows
	// what would be sent) but sends nothing, and the folder's state is "standby".
	Write bool
	// ListFirst makes the pass list the task before planning and adopt the
	// attachments that match local files by name and size, as a first run does:
	// set it when this process has just become the task's writer, so that what the
	// previous writer uploaded is adopted rather than uploaded again.
	ListFirst bool
	// MayWrite, when set, is called before each write request of the pass; an
	// error stops the pass before that request (a lease that could have lapsed).
	MayWrite func(ctx context.Context) error
	// Done, when set, is called once the pass has ended, whatever its outcome
	// (a gate that shares what the pass recorded with the processes that may
	// take over).
	Done func()
	// Paused, with Write false, says why this process can neither write nor know
	// who may (a lease that cannot be read): the folder shows as paused with this
	// reason rather than as a standby.
	Paused string
}

// LeaseReporter is implemented by a Gate that can describe each folder's lease;
// Status then fills FolderStatus.Lease.
type LeaseReporter interface {
	// LeaseStatus returns the lease of f's task, or nil when the gate has none.
	LeaseStatus(f config.Folder) *LeaseStatus
}

// LeaseStatus is one folder's lease as the gate sees it.
type LeaseStatus struct {
	Role   string `json:"role"`             // holder | standby | paused | starting
	Holder string `json:"holder,omitempty"` // node name of the holder ("" when none)
	// Since is when the holder took the lease, by the holder's clock.
	Since time.Time `json:"since,omitzero"`
	// AgeSeconds is how long the current holder has held the lease, as seen here.
	AgeSeconds float64 `json:"age_seconds"`
	// Takeovers counts how often the lease passed from a holder that had not
	// released it to another process.
	Takeovers int    `json:"takeovers"`
	Reason    string `json:"reason,omitempty"` // why paused, or a conflict
	// Text is the one-line summary status pages show, e.g. "standby, held by
	// ws-12 since 2026-12-02 09:14:03 UTC".
	Text string `json:"text"`
}

// turn asks the gate, if any, about the next pass of w's folder.
func (w *worker) turn(ctx context.Context) Turn {
	if w.d.opt.Gate == nil {
		return Turn{Write: true}
	}
	return w.d.opt.Gate.Turn(ctx, w.f)
}
