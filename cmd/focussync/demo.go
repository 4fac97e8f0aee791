package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/focussync/focussync/daemon"
	"github.com/focussync/focussync/focus/focustest"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/syncer"
)

func init() {
	register(&command{name: "demo", summary: "run the daemon against a local emulator of Focus, with a demo folder", run: runDemo})
}

// demoFiles are the sample files of a new demo folder.
var demoFiles = map[string]string{
	"01 Brief.txt":          "Project brief: mirror this folder into a Focus task.\n",
	"02 Budget.csv":         "item,amount\ndesign,1200\nprint,300\n",
	"03 Meeting notes.md":   "# Kick-off\n- files dropped here appear in Focus\n- renames are renamed, deletes deleted\n",
	"04 Contract draft.txt": strings.Repeat("Clause. ", 400) + "\n",
	"05 Logo.svg":           `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><circle cx="20" cy="20" r="18" fill="#e57cd8"/></svg>` + "\n",
}

const (
	demoOrg  = 1
	demoWS   = 1
	demoTask = 1
)

func runDemo(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "demo", "demo [--dir DIR] [--listen ADDR] [--once]\n\n"+
		"Starts an emulator of the Focus API on loopback, makes a demo folder with a few\n"+
		"files, and runs the daemon on it: drop, rename or delete files in the folder and\n"+
		"watch the attachments change on the emulator's page. No account is needed.\n"+
		"The emulator starts empty at every run, and so does the demo's state db: a second\n"+
		"run with the same --dir uploads the folder's files again.")
	dir := fs.String("dir", "", "demo `directory` (default: a new one under the system temp dir)")
	listen := fs.String("listen", "127.0.0.1:8765", "emulator `address` (a free port is used if it is taken)")
	once := fs.Bool("once", false, "sync once, print the result and exit")
	verbose := fs.Bool("v", false, "debug logging")
	if err := parseFlags(fs, args); err != nil {
		return err
	}

	srv := focustest.NewUnstartedServer(focustest.Options{Quota: 240, Window: time.Hour})
	if ln, err := net.Listen("tcp", *listen); err == nil {
		srv.Listener.Close()
		srv.Listener = ln
	}
	srv.Start()
	defer srv.Close()

	if *dir == "" {
		d, err := os.MkdirTemp("", "focussync-demo-")
		if err != nil {
			return err
		}
		*dir = d
	}
	cfgPath, folder, err := makeDemo(*dir, srv.URL)
	if err != nil {
		return err
	}
	// The emulator starts empty at every run: so does the demo's state db, or it
	// would remember uploads the new emulator never saw.
	if err := resetDemoState(filepath.Join(*dir, "state.db")); err != nil {
		return err
	}
	// The emulator takes any token; the demo's own config names a token file, and
	// the environment's token must not leak to it.
	os.Unsetenv("FOCUS_API_TOKEN")
	rt, err := openRuntime(a, cfgPath, *verbose)
	if err != nil {
		return err
	}
	defer rt.Close()

	fmt.Fprintf(a.stdout, "focussync demo\n  folder:   %s\n  config:   %s\n  emulator: %s (API at %s)\n\n", folder, cfgPath, srv.PageURL, srv.URL)
	if *once {
		res, err := rt.engine.Sync(ctx, rt.cfg.Folders[0], syncer.PassOptions{WaitSettle: true})
		if err != nil {
			return err
		}
		printResult(a.stdout, res, rt.client.Quota(demoOrg).State())
		fmt.Fprintln(a.stdout)
		printAttachments(a.stdout, srv)
		if !res.Converged() {
			return exitError{code: 1}
		}
		return nil
	}

	d := daemon.New(rt.engine, daemon.Options{Log: rt.log, Version: "demo"})
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, rt.cfg.Folders) }()
	controlled := startControl(ctx, rt, d) // focussync sync, pause, resume --config <the demo's>
	// Show the first pass, then hand over to the user.
	select {
	case <-d.Ready():
	case <-ctx.Done():
	}
	fmt.Fprintln(a.stdout)
	printAttachments(a.stdout, srv)
	fmt.Fprintf(a.stdout, "\nThe daemon is running. Try it:\n"+
		"  - drop or copy files into %s\n"+
		"  - rename or delete a file there\n"+
		"  - open %s to see the task's attachments change\n"+
		"  - focussync sync --dry-run --config %s shows the daemon's next plan\n"+
		"Press Ctrl-C to stop.\n\n", folder, srv.PageURL, cfgPath)
	err = <-done
	<-controlled
	return err
}

// resetDemoState deletes the demo's state db, unless another demo uses it.
func resetDemoState(path string) error {
	st, err := state.Open(path, state.Options{Timeout: 100 * time.Millisecond})
	if errors.Is(err, state.ErrLocked) {
		return fmt.Errorf("%s is in use by another focussync demo: stop it, or pick another --dir", path)
	}
	if err == nil {
		st.Close()
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reset the demo's state db: %w", err)
	}
	return nil
}

// makeDemo writes the demo folder (unless it exists), its config and token file.
func makeDemo(dir, apiURL string) (cfgPath, folder string, err error) {
	folder = filepath.Join(dir, "Client project")
	if _, err := os.Stat(folder); os.IsNotExist(err) {
		if err := os.MkdirAll(folder, 0o755); err != nil {
			return "", "", err
		}
		for name, content := range demoFiles {
			if err := os.WriteFile(filepath.Join(folder, name), []byte(content), 0o644); err != nil {
				return "", "", err
			}
		}
	}
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("toggl_sk_demo\n"), 0o600); err != nil {
		return "", "", err
	}
	cfgPath = filepath.Join(dir, "config.toml")
	cfg := fmt.Sprintf(`# focussync demo configuration: a real config, pointed at the local emulator.
[api]
base_url = %q
organization_id = %d
workspace_id = %d
token_file = %q

[state]
path = %q

[status]
listen = ""

[defaults]
settle = "1s"
rescan = "1m"

[[folder]]
path = %q
task_id = %d
`, apiURL, demoOrg, demoWS, tokenFile, filepath.Join(dir, "state.db"), folder, demoTask)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return "", "", err
	}
	return cfgPath, folder, nil
}

// printAttachments prints the demo task's attachments in display order.
func printAttachments(w io.Writer, srv *focustest.Server) {
	items := srv.Attachments(demoTask)
	fmt.Fprintf(w, "Task %d in the emulator now holds %d attachment(s):\n", demoTask, len(items))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ORDER\tNAME\tSIZE\tID")
	for _, it := range items {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%d\n", it.DisplayOrder, it.Name, humanBytes(it.Size), it.ID)
	}
	tw.Flush()
}
