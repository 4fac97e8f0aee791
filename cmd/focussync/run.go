package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/focussync/focussync/cluster"
	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/daemon"
)

func init() {
	register(&command{name: "run", summary: "run the daemon in the foreground (SIGHUP reloads, SIGTERM stops)", run: runRun})
}

// tokenCheck is how often the token file is looked at for a new key.
const tokenCheck = 5 * time.Second

func runRun(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "run", "run [--config FILE] [--log-file FILE] [-v]\n\n"+
		"Runs the daemon in the foreground: watches every folder and keeps its task in\n"+
		"sync. SIGINT or SIGTERM stop it cleanly; SIGHUP reloads the config and the token.\n"+
		"Logs go to stderr: coloured text on a terminal, JSON lines otherwise; or to\n"+
		"--log-file, which focussync rotates itself.")
	cfgPath := configFlag(fs)
	verbose := fs.Bool("v", false, "debug logging")
	logFile := fs.String("log-file", "", "write the log to this `FILE` (JSON lines) instead of stderr; past 10 MiB it moves to FILE.1 (FILE.1 to FILE.2, ...), keeping 5 old files")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *logFile != "" {
		f, err := openLogFile(*logFile, logMaxSize, logKeep)
		if err != nil {
			return err
		}
		defer f.Close()
		a = &app{stdout: a.stdout, stderr: f}
	}
	// Under the Windows service manager the daemon runs through it, with no console:
	// its log goes to a file. Elsewhere (systemd, launchd, a terminal) the process
	// handles its own signals and logs to stderr.
	handled, err := runUnderServiceManager(func(ctx context.Context) error {
		f, err := openServiceLog()
		if err != nil {
			return err
		}
		defer f.Close()
		return runDaemon(ctx, &app{stdout: f, stderr: f}, *cfgPath, *verbose)
	})
	if handled {
		return err
	}
	return runDaemon(ctx, a, *cfgPath, *verbose)
}

// openServiceLog opens the log file of a Windows service: focussync.log beside the
// default state db (%ProgramData%\focussync), rotated by size (logMaxSize,
// logKeep old files).
func openServiceLog() (*rotatingFile, error) {
	return openLogFile(filepath.Join(filepath.Dir(config.DefaultStatePath()), "focussync.log"), logMaxSize, logKeep)
}

// runDaemon runs the daemon until ctx ends.
func runDaemon(ctx context.Context, a *app, cfgPath string, verbose bool) error {
	// From the start, a SIGHUP is a reload, never the end of the process (its
	// default): one that comes before the reload loop runs waits for it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	rt, err := openRuntime(a, cfgPath, verbose)
	if err != nil {
		return err
	}
	defer rt.Close()
	v, _, _ := buildInfo()
	coord, err := newCoordinator(rt.cfg.Cluster, rt.store, rt.log)
	if err != nil {
		return err
	}
	shareQuota(rt.engine, coord, rt.cfg.Cluster, rt.log)
	var d *daemon.Daemon
	gate := cluster.NewGate(coord, rt.store, func(path string) { _ = d.SyncNow(path) }, rt.log)
	d = daemon.New(rt.engine, daemon.Options{Log: rt.log, Version: v, Gate: gate})
	rt.log.Info("focussync starting", "version", v, "config", rt.cfg.Path, "state", rt.cfg.State.Path, "folders", len(rt.cfg.Folders))

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	ping := make(chan chan struct{})
	alive := []livenessCheck{loopPing("reload loop", ping)}
	if err := startStatus(ctx, rt, d, alive); err != nil {
		return err
	}
	notify := newNotifier(rt.log)
	// Start before the reload loop, which then owns rt.cfg; it ends before the
	// workers are waited for and the store is closed.
	d.Start(ctx, rt.cfg.Folders)
	// The control socket (focussync sync, pause, resume) stops with ctx; its
	// commands end before the store is closed.
	controlled := startControl(ctx, rt, d)
	reloaded := make(chan struct{})
	go func() {
		defer close(reloaded)
		watchReload(ctx, rt, d, gate, hup, ping, notify, verbose)
	}()
	notified := make(chan struct{})
	go func() {
		defer close(notified)
		notify.run(ctx, d.Status, d.Ready(), alive)
	}()
	<-ctx.Done()
	notify.Stopping()
	<-notified
	<-reloaded
	<-controlled
	d.Wait()
	// Only now that no worker writes: a standby elsewhere takes over at once.
	rctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	if err := gate.Close(rctx); err != nil {
		rt.log.Warn("cannot release the task leases; standbys take over after lease_ttl", "err", err)
	}
	cancel()
	rt.log.Info("focussync stopped")
	return nil
}

// watchReload reloads the config and token on SIGHUP, and the token when its file
// changes. An invalid new config is refused and the running one kept. It answers
// the liveness pings of ping.
func watchReload(ctx context.Context, rt *daemonEnv, d *daemon.Daemon, gate *cluster.Gate, hup <-chan os.Signal, ping <-chan chan struct{}, notify *notifier, verbose bool) {
	tick := time.NewTicker(tokenCheck)
	defer tick.Stop()
	token, _, _ := rt.cfg.Token()
	for {
		select {
		case <-ctx.Done():
			return
		case reply := <-ping:
			answerPing(reply)
		case <-hup:
			notify.Reloading()
			cfg, err := config.LoadWith(rt.cfg.Path, config.Options{AllowMissingFolders: true})
			if err != nil {
				rt.log.Error("config reload refused; the running config stays in force", "config", rt.cfg.Path, "err", err)
				notify.Reloaded(d.Status())
				continue
			}
			if cfg.State.Path != rt.cfg.State.Path {
				rt.log.Warn("[state] path changed: it takes effect at the next restart", "running", rt.cfg.State.Path, "new", cfg.State.Path)
				cfg.State = rt.cfg.State
			}
			if cfg.API.BaseURL != rt.cfg.API.BaseURL {
				rt.log.Warn("[api] base_url changed: it takes effect at the next restart")
				cfg.API.BaseURL = rt.cfg.API.BaseURL
			}
			old := rt.cfg.Cluster
			rt.cfg = cfg
			setLevel(rt.level, cfg.Log.Level, verbose)
			rt.log.Info("config reloaded", "folders", len(cfg.Folders))
			token = reloadToken(rt, d, token, true)
			changed := reloadCluster(rt, gate, old, cfg.Cluster)
			d.Apply(cfg.Folders)
			gate.Keep(ctx, cfg.Folders)
			if changed {
				d.Kick() // every folder joins the new coordinator's lease
			}
			notify.Reloaded(d.Status())
		case <-tick.C:
			if rt.cfg.API.TokenFile != "" && os.Getenv("FOCUS_API_TOKEN") == "" {
				token = reloadToken(rt, d, token, false)
			}
		}
	}
}

// reloadToken reads the token again and hands a changed one to the client; a pause
// caused by a refused token ends.
func reloadToken(rt *daemonEnv, d *daemon.Daemon, old string, loud bool) string {
	tok, warns, err := rt.cfg.Token()
	if err != nil {
		if loud {
			rt.log.Error("cannot read the API token; keeping the old one", "err", err)
		}
		return old
	}
	if loud {
		for _, w := range warns {
			rt.warnOnce(w)
		}
	}
	if tok == old {
		if loud {
			d.Resume()
		}
		return old
	}
	rt.client.SetToken(tok)
	rt.log.Info("API token reloaded")
	d.Resume()
	return tok
}
