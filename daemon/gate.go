package daemon

import (
	"context"

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
}

// turn asks the gate, if any, about the next pass of w's folder.
func (w *worker) turn(ctx context.Context) Turn {
	if w.d.opt.Gate == nil {
		return Turn{Write: true}
	}
	return w.d.opt.Gate.Turn(ctx, w.f)
}
