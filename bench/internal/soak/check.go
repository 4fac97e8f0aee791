package soak

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/focussync/focussync/bench/internal/benchenv"
	"github.com/focussync/focussync/daemon"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
)

// quiet is how long the converged daemon is watched for stray writes.
const quiet = 10 * time.Second

// diffs compares both tasks with their folders, leaving out the refused files
// and the hand-made attachments.
func (r *run) diffs() (a, b benchenv.Diff, files int, err error) {
	ignore := map[int64]bool{}
	for _, h := range r.hand {
		ignore[h.ID] = true
	}
	wantA, err := benchenv.Expect(filepath.Join(r.opt.Dir, "a"), true, map[string]bool{"blocked.refused": true})
	if err != nil {
		return a, b, 0, err
	}
	wantB, err := benchenv.Expect(filepath.Join(r.opt.Dir, "b"), false, map[string]bool{"doc.refused": true})
	if err != nil {
		return a, b, 0, err
	}
	a = benchenv.Compare(wantA, r.env.Srv.Attachments(taskA), ignore)
	b = benchenv.Compare(wantB, r.env.Srv.Attachments(taskB), ignore)
	return a, b, len(wantA) + len(wantB), nil
}

// refusedReported reports whether the status names every refused file as a failure.
func refusedReported(st daemon.Status) bool {
	found := 0
	for _, f := range st.Folders {
		for _, fl := range f.Failures {
			if strings.HasSuffix(fl.Path, ".refused") {
				found++
			}
		}
	}
	return found == len(refused)
}

func allIdle(st daemon.Status) bool {
	if len(st.Folders) != 2 {
		return false
	}
	for _, f := range st.Folders {
		if f.State != "idle" {
			return false
		}
	}
	return true
}

// converge turns the faults off and waits until both tasks mirror their folders
// and the daemon reports the refused files; then it checks a quiet period, a
// clean stop, a one-shot sync and the hand-made attachments.
func (r *run) converge(ctx context.Context) error {
	e := r.env
	e.Srv.SetFaults(focustest.Faults{})
	e.Srv.SetLatency(0)
	r.fig.ChaosRequests = len(e.Srv.Requests())
	if r.d2 != nil {
		// The second host stops cleanly, handing over what it held; the first
		// converges alone.
		if code, err := r.d2.Stop(30 * time.Second); err != nil || code != 0 {
			r.fig.Failures = append(r.fig.Failures, fmt.Sprintf("second host: SIGTERM: exit %d, %v", code, err))
		}
	}
	if r.d.Exited() {
		if err := r.startDaemon(ctx); err != nil {
			return err
		}
	}
	start := time.Now()
	deadline := start.Add(r.opt.Converge)
	var da, db benchenv.Diff
	var st daemon.Status
	var stErr error
	for {
		var err error
		da, db, _, err = r.diffs()
		if err != nil {
			return err
		}
		st, stErr = r.d.Status(ctx)
		if da.Empty() && db.Empty() && stErr == nil && refusedReported(st) && allIdle(st) {
			r.fig.Converged = true
			r.fig.ConvergeTime = time.Since(start)
			break
		}
		if r.d.Exited() {
			r.fig.UnexpectedExits++
			r.fig.Failures = append(r.fig.Failures, "the daemon exited on its own while converging: "+lastLines(r.d.Log(), 5))
			if err := r.startDaemon(ctx); err != nil {
				return err
			}
		}
		if err := r.probe(ctx, time.Since(start)); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			r.fig.Failures = append(r.fig.Failures, fmt.Sprintf("not converged %s after the faults stopped: folder a: %v; folder b: %v; status err %v, refused reported %v, idle %v",
				r.opt.Converge, da, db, stErr, refusedReported(st), allIdle(st)))
			r.logs = append(r.logs, lastLines(r.d.Log(), 40))
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	r.logf("converged=%v in %s; quiet period of %s", r.fig.Converged, r.fig.ConvergeTime.Round(time.Second), quiet)

	mark := e.Mark()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(quiet):
	}
	for ep, n := range e.Since(mark) {
		if ep.Write() {
			r.fig.QuietWrites += n
		}
	}
	if r.fig.QuietWrites > 0 {
		r.fig.Failures = append(r.fig.Failures, fmt.Sprintf("%d write requests during the quiet period after convergence", r.fig.QuietWrites))
	}

	code, err := r.d.Stop(30 * time.Second)
	r.fig.StopExit = code
	if err != nil || code != 0 {
		r.fig.Failures = append(r.fig.Failures, fmt.Sprintf("SIGTERM: exit %d, %v", code, err))
	}

	mark = e.Mark()
	res, err := e.Run(ctx, false, "sync")
	if err != nil {
		return err
	}
	r.fig.SyncExit = res.Code
	for ep, n := range e.Since(mark) {
		if ep.Write() {
			r.fig.SyncWrites += n
		}
	}
	r.fig.SyncNamesRefused = strings.Contains(res.Stdout, "blocked.refused") && strings.Contains(res.Stdout, "doc.refused")
	if res.Code != 1 || !r.fig.SyncNamesRefused {
		r.fig.Failures = append(r.fig.Failures, fmt.Sprintf("focussync sync after the soak: want exit 1 naming both refused files, got %v", res))
	}
	if r.fig.SyncWrites > 0 {
		r.fig.Failures = append(r.fig.Failures, fmt.Sprintf("focussync sync after convergence sent %d writes", r.fig.SyncWrites))
	}
	r.fig.RefusedReported = refusedReported(st)

	da, db, files, err := r.diffs()
	if err != nil {
		return err
	}
	r.fig.Files = files
	r.fig.Attachments = len(e.Srv.Attachments(taskA)) + len(e.Srv.Attachments(taskB)) - len(r.hand)
	for _, d := range []benchenv.Diff{da, db} {
		r.fig.Duplicates += len(d.Duplicates)
		r.fig.Missing += len(d.Missing)
		r.fig.Wrong += len(d.Wrong)
		r.fig.Extra += len(d.Extra)
	}
	if !da.Empty() || !db.Empty() {
		r.fig.Failures = append(r.fig.Failures, fmt.Sprintf("final state: folder a: %v; folder b: %v", da, db))
	}
	r.checkHandmade()
	return nil
}

// checkHandmade counts the hand-made attachments that changed, vanished or were
// addressed by a write.
func (r *run) checkHandmade() {
	r.fig.Unmanaged = len(r.hand)
	touched := map[int64]string{}
	for _, h := range r.hand {
		now := r.storedByID(h.TaskID, h.ID)
		switch {
		case now.ID == 0:
			touched[h.ID] = "gone"
		case now.Deleted():
			touched[h.ID] = "deleted"
		case now.Name != h.Name || now.Size != h.Size || now.SHA256 != h.SHA256 || now.DisplayOrder != h.DisplayOrder || !now.UpdatedAt.Equal(h.UpdatedAt):
			touched[h.ID] = fmt.Sprintf("changed: %+v -> %+v", h.Attachment, now.Attachment)
		}
	}
	for _, rq := range r.env.Srv.Requests() {
		if !rq.Endpoint.Write() {
			continue
		}
		for _, h := range r.hand {
			if strings.HasSuffix(rq.Path, "/"+strconv.FormatInt(h.ID, 10)) {
				if _, ok := touched[h.ID]; !ok {
					touched[h.ID] = fmt.Sprintf("addressed by %s %s (status %d)", rq.Method, rq.Path, rq.Status)
				}
			}
		}
	}
	r.fig.UnmanagedTouched = len(touched)
	for id, why := range touched {
		r.fig.Failures = append(r.fig.Failures, fmt.Sprintf("hand-made attachment %d %s", id, why))
	}
}

// tally counts the operations, faults and requests.
func (r *run) tally() {
	r.fig.Ops = r.wl.opsCopy()
	r.wl.mu.Lock()
	for _, err := range r.wl.errs {
		r.fig.WorkloadErrors = append(r.fig.WorkloadErrors, err.Error())
	}
	r.wl.mu.Unlock()
	for _, rq := range r.env.Srv.Requests() {
		r.fig.Requests[rq.Endpoint]++
		if rq.Fault != "" {
			r.fig.Faults[rq.Fault]++
		}
	}
	r.fig.DaemonLogs = r.logs
}

// Figures are what a soak did and found.
type Figures struct {
	Seed     int64
	Duration time.Duration
	Harsh    bool
	TwoHosts bool // two daemons on the same folders, sharing the task leases

	Ops             map[string]int         // workload operations by kind
	Faults          map[string]int         // emulator faults by kind (fail, ratelimit, drop, quota, canceled)
	Requests        map[focus.Endpoint]int // every request by endpoint
	ChaosRequests   int                    // requests before the faults stopped
	Kills           int                    // SIGKILLs (each followed by a restart)
	Reloads         int                    // SIGHUPs with a changed config
	UnexpectedExits int
	Hangs           int // times the daemon stopped answering and was dumped and restarted
	MinQuotaLeft    int // the lowest quota remaining seen by the probes

	Converged    bool
	ConvergeTime time.Duration // from faults off to converged
	QuietWrites  int           // writes in the quiet period after convergence
	StopExit     int           // exit code after SIGTERM
	SyncExit     int           // exit code of the final `focussync sync`
	SyncWrites   int
	// SyncNamesRefused: the final sync named both refused files;
	// RefusedReported: the daemon's /status listed them as failures.
	SyncNamesRefused, RefusedReported bool

	Files, Attachments          int // files in the folders, managed attachments at the end
	Duplicates, Missing, Wrong  int
	Extra                       int
	Unmanaged, UnmanagedTouched int
	// SecretInBodies counts request bodies that held a piece of the secret file
	// outside the folders (symlinked and FIFO-swapped by the hostile actor);
	// SecretStored, attachments (deleted ones included) that held it whole.
	SecretInBodies, SecretStored int
	// UploadsCut counts uploads the daemons cut short because a file was not
	// the one scanned (a swap that came between scan and upload).
	UploadsCut     int
	Failures       []string // failed checks
	WorkloadErrors []string // the workload's own errors (not checks)
	DaemonLogs     []string // tails of killed or failing daemons' logs
}

// OK reports whether every check passed.
func (f *Figures) OK() bool { return len(f.Failures) == 0 }

func sortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

func breakdown[K ~string](m map[K]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	total := 0
	for _, k := range sortedKeys(m) {
		name := string(k)
		if name == "" {
			name = "(no endpoint)"
		}
		parts = append(parts, fmt.Sprintf("%s %d", name, m[k]))
		total += m[k]
	}
	return fmt.Sprintf("%d: %s", total, strings.Join(parts, ", "))
}

// Markdown renders the figures as a markdown fragment.
func (f *Figures) Markdown() string {
	var b strings.Builder
	verdict := "PASS"
	if !f.OK() {
		verdict = "FAIL"
	}
	harsh := ""
	if f.Harsh {
		harsh = ", harsh"
	}
	if f.TwoHosts {
		harsh += ", two hosts on one share (lease_ttl " + twoHostTTL + ")"
	}
	fmt.Fprintf(&b, "| soak (seed %d, %s of faults%s) | %s |\n| --- | --- |\n", f.Seed, f.Duration, harsh, verdict)
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	row("operations applied", breakdown(f.Ops))
	row("faults injected", breakdown(f.Faults))
	if f.TwoHosts {
		row("SIGKILLs of the lease holder (each followed by a restart)", strconv.Itoa(f.Kills))
	} else {
		row("daemon restarts (SIGKILL at random moments)", strconv.Itoa(f.Kills))
	}
	row("config reloads (SIGHUP, settle changed)", strconv.Itoa(f.Reloads))
	row("unexpected daemon exits", strconv.Itoa(f.UnexpectedExits))
	row("daemon hangs (/status silent for 15 s; goroutines dumped, restarted)", strconv.Itoa(f.Hangs))
	row("requests by endpoint", breakdown(f.Requests))
	row("requests while faults were on", strconv.Itoa(f.ChaosRequests))
	row(fmt.Sprintf("quota: lowest remaining seen (of %d per %s)", quota, quotaWindow), strconv.Itoa(f.MinQuotaLeft))
	row("converged after faults off", fmt.Sprintf("%v, in %s", f.Converged, f.ConvergeTime.Round(time.Second)))
	row("files at the end / managed attachments", fmt.Sprintf("%d / %d", f.Files, f.Attachments))
	row("duplicates", strconv.Itoa(f.Duplicates))
	row("losses (file without attachment / wrong content)", fmt.Sprintf("%d (%d / %d)", f.Missing+f.Wrong, f.Missing, f.Wrong))
	row("attachments without a file", strconv.Itoa(f.Extra))
	row("unmanaged attachments touched", fmt.Sprintf("%d of %d", f.UnmanagedTouched, f.Unmanaged))
	row("refused files reported (/status; `sync` exit code)", fmt.Sprintf("%v; exit %d naming them: %v", f.RefusedReported, f.SyncExit, f.SyncNamesRefused))
	row("writes in the quiet period / by a final `sync`", fmt.Sprintf("%d / %d", f.QuietWrites, f.SyncWrites))
	row("exit code after SIGTERM", strconv.Itoa(f.StopExit))
	row("hostile swaps (symlink to a secret outside / FIFO); uploads cut short by one", fmt.Sprintf("%d / %d; %d", f.Ops["swapped-symlink"], f.Ops["swapped-fifo"], f.UploadsCut))
	row("secret sent: request bodies with a piece of it / attachments holding it", fmt.Sprintf("%d / %d", f.SecretInBodies, f.SecretStored))
	for _, fl := range f.Failures {
		row("**check failed**", strings.ReplaceAll(fl, "|", "\\|"))
	}
	return b.String()
}
