package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/control"
	"github.com/focussync/focussync/daemon"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/syncer"
)

// statusTimeout bounds the request to the daemon and the wait for the state db lock.
const statusTimeout = 2 * time.Second

func init() {
	register(&command{name: "status", summary: "show what the daemon is doing, or what the state db holds", run: runStatus})
}

// statusReport is what `focussync status` shows, and --json prints: the same
// fields whether the running daemon answered or the state db was read.
type statusReport struct {
	Running bool                 `json:"running"`
	Source  string               `json:"source"`  // the status URL, or the state db's path
	Version string               `json:"version"` // the daemon's; "" when it does not run
	Started *time.Time           `json:"started"` // null when the daemon does not run
	Paused  string               `json:"paused"`  // why all work is paused (a refused API token)
	Note    string               `json:"note"`
	Folders []folderStatus       `json:"folders"`
	Quota   []daemon.QuotaStatus `json:"quota"` // known only to the running daemon
}

// folderStatus is one configured folder in a statusReport.
type folderStatus struct {
	Path  string `json:"path"`
	Task  int64  `json:"task_id"`
	State string `json:"state"` // starting | idle | syncing | paused | error; "stopped" when no daemon runs
	Watch string `json:"watch"` // events | poll; "" when no daemon runs
	Files int    `json:"files"` // files with a managed attachment
	// Pending is the number of write requests the last pass left to send;
	// null when no daemon runs.
	Pending *int `json:"pending"`
	// UnconfirmedWrites are writes sent (or about to be) whose outcome is not
	// known yet; the next pass lists the task and settles them.
	UnconfirmedWrites int              `json:"unconfirmed_writes"`
	Refused           int              `json:"refused"` // files the server refused
	HeldDeletes       int              `json:"held_deletes"`
	Held              string           `json:"held"`
	Paused            string           `json:"paused"`
	LastPass          *time.Time       `json:"last_pass"` // null: never
	LastError         string           `json:"last_error"`
	Failures          []syncer.Failure `json:"failures"`
	Skipped           []syncer.Skip    `json:"skipped"`
	// Lease is the task's lease ([cluster]): role, holder, age, takeovers; absent
	// without a coordinator or when no daemon runs.
	Lease *daemon.LeaseStatus `json:"lease,omitempty"`
}

// daemonReport turns the daemon's status, fetched from u, into a statusReport.
func daemonReport(u string, st *daemon.Status) statusReport {
	rep := statusReport{Running: true, Source: u, Version: st.Version, Paused: st.Paused,
		Folders: []folderStatus{}, Quota: st.Quota}
	if !st.Started.IsZero() {
		rep.Started = &st.Started
	}
	if rep.Quota == nil {
		rep.Quota = []daemon.QuotaStatus{}
	}
	for _, f := range st.Folders {
		row := folderStatus{
			Path: f.Path, Task: f.Task, State: f.State, Watch: f.Watch, Files: f.Files,
			UnconfirmedWrites: f.Unconfirmed, Refused: f.Refused, HeldDeletes: f.HeldDeletes,
			Held: f.Held, Paused: f.Paused, LastError: f.LastError,
			Failures: f.Failures, Skipped: f.Skipped, Lease: f.Lease,
		}
		pending := f.Pending
		row.Pending = &pending
		if !f.LastPass.IsZero() {
			lp := f.LastPass
			row.LastPass = &lp
		}
		rep.Folders = append(rep.Folders, row.withLists())
	}
	return rep
}

// withLists makes nil lists empty, so that JSON shows [] rather than null.
func (f folderStatus) withLists() folderStatus {
	if f.Failures == nil {
		f.Failures = []syncer.Failure{}
	}
	if f.Skipped == nil {
		f.Skipped = []syncer.Skip{}
	}
	return f
}

func runStatus(ctx context.Context, a *app, args []string) error {
	flags := newFlagSet(a, "status", "status [--config FILE] [--json]\n\n"+
		"Asks the running daemon for its status ([status] listen, else its control socket)\n"+
		"and prints one row per folder, the files that failed and the API quota. When the\n"+
		"daemon does not answer, prints what the state db records instead. Exits 1 when no\n"+
		"status could be read.")
	cfgPath := configFlag(flags)
	asJSON := flags.Bool("json", false, "print JSON instead of a table")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	// A folder whose directory is gone (an unmounted share) is when its status
	// matters most: accept it, with a warning.
	cfg, err := config.LoadWith(*cfgPath, config.Options{AllowMissingFolders: true, ReadOnlyState: true})
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(a.stderr, "warning: %s\n", w)
	}
	now := time.Now()

	var daemonErr error
	if cfg.Status.Listen != "" {
		u := statusURL(cfg.Status.Listen)
		st, err := fetchStatus(ctx, u)
		if err == nil {
			rep := daemonReport(u, st)
			if *asJSON {
				return printJSON(a.stdout, rep)
			}
			printStatus(a.stdout, rep, now)
			return nil
		}
		daemonErr = err
	}

	rep, err := readStateStatus(cfg)
	if errors.Is(err, state.ErrLocked) {
		// The daemon holds the db: its control socket answers too, when its status
		// server is off or elsewhere.
		cctx, cancel := context.WithTimeout(ctx, statusTimeout)
		defer cancel()
		var st daemon.Status
		if ran, cerr := callDaemon(cctx, cfg, opStatus, ctlArgs{}, &st); ran && cerr == nil {
			rep := daemonReport(control.Endpoint(cfg.State.Path), &st)
			if *asJSON {
				return printJSON(a.stdout, rep)
			}
			printStatus(a.stdout, rep, now)
			return nil
		}
		return lockedError(cfg, daemonErr)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.stdout, rep)
	}
	printStatus(a.stdout, rep, now)
	return nil
}

// statusURL is the URL of the daemon's /status for a listen address; an address
// that listens on every interface is asked on loopback.
func statusURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen + "/status"
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/status"
}

// fetchStatus asks the daemon for its status at u, the URL of its /status.
func fetchStatus(ctx context.Context, u string) (*daemon.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", u, err)
	}
	// The daemon is local: no proxy from the environment, and no keep-alive.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // it repeats the URL
		}
		return nil, fmt.Errorf("get %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get %s: %s", u, resp.Status)
	}
	var st daemon.Status
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&st); err != nil {
		return nil, fmt.Errorf("get %s: not a focussync status: %w", u, err)
	}
	return &st, nil
}

// readStateStatus reads each configured folder's counts from the state db,
// opened read-only. A missing db means nothing was synced yet.
func readStateStatus(cfg *config.Config) (statusReport, error) {
	rep := statusReport{Source: cfg.State.Path, Folders: []folderStatus{}, Quota: []daemon.QuotaStatus{}}
	st, err := state.Open(cfg.State.Path, state.Options{ReadOnly: true, Timeout: statusTimeout})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		rep.Note = "the state db does not exist yet: nothing was synced"
	case err != nil:
		return rep, err
	default:
		defer st.Close()
	}
	for _, f := range cfg.Folders {
		k := syncer.FolderKey(f)
		row := folderStatus{Path: k.Path, Task: k.TaskID, State: "stopped"}
		if st != nil {
			s, err := st.Stats(k)
			if err != nil {
				return rep, err
			}
			row.Files, row.Refused, row.UnconfirmedWrites = s.Managed, s.Refused, s.OpenIntents
			row.LastError = s.Meta.LastError
			if lp := s.Meta.LastPass; !lp.IsZero() {
				row.LastPass = &lp
			}
			p, err := st.Paused(k)
			if err != nil {
				return rep, err
			}
			if p != nil {
				row.State = "paused"
				row.Paused = p.Reason + " (since " + p.Since.Format(time.DateTime) + "; 'focussync resume " + k.Path + "' ends it)"
			}
		}
		rep.Folders = append(rep.Folders, row.withLists())
	}
	return rep, nil
}

// lockedError explains a state db held by another process: the daemon is most
// likely running, but its status server could not be asked.
func lockedError(cfg *config.Config, daemonErr error) error {
	var why string
	if cfg.Status.Listen == "" {
		why = fmt.Sprintf("its status server is off: set [status] listen = %q in %s and restart the daemon",
			config.DefaultListen, cfg.Path)
	} else {
		why = fmt.Sprintf("its status server did not answer (%v): check that [status] listen in %s "+
			"is the address the daemon was started with (a change takes effect at its restart)", daemonErr, cfg.Path)
	}
	return exitError{1, fmt.Errorf("the daemon seems to be running (the state db %s is locked), but %s", cfg.State.Path, why)}
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode status: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// printStatus prints a report as tables: folders, notes, failures, quota. The
// columns are the same whether the daemon runs or not; what only a running
// daemon knows is "-" otherwise.
func printStatus(w io.Writer, rep statusReport, now time.Time) {
	if rep.Running {
		up := "?"
		if rep.Started != nil {
			up = roughDuration(now.Sub(*rep.Started))
		}
		fmt.Fprintf(w, "focussync %s, running for %s (%s)\n", rep.Version, up, rep.Source)
	} else {
		fmt.Fprintf(w, "daemon not running (read from the state db %s)\n", rep.Source)
	}
	if rep.Note != "" {
		fmt.Fprintf(w, "%s\n", rep.Note)
	}
	if rep.Paused != "" {
		fmt.Fprintf(w, "ALL WORK PAUSED: %s\n", rep.Paused)
	}

	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FOLDER\tTASK\tSTATE\tWATCH\tFILES\tPENDING\tUNCONFIRMED\tFAILURES\tLAST PASS")
	unconfirmed := 0
	for _, f := range rep.Folders {
		pending := "-"
		if f.Pending != nil {
			pending = strconv.Itoa(*f.Pending)
		}
		failures := len(f.Failures)
		if !rep.Running {
			failures = f.Refused // the failures the state db remembers
		}
		var last time.Time
		if f.LastPass != nil {
			last = *f.LastPass
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%s\t%d\t%d\t%s\n", printable(f.Path), f.Task, folderState(f), dash(f.Watch),
			f.Files, pending, f.UnconfirmedWrites, failures, ago(last, now))
		unconfirmed += f.UnconfirmedWrites
	}
	_ = tw.Flush()
	if len(rep.Folders) == 0 {
		fmt.Fprintln(w, "(no folders)")
	}

	var notes []string
	for _, f := range rep.Folders {
		if f.Paused != "" {
			notes = append(notes, fmt.Sprintf("%s: paused: %s", printable(f.Path), f.Paused))
		}
		if f.Held != "" {
			notes = append(notes, fmt.Sprintf("%s: deletes held: %s", printable(f.Path), f.Held))
		}
		if f.LastError != "" {
			notes = append(notes, fmt.Sprintf("%s: last error: %s", printable(f.Path), f.LastError))
		}
		if n := leaseNote(f.Lease); n != "" {
			notes = append(notes, fmt.Sprintf("%s: %s", printable(f.Path), n))
		}
	}
	if !rep.Running {
		for _, f := range rep.Folders {
			if f.Refused > 0 {
				notes = append(notes, fmt.Sprintf("%s: %d file(s) refused by the server; retried when they change", printable(f.Path), f.Refused))
			}
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\nNotes:")
		for _, n := range notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}

	var failures []string
	for _, f := range rep.Folders {
		for _, fl := range f.Failures {
			s := fmt.Sprintf("%s: %s", printable(joinPath(f.Path, fl.Path)), fl.Reason)
			if fl.Refused {
				s += " (refused by the server; retried when the file changes)"
			}
			failures = append(failures, s)
		}
	}
	if len(failures) > 0 {
		fmt.Fprintln(w, "\nFailures:")
		for _, s := range failures {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}

	var skipped []string
	for _, f := range rep.Folders {
		for _, sk := range f.Skipped {
			if !sk.Settling() {
				skipped = append(skipped, fmt.Sprintf("%s: %s", printable(joinPath(f.Path, sk.Path)), sk.Reason))
			}
		}
	}
	if len(skipped) > 0 {
		fmt.Fprintln(w, "\nSkipped (not uploaded until they change):")
		for _, s := range skipped {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}

	if len(rep.Quota) > 0 {
		fmt.Fprintln(w, "\nQuota:")
		for _, q := range rep.Quota {
			fmt.Fprintf(w, "  organization %d: %s\n", q.Organization, quotaLine(q, now))
		}
	}
	if unconfirmed > 0 {
		fmt.Fprintln(w, "\nUnconfirmed writes were sent to Focus (or were about to be) without an answer yet;")
		fmt.Fprintln(w, "the next pass lists the task and settles them, so that nothing is sent twice.")
	}
}

// quotaLine describes one organization's quota: "23 left, resets in 41m".
func quotaLine(q daemon.QuotaStatus, now time.Time) string {
	if !q.Known {
		return "not known yet (no request sent)"
	}
	s := strconv.Itoa(q.Remaining) + " left"
	switch {
	case q.ResetAt.IsZero():
	case !q.ResetAt.After(now):
		s += ", resets now"
	default:
		s += ", resets in " + roughDuration(q.ResetAt.Sub(now))
	}
	return s
}

// ago is a past time relative to now: "3m ago", "never" for the zero time.
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < time.Second {
		return "just now"
	}
	return roughDuration(d) + " ago"
}

// roughDuration is d in at most two units: "45s", "41m", "2h5m", "3d4h".
func roughDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(max(d, 0)/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 24*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return strconv.Itoa(h) + "h"
		}
		return strconv.Itoa(h) + "h" + strconv.Itoa(m) + "m"
	default:
		days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
		if h == 0 {
			return strconv.Itoa(days) + "d"
		}
		return strconv.Itoa(days) + "d" + strconv.Itoa(h) + "h"
	}
}

// printable quotes a path or name holding control characters or invalid UTF-8,
// so that it cannot break the table or the terminal.
func printable(s string) string {
	for _, r := range s {
		if r == unicode.ReplacementChar || unicode.IsControl(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// joinPath joins a folder and a file path relative to it, with the folder's separator.
func joinPath(folder, rel string) string {
	if rel == "" {
		return folder
	}
	if strings.HasSuffix(folder, "/") || strings.HasSuffix(folder, `\`) {
		return folder + rel
	}
	return filepath.Join(folder, filepath.FromSlash(rel))
}

// folderState is a folder's STATE cell: held deletes wait for a person, so they
// show instead of "idle", with the command that confirms them.
func folderState(f folderStatus) string {
	if f.HeldDeletes > 0 && (f.State == "idle" || f.State == "") {
		noun := "deletes"
		if f.HeldDeletes == 1 {
			noun = "delete"
		}
		return fmt.Sprintf("held: %d %s (confirm with focussync sync --allow-mass-delete FOLDER)", f.HeldDeletes, noun)
	}
	return f.State
}
