package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/focussync/focussync/config"
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
// one a line, and the exit code is 1.
func runCheck(_ context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "check", "check [--config FILE]\n\n"+
		"Validates the config file (keys, values, folders, state directory) and the API token,\n"+
		"then prints a summary. Exits 1 naming each problem's line and key.")
	cfgPath := configFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return exitError{1, fmt.Errorf("%s is not valid:\n%w", *cfgPath, err)}
	}
	_, warnings, tokErr := cfg.Token()
	for _, w := range warnings {
		fmt.Fprintf(a.stderr, "warning: %s\n", w)
	}
	printSummary(a.stdout, cfg, tokErr == nil)
	if tokErr != nil {
		return exitError{1, tokErr}
	}
	if err := checkStateDB(a.stderr, cfg); err != nil {
		return exitError{1, err}
	}
	return nil
}

// printSummary describes a valid configuration.
func printSummary(w io.Writer, c *config.Config, haveToken bool) {
	fmt.Fprintf(w, "%s: valid\n", c.Path)
	fmt.Fprintf(w, "  api:    %s\n", c.API.BaseURL)
	token := "missing"
	switch {
	case !haveToken:
	case os.Getenv(config.TokenEnv) != "":
		token = "found in $" + config.TokenEnv
	default:
		token = "found in " + c.API.TokenFile
	}
	fmt.Fprintf(w, "  token:  %s\n", token)
	fmt.Fprintf(w, "  state:  %s\n", c.State.Path)
	fmt.Fprintf(w, "  log:    level %s, format %s\n", c.Log.Level, c.Log.Format)
	status := "off"
	if c.Status.Listen != "" {
		status = "http://" + c.Status.Listen + "/status"
	}
	fmt.Fprintf(w, "  status: %s\n", status)
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
