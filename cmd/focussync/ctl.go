package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/control"
	"github.com/focussync/focussync/daemon"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/syncer"
)

// The control channel: `focussync sync`, `pause` and `resume` reach a running
// daemon through its control socket (package control) instead of opening the
// state db, which the daemon holds. When no daemon runs they act on the state db
// themselves.

func init() {
	register(&command{name: "pause", summary: "pause folders: nothing is sent for them until 'focussync resume'", run: runPause})
	register(&command{name: "resume", summary: "resume paused folders and sync them now", run: runResume})
}

// Control operations.
const (
	opSync   = "sync"
	opPause  = "pause"
	opResume = "resume"
	opStatus = "status"
)

// ctlArgs are the arguments of every control operation.
type ctlArgs struct {
	// Folders are the folders' paths, as in the daemon's config; none means every
	// folder (sync only).
	Folders []string `json:"folders,omitempty"`
	Reason  string   `json:"reason,omitempty"` // pause
	daemon.PassRequest
}

// ctlSyncReply is the daemon's answer to opSync.
type ctlSyncReply struct {
	Results []*syncer.Result     `json:"results"`
	Errors  []string             `json:"errors,omitempty"`
	Quota   []daemon.QuotaStatus `json:"quota,omitempty"`
}

// ctlPauseReply names the folders (with their tasks) a pause or resume acted on.
type ctlPauseReply struct {
	Folders []string `json:"folders"`
}

// ctlTimeout bounds the wait for the daemon to answer a pause or resume; a sync
// waits for its passes, as long as they take.
const ctlTimeout = 30 * time.Second

// startControl opens the daemon's control socket beside its state db and serves
// it until ctx ends; the returned channel is closed once the server has stopped
// and its commands have returned. A socket that cannot be opened is logged, and
// the daemon runs without one.
func startControl(ctx context.Context, rt *daemonEnv, d *daemon.Daemon) <-chan struct{} {
	done := make(chan struct{})
	ep := control.Endpoint(rt.cfg.State.Path)
	ln, err := control.Listen(ep)
	if err != nil {
		rt.log.Error("no control socket: 'focussync sync', 'pause' and 'resume' cannot reach this daemon", "err", err)
		close(done)
		return done
	}
	rt.log.Info("control socket listening", "path", ep)
	go func() {
		defer close(done)
		if err := control.Serve(ctx, ln, controlHandler(d), rt.log); err != nil {
			rt.log.Error("control socket stopped", "err", err)
		}
	}()
	return done
}

// controlHandler answers the control operations with d.
func controlHandler(d *daemon.Daemon) control.Handler {
	return func(ctx context.Context, op string, raw json.RawMessage) (any, error) {
		var args ctlArgs
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &args); err != nil {
				return nil, fmt.Errorf("%s: bad arguments: %w", op, err)
			}
		}
		switch op {
		case opStatus:
			return d.Status(), nil
		case opSync:
			paths := args.Folders
			if len(paths) == 0 {
				paths = []string{""} // every folder
			}
			var rep ctlSyncReply
			for _, p := range paths {
				res, err := d.RunPass(ctx, p, args.PassRequest)
				rep.Results = append(rep.Results, res...)
				if err != nil {
					if ctx.Err() != nil {
						return nil, err
					}
					rep.Errors = append(rep.Errors, err.Error())
				}
			}
			rep.Quota = d.Status().Quota
			return rep, nil
		case opPause, opResume:
			if len(args.Folders) == 0 {
				return nil, errors.New(op + ": no folder named")
			}
			var rep ctlPauseReply
			for _, p := range args.Folders {
				var err error
				if op == opPause {
					err = d.PauseFolder(p, args.Reason)
				} else {
					err = d.ResumeFolder(p)
				}
				if err != nil {
					return nil, err
				}
				rep.Folders = append(rep.Folders, p)
			}
			return rep, nil
		}
		return nil, fmt.Errorf("unknown control operation %q: use the focussync binary the daemon runs", op)
	}
}

// splitArgs separates a command's flags (with their values) from its positional
// arguments, which may come before, between or after them.
func splitArgs(fs *flag.FlagSet, args []string) (flags, positional []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return flags, append(positional, args[i+1:]...)
		case len(a) > 1 && a[0] == '-':
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			f := fs.Lookup(name)
			if f == nil {
				continue // parseFlags reports it
			}
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !(ok && b.IsBoolFlag()) && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		default:
			positional = append(positional, a)
		}
	}
	return flags, positional
}

// resolveFolders turns folder arguments (absolute, or relative to the working
// directory) into the paths of configured folders; a path that is not one is a
// usage error that lists them.
func resolveFolders(cfg *config.Config, args []string) ([]string, error) {
	known := map[string]bool{}
	for _, f := range cfg.Folders {
		known[filepath.Clean(f.Path)] = true
	}
	var out []string
	for _, a := range args {
		p, err := filepath.Abs(a)
		if err != nil {
			return nil, fmt.Errorf("folder %s: %w", a, err)
		}
		if !known[p] {
			var names []string
			for _, f := range cfg.Folders {
				names = append(names, f.Path)
			}
			return nil, usageError{fmt.Sprintf("%s is not a folder of %s (its folders: %s)", p, cfg.Path, strings.Join(names, ", "))}
		}
		out = append(out, p)
	}
	return out, nil
}

// callDaemon sends op to the daemon that uses cfg's state db. It returns
// ran=false and no error when no daemon listens, so that the caller acts on the
// state db itself.
func callDaemon(ctx context.Context, cfg *config.Config, op string, args ctlArgs, reply any) (ran bool, err error) {
	err = control.Call(ctx, control.Endpoint(cfg.State.Path), op, args, reply)
	switch {
	case errors.Is(err, control.ErrNotRunning):
		return false, nil
	case err != nil:
		var re *control.RemoteError
		if errors.As(err, &re) {
			return true, fmt.Errorf("the running daemon: %s", re.Msg)
		}
		return true, err
	}
	return true, nil
}

// openStore opens cfg's state db for a command that changes it while no daemon
// runs; a db held by a daemon that did not answer on its socket is explained.
func openStore(cfg *config.Config) (*state.Store, error) {
	st, err := state.Open(cfg.State.Path, state.Options{Timeout: time.Second})
	if errors.Is(err, state.ErrLocked) {
		return nil, fmt.Errorf("the state db %s is in use, but no daemon answers on %s (a focussync older than this one, or a 'sync' under way): "+
			"wait for it or stop it: %w", cfg.State.Path, control.Endpoint(cfg.State.Path), err)
	}
	return st, err
}

// whoPaused describes the person pausing a folder, for the status.
func whoPaused() string {
	name := "uid " + fmt.Sprint(os.Getuid())
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return "paused by " + name + " with 'focussync pause'"
}

func runPause(ctx context.Context, a *app, args []string) error {
	return pauseOrResume(ctx, a, args, true)
}

func runResume(ctx context.Context, a *app, args []string) error {
	return pauseOrResume(ctx, a, args, false)
}

// pauseOrResume runs `focussync pause` or `focussync resume`.
func pauseOrResume(ctx context.Context, a *app, args []string, pause bool) error {
	name, usage := "resume", "resume [--config FILE] FOLDER...\n\n"+
		"Resumes folders paused with 'focussync pause': the running daemon syncs them now.\n"+
		"When no daemon runs, the pause is removed from the state db."
	if pause {
		name, usage = "pause", "pause [--config FILE] [--reason TEXT] FOLDER...\n\n"+
			"Pauses folders (their paths as in the config): the running daemon finishes the\n"+
			"pass under way, then sends nothing for them, and 'focussync status' shows them\n"+
			"paused, until 'focussync resume'. The pause is kept in the state db: it outlives\n"+
			"a restart of the daemon, and 'focussync sync' skips a paused folder. Works\n"+
			"through the daemon's control socket while it runs, on the state db otherwise."
	}
	fs := newFlagSet(a, name, usage)
	cfgPath := configFlag(fs)
	reason := new(string)
	if pause {
		reason = fs.String("reason", "", "why, shown by 'focussync status' (default: who paused it)")
	}
	flags, folders := splitArgs(fs, args)
	if err := parseFlags(fs, flags); err != nil {
		return err
	}
	if len(folders) == 0 {
		return usageError{"name the folders to " + name}
	}
	cfg, err := config.LoadWith(*cfgPath, config.Options{AllowMissingFolders: true, ReadOnlyState: true})
	if err != nil {
		return err
	}
	paths, err := resolveFolders(cfg, folders)
	if err != nil {
		return err
	}
	why := *reason
	if pause && why == "" {
		why = whoPaused()
	}
	op := opResume
	if pause {
		op = opPause
	}
	cctx, cancel := context.WithTimeout(ctx, ctlTimeout)
	defer cancel()
	var rep ctlPauseReply
	ran, err := callDaemon(cctx, cfg, op, ctlArgs{Folders: paths, Reason: why}, &rep)
	if err != nil {
		return err
	}
	if ran {
		for _, p := range paths {
			if pause {
				fmt.Fprintf(a.stdout, "%s: paused (%s); the daemon sends nothing for it until 'focussync resume %s'\n", p, why, p)
			} else {
				fmt.Fprintf(a.stdout, "%s: resumed; the daemon syncs it now\n", p)
			}
		}
		return nil
	}
	st, err := openStore(cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, p := range paths {
		for _, f := range cfg.Folders {
			if filepath.Clean(f.Path) != p {
				continue
			}
			var pz *state.Pause
			if pause {
				pz = &state.Pause{Reason: why, Since: time.Now()}
			}
			if err := st.SetPause(syncer.FolderKey(f), pz); err != nil {
				return err
			}
		}
		if pause {
			fmt.Fprintf(a.stdout, "%s: paused (%s) in the state db; no daemon is running: it will not sync the folder, nor will 'focussync sync', until 'focussync resume %s'\n", p, why, p)
		} else {
			fmt.Fprintf(a.stdout, "%s: resumed in the state db; no daemon is running: the next 'focussync run' or 'focussync sync' syncs it\n", p)
		}
	}
	return nil
}

// syncThroughDaemon asks the running daemon to run the passes of `focussync
// sync` and prints their results as a sync of its own would. ran is false when no
// daemon runs.
func syncThroughDaemon(ctx context.Context, a *app, cfg *config.Config, folders []string, rq daemon.PassRequest) (ran bool, err error) {
	var rep ctlSyncReply
	ran, err = callDaemon(ctx, cfg, opSync, ctlArgs{Folders: folders, PassRequest: rq}, &rep)
	if !ran || err != nil {
		if errors.Is(err, context.Canceled) {
			return ran, exitError{code: 1, err: errors.New("interrupted (the daemon finishes the pass)")}
		}
		return ran, err
	}
	what := "ran the pass"
	if rq.DryRun {
		what = "made the plan"
	}
	fmt.Fprintf(a.stderr, "focussync sync: the running daemon %s (control socket %s)\n", what, control.Endpoint(cfg.State.Path))
	ok := len(rep.Errors) == 0
	for _, res := range rep.Results {
		if rq.DryRun {
			printPlan(a.stdout, res)
			continue
		}
		printResult(a.stdout, res, quotaFor(cfg, rep.Quota, res))
		if !res.Converged() {
			ok = false
		}
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(a.stdout, "FAILED: %s\n", e)
	}
	if !ok {
		return true, exitError{code: 1}
	}
	return true, nil
}

// quotaFor returns the daemon's quota view of the organization that res's folder
// belongs to in cfg (unknown when the config does not say).
func quotaFor(cfg *config.Config, qs []daemon.QuotaStatus, res *syncer.Result) focus.QuotaState {
	for _, f := range cfg.Folders {
		if filepath.Clean(f.Path) != filepath.Clean(res.Folder) || f.TaskID != res.Task {
			continue
		}
		for _, q := range qs {
			if q.Organization == f.OrganizationID {
				return focus.QuotaState{Known: q.Known, Remaining: q.Remaining, ResetAt: q.ResetAt}
			}
		}
	}
	return focus.QuotaState{}
}
