// Package syncer brings Focus tasks in line with local folders: a pure planner
// (MakePlan) decides what to send, and the Engine sends it under a shared quota
// budget, journaling every write in the state store so that no file is lost or
// uploaded twice, whatever fails.
package syncer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"sync"
	"time"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/watcher"
)

// FolderKey is the key of a folder's records in the state store.
func FolderKey(f config.Folder) state.FolderKey {
	return state.FolderKey{Path: filepath.Clean(f.Path), TaskID: f.TaskID}
}

// PassOptions shape one call of Engine.Sync.
type PassOptions struct {
	DryRun bool // plan only: no write is sent and no record changes
	// Offline plans from the records alone, sending no request at all, not even a
	// listing: the pass of a standby, which must leave the task to its holder.
	// It implies DryRun.
	Offline         bool
	AllowMassDelete bool // a person confirmed the deletes held by max_delete
	// Progress, when set, is called as uploads advance.
	Progress func(Progress)
	// QuietFailures logs each failed file at debug level only: the daemon reports
	// failures when they start and end, not at every pass.
	QuietFailures bool
	// WaitSettle makes Sync wait for files that are still changing (up to
	// maxSettleWaits times the settle time) instead of leaving them to a later pass.
	WaitSettle bool
	// ListFirst makes the first round list the task and adopt the attachments that
	// match local files by name and size, as a first run does, even when the
	// records say the task was listed before: a process that has just become the
	// task's writer adopts what the previous writer uploaded.
	ListFirst bool
	// MayWrite, when set, is called before each write is journaled and sent; an
	// error ends the call with an error wrapping ErrWriteRefused, and nothing more
	// is sent (another process may write to the task now).
	MayWrite func(ctx context.Context) error
}

// maxSettleWaits bounds how often a one-shot sync waits for settling files: a file
// that never stops changing is left for a later pass.
const maxSettleWaits = 10

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Progress reports the uploads of one folder's pass.
type Progress struct {
	Folder                  string
	Files, FilesTotal       int
	Bytes, BytesTotal       int64
	Current                 string // the batch being sent
	Waiting                 string // why the pass is waiting ("" when it is not)
	RequestsSent, QuotaLeft int
}

// Failure is a file that could not be synced, and why.
type Failure struct {
	Path    string `json:"path"`
	Reason  string `json:"reason"`
	Refused bool   `json:"refused,omitempty"` // the server refused the file: it is retried when it changes
}

// Result tells what one Sync call did.
type Result struct {
	Folder string
	Task   int64

	Paused string // why the folder was paused ("" when it was not)
	Held   string // why deletes were held back

	Uploaded      int
	UploadedBytes int64
	Replaced      int // old versions deleted after their new version went up
	Renamed       int
	Reordered     int
	Deleted       int
	Adopted       int

	Skipped []Skip
	Failed  []Failure

	// Settling is set when files were held back because they are still changing:
	// another pass after the settle time picks them up.
	Settling bool

	Requests map[focus.Endpoint]int // requests sent, retries included
	Sent     []Op                   // the write requests sent, in order (retries not repeated)
	// Plan is the first plan: the whole plan on a dry run or when the folder is
	// paused; once executed, its upload batches hold no files (Cost still counts
	// them).
	Plan   *Plan
	Listed bool // the task was listed (adoption, recovery or verification)
}

// RequestsSent is the number of requests of every kind.
func (r *Result) RequestsSent() int {
	n := 0
	for _, c := range r.Requests {
		n += c
	}
	return n
}

// WriteRequests is the number of write requests sent.
func (r *Result) WriteRequests() int {
	n := 0
	for ep, c := range r.Requests {
		if ep.Write() {
			n += c
		}
	}
	return n
}

// Converged reports whether the pass left nothing undone.
func (r *Result) Converged() bool {
	return r.Paused == "" && r.Held == "" && len(r.Failed) == 0
}

// ErrFatal marks an error that stops the folder's pass at once instead of being
// reported per file: an API token that is refused (the daemon then pauses every
// folder until a new token is loaded) or a state db that cannot be read or written
// (the daemon retries the folder later, with back-off).
var ErrFatal = errors.New("fatal")

// ErrUnauthorized is wrapped, with ErrFatal, by the error of a pass that the API
// answered 401: the token is missing, wrong or expired. The daemon pauses every
// folder until a new token is loaded.
var ErrUnauthorized = errors.New("the API token was refused")

// ErrWriteRefused is wrapped by the error of a pass that stopped because
// PassOptions.MayWrite refused a write.
var ErrWriteRefused = errors.New("not allowed to write to the task")

// Engine runs sync passes. One Engine serves every folder; it is safe for concurrent
// use by one goroutine per folder.
type Engine struct {
	Client *focus.Client
	Store  *state.Store
	Log    *slog.Logger
	Now    func() time.Time

	// RetryInitial is the first pause after a server or transport error; it doubles
	// (with jitter) up to RetryMax, for at most MaxRetries retries per request.
	RetryInitial time.Duration
	RetryMax     time.Duration
	MaxRetries   int
	// MaxPasses bounds the scan-plan-execute rounds of one Sync call.
	MaxPasses int
	// MaxBatchBytes caps the bytes of one bulk create (0: no cap).
	MaxBatchBytes int64
	// HashWorkers bounds parallel hashing per scan (0: the scanner's default).
	HashWorkers int
	// Metrics, when set, counts requests and transfers.
	Metrics *Metrics
	// MaxUploads bounds the uploads in flight at once across all folders (0: 2),
	// so that many folders do not saturate the link or the disk together.
	MaxUploads int
	uploadOnce sync.Once
	uploadSem  chan struct{}

	mu      sync.Mutex
	budgets map[int64]*Budget
	shared  func(org int64) SharedQuota
	// abandoned is when a pass of each folder was stopped with an upload's body
	// on the wire (a reload, a pause), by folder key: see awaitAbandoned.
	abandoned map[state.FolderKey]time.Time
}

// abandonGrace is how long after an upload abandoned mid-request a pass of this
// process waits before it lists the task to learn whether the upload took
// effect: a server that had the whole body may still be storing it, and a
// listing made before it has would have the files sent again.
const abandonGrace = 3 * time.Second

// abandon notes that a pass of the folder stopped with an upload's body sent.
func (e *Engine) abandon(k state.FolderKey) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.abandoned == nil {
		e.abandoned = map[state.FolderKey]time.Time{}
	}
	e.abandoned[k] = time.Now()
}

// awaitAbandoned waits until abandonGrace has passed since a pass of the folder
// abandoned an upload, if one did in this process.
func (e *Engine) awaitAbandoned(ctx context.Context, k state.FolderKey) error {
	e.mu.Lock()
	at, ok := e.abandoned[k]
	e.mu.Unlock()
	if !ok {
		return nil
	}
	if d := abandonGrace - time.Since(at); d > 0 {
		if err := sleepCtx(ctx, d); err != nil {
			return err
		}
	}
	e.mu.Lock()
	if e.abandoned[k] == at {
		delete(e.abandoned, k)
	}
	e.mu.Unlock()
	return nil
}

// NewEngine returns an engine with the default retry policy.
func NewEngine(c *focus.Client, st *state.Store, log *slog.Logger) *Engine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{
		Client:       c,
		Store:        st,
		Log:          log,
		Now:          time.Now,
		RetryInitial: time.Second,
		RetryMax:     time.Minute,
		MaxRetries:   4,
		MaxPasses:    6,
		budgets:      map[int64]*Budget{},
	}
}

// Budget returns the quota budget of an organization, shared by all its folders.
func (e *Engine) Budget(org int64) *Budget {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.budgets == nil {
		e.budgets = map[int64]*Budget{}
	}
	b, ok := e.budgets[org]
	if !ok {
		b = NewBudget(e.Client.Quota(org), e.now)
		if e.shared != nil {
			b.Share(e.shared(org))
		}
		e.budgets[org] = b
	}
	return b
}

// ShareQuota makes the budget of each organization draw its requests also from the
// shared budget that shared returns for it (hosts coordinated through etcd share
// one quota); nil returns every budget to following this host's own headers. It
// applies to the budgets made so far and to later ones.
func (e *Engine) ShareQuota(shared func(org int64) SharedQuota) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.shared = shared
	for org, b := range e.budgets {
		var s SharedQuota
		if shared != nil {
			s = shared(org)
		}
		b.Share(s)
	}
}

// uploadSlot takes one of the MaxUploads slots, or returns ctx.Err().
func (e *Engine) uploadSlot(ctx context.Context) (release func(), err error) {
	e.uploadOnce.Do(func() {
		n := e.MaxUploads
		if n <= 0 {
			n = 2
		}
		e.uploadSem = make(chan struct{}, n)
	})
	select {
	case e.uploadSem <- struct{}{}:
		return func() { <-e.uploadSem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// pacer returns the Pacer of pass p: the engine's retry policy over b, the
// budget of p's organization, counting p's requests in its result and reporting
// its waits in its progress.
func (e *Engine) pacer(p *pass, b *Budget) *Pacer {
	return &Pacer{
		Budget:       b,
		RetryInitial: e.RetryInitial,
		RetryMax:     e.RetryMax,
		MaxRetries:   e.MaxRetries,
		Log:          p.log,
		Metrics:      e.Metrics,
		Sent: func(ep focus.Endpoint, _ error) {
			p.mu.Lock()
			p.res.Requests[ep]++
			p.mu.Unlock()
		},
		Waiting: func(why string) { p.setProgress(func(pr *Progress) { pr.Waiting = why }) },
	}
}

func (e *Engine) now() time.Time {
	if e.Now == nil {
		return time.Now()
	}
	return e.Now()
}

// Sync brings one folder's task in line with the folder. It runs rounds of
// prepare → plan → execute (pass.plan, MakePlan, pass.execute) until a plan is
// empty, and plans again after a round for one of two reasons only (see again):
//
//   - roundWrote: the round sent writes, and the next plan shows what they left
//     (an op that failed, a file that changed meanwhile). At most MaxPasses
//     rounds send writes; from the third on, each plan must cost fewer requests
//     than the one before, or the call ends and reports what is left.
//   - roundSettling (PassOptions.WaitSettle): files are still changing; the call
//     waits the folder's settle time and looks again, at most maxSettleWaits times
//     in all.
//
// Problems with single files are reported in the Result; the error is for what
// stops the whole folder (a cancelled ctx, an ErrFatal).
func (e *Engine) Sync(ctx context.Context, f config.Folder, opt PassOptions) (*Result, error) {
	res := &Result{Folder: f.Path, Task: f.TaskID, Requests: map[focus.Endpoint]int{}}
	if opt.Offline {
		opt.DryRun = true
	}
	p := &pass{e: e, f: f, opt: opt, res: res, key: FolderKey(f),
		log: e.Log.With("folder", f.Path, "task", f.TaskID)}
	p.pacer = e.pacer(p, e.Budget(f.OrganizationID))
	defer p.pacer.Announce(0)

	r := rounds{max: e.MaxPasses, lastCost: math.MaxInt}
	if r.max <= 0 {
		r.max = 6
	}
	for r.wrote < r.max {
		why, err := p.round(ctx, &r)
		if err != nil || why == roundDone {
			return res, err
		}
		if why == roundSettling {
			if err := sleepCtx(ctx, max(f.Settle, 10*time.Millisecond)); err != nil {
				return res, err
			}
		}
	}
	return res, p.outOfRounds(ctx)
}

// again is why Sync plans another round after one.
type again int

const (
	roundDone     again = iota // no other round: converged, paused, a dry run, or what is left waits for a later call
	roundWrote                 // the round sent writes: plan again to see what they left
	roundSettling              // files are still changing: wait the settle time, then plan again
)

// rounds is what one Sync call counts across its rounds.
type rounds struct {
	max         int // rounds that may send writes
	wrote       int // rounds that sent writes (executed a plan) so far
	settleWaits int // waits for settling files so far: at most maxSettleWaits
	lastCost    int // the cost of the last plan executed, to see that plans shrink
}

// settleAgain reports whether the call should wait for files that are still
// changing, and counts the wait.
func (r *rounds) settleAgain(p *pass) bool {
	if !p.opt.WaitSettle || !p.res.Settling || r.settleWaits >= maxSettleWaits {
		return false
	}
	r.settleWaits++
	return true
}

// round prepares, plans and executes once, and says whether Sync should plan
// again, and why.
func (p *pass) round(ctx context.Context, r *rounds) (again, error) {
	// Each round retries what failed before: only the last round's failures count.
	p.res.Failed, p.failed = nil, nil
	plan, err := p.plan(ctx)
	if err != nil {
		return roundDone, err
	}
	if r.wrote == 0 {
		p.res.Plan = plan
	}
	if plan.Paused != "" {
		p.res.Paused = plan.Paused
		return roundDone, nil
	}
	p.noteHeld(plan)
	if p.opt.DryRun {
		return roundDone, nil
	}
	if plan.Empty() {
		if r.settleAgain(p) {
			// Nothing to send yet, only files still changing: a round that waits
			// for them sends nothing and does not count. Its listing is kept.
			return roundSettling, p.finish()
		}
		return roundDone, p.finish()
	}
	cost := plan.Cost()
	if cost > 0 && cost >= r.lastCost && r.wrote > 1 {
		// The plan stopped shrinking: what is left failed for reasons retries in
		// this call will not fix. Report it; the next pass tries again.
		p.reportLeft(plan)
		return roundDone, nil
	}
	r.lastCost = cost
	if err := p.execute(ctx, plan); err != nil {
		return roundDone, err
	}
	r.wrote++
	if len(plan.Deferred) > 0 && !p.opt.WaitSettle {
		// A delete waits for a file that is still settling (perhaps its new
		// name): the caller looks again after the settle time.
		return roundDone, p.finish()
	}
	if r.settleAgain(p) {
		// Some files are still changing (a rename in progress shows up as a
		// delete plus a settling file): give them the settle time first, and let
		// the next plan cost what it needs.
		r.lastCost = math.MaxInt
		return roundSettling, nil
	}
	return roundWrote, nil
}

// noteHeld records what a plan holds back: deletes held, files skipped, and
// among them the failures (a file the server refused until it changes, a file the
// scan could not read). Files still settling are merely not ready.
func (p *pass) noteHeld(plan *Plan) {
	p.res.Held = plan.Held
	p.res.Skipped = plan.Skipped
	for _, sk := range plan.Skipped {
		if r, ok := p.folder.Files[sk.Path]; ok && r.RefusedHash() != "" {
			p.failRefused(sk.Path, sk.Reason)
		}
	}
	p.failUnreadable()
}

// outOfRounds ends a call whose rounds all sent writes: one more plan, not
// executed, says what is left for a later call.
func (p *pass) outOfRounds(ctx context.Context) error {
	p.res.Failed, p.failed = nil, nil
	plan, err := p.plan(ctx)
	if err != nil {
		return err
	}
	if plan.Paused != "" {
		p.res.Paused = plan.Paused
		return nil
	}
	if !plan.Empty() {
		p.reportLeft(plan)
	}
	return p.finish()
}

// pass is the working state of one Sync call.
type pass struct {
	e     *Engine
	f     config.Folder
	opt   PassOptions
	res   *Result
	key   state.FolderKey
	pacer *Pacer // sends every request of the pass, under the quota budget
	log   *slog.Logger

	folder *state.Folder
	// snap is the round's scan. Once the round is planned its Files are dropped
	// (the plan carries what the uploads need of them; a pass over many files
	// should not hold each one twice), and devices keeps the device of each file
	// to upload that is not on the root's device.
	snap     *watcher.Snapshot
	devices  map[string]uint64
	listedAt time.Time         // when this round listed the task; zero when it did not
	relisted bool              // PassOptions.ListFirst's listing was made
	failed   map[string]string // path -> reason, failures of this call
	// readFirst are new files whose streamed upload failed here (one that could
	// not be opened, or changed under it): the next round's scan reads and hashes
	// them, so that a file that cannot be read is reported as such, and kept out
	// of the batch, rather than failing every batch it is put in.
	readFirst map[string]bool

	// mu guards progress and res.Requests: a folder's batches are sent from
	// more than one goroutine.
	mu       sync.Mutex
	progress Progress
}

// load reads the folder's records.
//
// They are read once per Sync call: every write of the call goes through commit
// or journal, which keep the records in memory what they are in the store.
func (p *pass) load() error {
	if p.folder != nil {
		return nil
	}
	fo, err := p.e.Store.Load(p.key)
	if err != nil {
		return fmt.Errorf("%w: read state: %w", ErrFatal, err)
	}
	p.folder = fo
	return nil
}

// journal makes one intent durable before its request is sent, in the store and
// in memory; what names the write for the error.
func (p *pass) journal(in *state.Intent, what string) error {
	if err := p.e.Store.Commit(p.key, state.Change{Begin: []*state.Intent{in}}); err != nil {
		return fmt.Errorf("%w: journal %s: %w", ErrFatal, what, err)
	}
	p.apply(state.Change{Begin: []*state.Intent{in}})
	return nil
}

// commit applies a change to the folder's records, stored and in memory.
func (p *pass) commit(c state.Change) error {
	if err := p.e.Store.Commit(p.key, c); err != nil {
		return fmt.Errorf("%w: write state: %w", ErrFatal, err)
	}
	p.apply(c)
	return nil
}

// apply makes the in-memory records what Commit made of the stored ones (in the
// same order: deletes, puts, meta, ended and begun intents), without reading the
// whole folder back after every write.
func (p *pass) apply(c state.Change) {
	n := len(p.folder.Files)
	for _, path := range c.Delete {
		delete(p.folder.Files, path)
	}
	for _, r := range c.Put {
		p.folder.Files[r.Path] = r
	}
	if len(c.Delete) > 0 || len(p.folder.Files) != n {
		p.folder.Paths = nil // the keys changed
	}
	if c.Meta != nil {
		p.folder.Meta = *c.Meta
	}
	if len(c.EndIntents) > 0 {
		ended := map[uint64]bool{}
		for _, id := range c.EndIntents {
			ended[id] = true
		}
		open := p.folder.Intents[:0]
		for _, in := range p.folder.Intents {
			if !ended[in.ID] {
				open = append(open, in)
			}
		}
		p.folder.Intents = open
	}
	for _, in := range c.Begin {
		p.folder.Intents = append(p.folder.Intents, *in)
	}
}

// finish records a completed pass.
func (p *pass) finish() error {
	if p.folder == nil {
		return nil
	}
	m := p.meta()
	p.listedAt = time.Time{}
	m.LastPass = p.e.now()
	m.LastError = ""
	if len(p.res.Failed) > 0 {
		m.LastError = fmt.Sprintf("%d file(s) failed, e.g. %s: %s", len(p.res.Failed), p.res.Failed[0].Path, p.res.Failed[0].Reason)
	}
	return p.commit(state.Change{Meta: &m})
}

// meta returns the folder's meta with this round's listing and device applied.
func (p *pass) meta() state.Meta {
	m := p.folder.Meta
	if !p.listedAt.IsZero() {
		m.Listed = true
		m.LastVerify = p.listedAt
	}
	if p.snap != nil && m.Device == 0 {
		m.Device = p.snap.Device
	}
	return m
}

// fail records a file that could not be synced in this call.
func (p *pass) fail(path, reason string) { p.addFailure(Failure{Path: path, Reason: reason}) }

// failRefused records a file the server refused.
func (p *pass) failRefused(path, reason string) {
	p.addFailure(Failure{Path: path, Reason: reason, Refused: true})
}

// failUnreadable makes each file or directory the scan could not read a failure
// of the pass, as a refused file is: what is in Focus may not be what is on disk.
// A file over max_file_size is left out on purpose, and only skipped.
func (p *pass) failUnreadable() {
	for _, fe := range p.snap.Errors {
		if errors.Is(fe.Err, watcher.ErrFileTooLarge) {
			continue
		}
		reason := p.snap.Held[fe.Path]
		if reason == "" {
			reason = "unreadable: " + fe.Err.Error()
		}
		p.addFailure(Failure{Path: fe.Path, Reason: reason})
	}
}

func (p *pass) addFailure(f Failure) {
	path, reason := f.Path, f.Reason
	if p.failed == nil {
		p.failed = map[string]string{}
	}
	if _, dup := p.failed[path]; dup {
		return
	}
	p.failed[path] = reason
	p.res.Failed = append(p.res.Failed, f)
	level := slog.LevelWarn
	if p.opt.QuietFailures {
		level = slog.LevelDebug
	}
	p.log.Log(context.Background(), level, "file not synced", "file", path, "reason", reason)
}

// reportLeft reports the ops of a plan that could not be completed.
func (p *pass) reportLeft(plan *Plan) {
	for _, in := range append(append([]state.Intent(nil), plan.Recovery.Resend...), plan.Recovery.Replace...) {
		p.fail(in.Name, fmt.Sprintf("old version (attachment %d) not deleted yet; will retry", in.AttachmentID))
	}
	for _, b := range plan.Uploads {
		for _, f := range b.Files {
			p.fail(f.Path, "upload did not complete; will retry")
		}
	}
	if plan.Held == "" {
		for _, d := range plan.Deletes {
			p.fail(d.Path, "delete did not complete; will retry")
		}
	}
	for _, u := range plan.Updates {
		p.fail(u.Path, "update did not complete; will retry")
	}
}
