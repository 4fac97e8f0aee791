package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/daemon"
	"github.com/focussync/focussync/focus"
)

func init() {
	register(&command{
		name:    "check",
		summary: "validate a config file and show what it sets up",
		run:     runCheck,
	})
}

// runCheck loads and validates a config file and the API token. Valid: it
// prints a summary and returns nil. Invalid: every problem is in the error,
// one a line, and the exit code is 1. With --online it also asks Focus, with one
// request per organization, whether the token and ids are right.
func runCheck(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "check", "check [--config FILE] [--online]\n\n"+
		"Validates the config file (keys, values, folders, state directory) and that an API\n"+
		"token is there, then prints a summary. Exits 1 naming each problem's line and key.\n"+
		"Without --online it does not contact Focus: the token and the organization,\n"+
		"workspace and task ids are not tested. --online tests them by listing one task per\n"+
		"organization: one request per organization, taken from its hourly quota (30 on the\n"+
		"free plan); it exits 1 when Focus refuses the token or does not know the ids. With\n"+
		"coordinator = \"etcd\", --online also connects to etcd and reads the task leases.")
	cfgPath := configFlag(fs)
	online := fs.Bool("online", false, "test the token and ids with Focus (one request per organization), and the connection to etcd")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return exitError{1, fmt.Errorf("%s is not valid:\n%w", *cfgPath, err)}
	}
	printCheckWarnings(a.stderr, cfg)
	token, warnings, tokErr := cfg.Token()
	for _, w := range warnings {
		fmt.Fprintf(a.stderr, "warning: %s\n", w)
	}
	printSummary(a.stdout, cfg, tokErr == nil, *online)
	if tokErr != nil {
		return exitError{1, tokErr}
	}
	if err := checkStateDB(a.stderr, cfg); err != nil {
		return exitError{1, err}
	}
	if !*online {
		fmt.Fprintf(a.stdout, "Focus was not contacted: the token and the ids are not tested. "+
			"'focussync check --online' tests them (one request per organization).\n")
		return nil
	}
	if err := checkOnline(ctx, a.stdout, cfg, token); err != nil {
		return err
	}
	return checkEtcd(ctx, a.stdout, cfg.Cluster)
}

// onlineTimeout bounds each request of check --online.
const onlineTimeout = 30 * time.Second

// checkOnline lists the first folder's task of each organization: one request
// that proves the token, the organization and the workspace, and that task. Other
// tasks of the organization are named as not tested.
func checkOnline(ctx context.Context, w io.Writer, cfg *config.Config, token string) error {
	client, err := focus.New(focus.Options{BaseURL: cfg.API.BaseURL, Token: token, UserAgent: userAgent()})
	if err != nil {
		return exitError{1, fmt.Errorf("api.base_url: %w", err)}
	}
	defer client.CloseIdleConnections()
	var orgs []int64
	tasks := map[int64][]focus.Task{}
	for _, f := range cfg.Folders {
		t := f.Task()
		if _, ok := tasks[t.OrganizationID]; !ok {
			orgs = append(orgs, t.OrganizationID)
		}
		if !slices.Contains(tasks[t.OrganizationID], t) {
			tasks[t.OrganizationID] = append(tasks[t.OrganizationID], t)
		}
	}
	noun := "requests"
	if len(orgs) == 1 {
		noun = "request"
	}
	fmt.Fprintf(w, "Online check against %s (%d %s, one per organization):\n", cfg.API.BaseURL, len(orgs), noun)
	failed := 0
	now := time.Now()
	for _, org := range orgs {
		t := tasks[org][0]
		rctx, cancel := context.WithTimeout(ctx, onlineTimeout)
		items, err := client.ListLive(rctx, t)
		cancel()
		if ctx.Err() != nil {
			return exitError{1, errors.New("interrupted")}
		}
		if err != nil {
			failed++
			fmt.Fprintf(w, "  organization %d: FAILED: %s\n", org, onlineProblem(t, err))
			continue
		}
		q := client.Quota(org).State()
		fmt.Fprintf(w, "  organization %d: token accepted; workspace %d, task %d found (%d attachments); quota %s\n",
			org, t.WorkspaceID, t.TaskID, len(items), quotaLine(daemon.QuotaStatus{Known: q.Known, Remaining: q.Remaining, ResetAt: q.ResetAt}, now))
		if rest := tasks[org][1:]; len(rest) > 0 {
			ids := make([]string, len(rest))
			for i, r := range rest {
				ids[i] = fmt.Sprintf("%d (workspace %d)", r.TaskID, r.WorkspaceID)
			}
			fmt.Fprintf(w, "    not tested: task %s\n", strings.Join(ids, ", "))
		}
	}
	if failed > 0 {
		return exitError{1, fmt.Errorf("Focus refused %d of %d organizations' checks", failed, len(orgs))}
	}
	return nil
}

// onlineProblem says what a failed check request means for the config.
func onlineProblem(t focus.Task, err error) string {
	switch focus.KindOf(err) {
	case focus.KindAuth:
		return fmt.Sprintf("the API token was refused (%v); put a valid key in FOCUS_API_TOKEN or [api] token_file", err)
	case focus.KindForbidden:
		return fmt.Sprintf("the token's user may not see task %d in workspace %d (%v)", t.TaskID, t.WorkspaceID, err)
	case focus.KindNotFound:
		return fmt.Sprintf("organization %d, workspace %d or task %d does not exist for this token (%v); check organization_id, workspace_id and task_id",
			t.OrganizationID, t.WorkspaceID, t.TaskID, err)
	case focus.KindQuota:
		return fmt.Sprintf("the hourly quota is used up (%v); try again after it resets", err)
	default:
		return err.Error()
	}
}

// printSummary describes a valid configuration. The token is only said to be
// found: the online check, when asked for, tests it after the summary.
func printSummary(w io.Writer, c *config.Config, haveToken, online bool) {
	fmt.Fprintf(w, "%s: valid\n", c.Path)
	fmt.Fprintf(w, "  api:    %s\n", c.API.BaseURL)
	token := "missing"
	if haveToken {
		token = "found in " + c.TokenSource() + " (not tested)"
		if online {
			token = "found in " + c.TokenSource() + " (tested below)"
		}
	}
	fmt.Fprintf(w, "  token:  %s\n", token)
	fmt.Fprintf(w, "  state:  %s\n", c.State.Path)
	fmt.Fprintf(w, "  log:    level %s, format %s\n", c.Log.Level, c.Log.Format)
	status := "off"
	if c.Status.Listen != "" {
		status = "http://" + c.Status.Listen + "/status"
	}
	fmt.Fprintf(w, "  status: %s\n", status)
	fmt.Fprintf(w, "  cluster: %s\n", clusterSummary(c.Cluster))
	noun := "folders"
	if len(c.Folders) == 1 {
		noun = "folder"
	}
	fmt.Fprintf(w, "  %d %s:\n", len(c.Folders), noun)
	for _, f := range c.Folders {
		fmt.Fprintf(w, "    %s -> task %d (organization %d, workspace %d)\n", f.Path, f.TaskID, f.OrganizationID, f.WorkspaceID)
		fmt.Fprintf(w, "      recursive %t, settle %s, rescan %s, verify %s, watch %s, order %s\n",
			f.Recursive, shortDuration(f.Settle), shortDuration(f.Rescan), shortDuration(f.Verify), f.Watch, f.Order)
		fmt.Fprintf(w, "      delete_remote %t, max_delete %s, max_file_size %s\n", f.DeleteRemote, f.MaxDelete, config.FormatSize(f.MaxFileSize))
		var extra []string
		if len(f.Include) > 0 {
			extra = append(extra, "include "+strings.Join(f.Include, " "))
		}
		if len(f.Exclude) > 0 {
			extra = append(extra, "exclude "+strings.Join(f.Exclude, " "))
		}
		if f.Marker != "" {
			extra = append(extra, "marker "+f.Marker)
		}
		if len(extra) > 0 {
			fmt.Fprintf(w, "      %s\n", strings.Join(extra, "; "))
		}
	}
}

// shortDuration prints d without trailing zero units: "10m", "24h", "1h30m".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
