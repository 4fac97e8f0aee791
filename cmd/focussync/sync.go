package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/daemon"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/syncer"
)

func init() {
	register(&command{name: "sync", summary: "sync every folder once and exit (non-zero when anything failed)", run: runSync})
}

func runSync(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "sync", "sync [--config FILE] [--dry-run] [--allow-mass-delete] [--relist] [-v] [FOLDER...]\n\n"+
		"Syncs every folder once (or the FOLDERs named, their paths as in the config):\n"+
		"uploads new files, renames, reorders and deletes, then prints a summary. Exits 0\n"+
		"when every folder converged, 1 when anything could not be synced (each file is\n"+
		"named with the reason). --dry-run prints the plan and its request cost and sends no\n"+
		"write. A folder paused with 'focussync pause' is not synced.\n\n"+
		"While the daemon runs, it runs these passes itself, through its control socket\n"+
		"beside the state db (only root and the daemon's user may use it): 'sync' is a\n"+
		"sync now, '--dry-run' the daemon's plan, '--allow-mass-delete' confirms the held\n"+
		"deletes, and no second process opens the state db.")
	cfgPath := configFlag(fs)
	dry := fs.Bool("dry-run", false, "print the plan and its request cost; send no write")
	allowMass := fs.Bool("allow-mass-delete", false, "confirm deletes held back by max_delete or an emptied folder")
	relist := fs.Bool("relist", false, "list each task first and adopt attachments that match local files by name and size (1 request per folder)")
	verbose := fs.Bool("v", false, "debug logging")
	flags, folderArgs := splitArgs(fs, args)
	if err := parseFlags(fs, flags); err != nil {
		return err
	}
	cfg, err := config.LoadWith(*cfgPath, config.Options{AllowMissingFolders: true, ReadOnlyState: true})
	if err != nil {
		return err
	}
	only, err := resolveFolders(cfg, folderArgs)
	if err != nil {
		return err
	}
	rq := daemon.PassRequest{DryRun: *dry, AllowMassDelete: *allowMass, Relist: *relist}
	if ran, err := syncThroughDaemon(ctx, a, cfg, only, rq); ran {
		return err
	}
	// The log and the progress bar share the terminal through one writer.
	con := newConsole(a.stderr)
	rt, err := openRuntime(&app{stdout: a.stdout, stderr: con}, *cfgPath, *verbose)
	if err != nil {
		return err
	}
	defer rt.Close()
	// Hosts coordinated through etcd share one quota budget, a one-shot pass too.
	unshare, err := shareQuotaOnce(ctx, rt.engine, rt.cfg.Cluster, rt.log)
	if err != nil {
		return err
	}
	defer unshare()

	bar := newProgressBar(con)
	opt := syncer.PassOptions{DryRun: *dry, AllowMassDelete: *allowMass, ListFirst: *relist, Progress: bar.update, WaitSettle: !*dry}
	folders := rt.cfg.Folders
	if len(only) > 0 {
		folders = nil
		for _, f := range rt.cfg.Folders {
			if slices.Contains(only, filepath.Clean(f.Path)) {
				folders = append(folders, f)
			}
		}
	}
	results := make([]*syncer.Result, len(folders))
	errs := make([]error, len(folders))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, f := range folders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if p, err := rt.store.Paused(syncer.FolderKey(f)); err != nil || p != nil {
				// A person paused the folder: it waits for 'focussync resume'.
				results[i], errs[i] = &syncer.Result{Folder: f.Path, Task: f.TaskID}, err
				if p != nil {
					results[i].Paused = p.Reason + " (since " + p.Since.Format(time.DateTime) + "; 'focussync resume " + f.Path + "' ends it)"
				}
				if !*dry || err != nil {
					return
				}
			}
			paused := results[i]
			results[i], errs[i] = rt.engine.Sync(ctx, f, opt)
			if paused != nil && results[i] != nil && results[i].Paused == "" {
				results[i].Paused = paused.Paused
			}
			if res := results[i]; res != nil && !*dry {
				log := rt.log.With("folder", f.Path, "task", f.TaskID)
				for _, sk := range res.Skipped {
					if !sk.Settling() {
						syncer.LogSkipped(log, sk)
					}
				}
			}
		}()
	}
	wg.Wait()
	bar.done()

	ok := true
	for i, f := range folders {
		res, err := results[i], errs[i]
		if err != nil {
			ok = false
			fmt.Fprintf(a.stdout, "%s -> task %d\n  FAILED: %v\n", f.Path, f.TaskID, err)
			if errors.Is(err, context.Canceled) {
				return exitError{code: 1, err: errors.New("interrupted")}
			}
			continue
		}
		if *dry {
			printPlan(a.stdout, res)
		} else {
			printResult(a.stdout, res, rt.client.Quota(f.Task().OrganizationID).State())
		}
		if !*dry && !res.Converged() {
			ok = false
		}
	}
	if !ok {
		return exitError{code: 1}
	}
	return nil
}

// printResult prints what one folder's sync did.
func printResult(w io.Writer, r *syncer.Result, q focus.QuotaState) {
	if r == nil {
		return
	}
	fmt.Fprintf(w, "%s -> task %d\n", r.Folder, r.Task)
	if r.Paused != "" {
		fmt.Fprintf(w, "  PAUSED: %s\n", r.Paused)
		return
	}
	fmt.Fprintf(w, "  uploaded %d (%s), renamed %d, reordered %d, deleted %d, replaced %d, adopted %d, skipped %d, failed %d\n",
		r.Uploaded, humanBytes(r.UploadedBytes), r.Renamed, r.Reordered, r.Deleted, r.Replaced, r.Adopted, len(r.Skipped), len(r.Failed))
	quota := "unknown"
	if q.Known {
		quota = fmt.Sprintf("%d", q.Remaining)
	}
	fmt.Fprintf(w, "  requests %d (%s), quota left %s\n", r.RequestsSent(), requestBreakdown(r.Requests), quota)
	if r.Held != "" {
		fmt.Fprintf(w, "  HELD: %s\n", r.Held)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "  skipped %s: %s\n", quoteName(s.Path), s.Reason)
	}
	for _, f := range r.Failed {
		fmt.Fprintf(w, "  FAILED %s: %s\n", quoteName(f.Path), f.Reason)
	}
}

// printPlan prints a dry run's plan with its request cost.
func printPlan(w io.Writer, r *syncer.Result) {
	if r == nil {
		return
	}
	fmt.Fprintf(w, "%s -> task %d\n", r.Folder, r.Task)
	if r.Paused != "" {
		fmt.Fprintf(w, "  PAUSED: %s\n", r.Paused)
		if r.Plan == nil {
			return
		}
		fmt.Fprintf(w, "  the plan once it is resumed:\n")
	}
	p := r.Plan
	if r.Listed {
		fmt.Fprintf(w, "  list    the task first (1 read request)\n")
	}
	if p == nil || p.Empty() {
		fmt.Fprintf(w, "  nothing to do\n")
	} else {
		rc := p.Recovery
		for _, a := range rc.Adopt {
			fmt.Fprintf(w, "  adopt   %s (attachment %d: an interrupted upload that reached Focus, no request)\n", quoteName(a.Path), a.AttachmentID)
		}
		for _, in := range append(append([]state.Intent(nil), rc.Resend...), rc.Replace...) {
			fmt.Fprintf(w, "  delete  old version of %s (attachment %d, left over by an interrupted pass)\n", quoteName(in.Name), in.AttachmentID)
		}
		for _, a := range p.Adopt {
			fmt.Fprintf(w, "  adopt   %s (attachment %d, no request)\n", quoteName(a.Path), a.AttachmentID)
		}
		for i, b := range p.Uploads {
			fmt.Fprintf(w, "  upload  batch %d: %d file(s), %s\n", i+1, len(b.Files), humanBytes(b.Bytes()))
			for _, f := range b.Files {
				note := ""
				if f.Replaces != 0 {
					note = fmt.Sprintf(" (new version; then delete attachment %d)", f.Replaces)
				}
				fmt.Fprintf(w, "          %s, order %d%s\n", quoteName(f.Path), f.DisplayOrder, note)
			}
		}
		for _, d := range p.Deletes {
			fmt.Fprintf(w, "  delete  %s (attachment %d)\n", quoteName(d.Path), d.AttachmentID)
		}
		for _, u := range p.Updates {
			if u.Rename() {
				fmt.Fprintf(w, "  rename  %s -> %s (attachment %d, order %d)\n", quoteName(u.OldPath), quoteName(u.Path), u.AttachmentID, u.DisplayOrder)
			} else {
				fmt.Fprintf(w, "  reorder %s (attachment %d) -> order %d\n", quoteName(u.Path), u.AttachmentID, u.DisplayOrder)
			}
		}
	}
	if p != nil {
		for _, d := range p.Deferred {
			fmt.Fprintf(w, "  later   delete %s (attachment %d): waits for a file of the same size that is still settling\n", quoteName(d.Path), d.AttachmentID)
		}
		if p.Held != "" {
			fmt.Fprintf(w, "  HELD: %s\n", p.Held)
		}
		for _, s := range p.Skipped {
			fmt.Fprintf(w, "  skip    %s: %s\n", quoteName(s.Path), s.Reason)
		}
		reads := ""
		if r.Listed {
			reads = " (+1 list to read the task, first)"
		}
		fmt.Fprintf(w, "  cost: %d write request(s)%s; dry run, nothing sent\n", p.Cost(), reads)
	}
}

func requestBreakdown(m map[focus.Endpoint]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for ep, n := range m {
		parts = append(parts, fmt.Sprintf("%s %d", ep, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// quoteName prints a path as it is, quoted only when it holds bytes that are not
// printable UTF-8.
func quoteName(p string) string {
	q := fmt.Sprintf("%q", p)
	if q[1:len(q)-1] == p {
		return p
	}
	return q
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	s := strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + " " + string("KMGTPE"[exp]) + "iB"
}
