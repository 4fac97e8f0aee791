package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/lmittmann/tint"
	"golang.org/x/term"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/internal/fsinfo"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/syncer"
	"github.com/focussync/focussync/watcher"
)

// daemonEnv is what every command that talks to Focus needs: the config, a client
// with the token, the state store and a logger.
type daemonEnv struct {
	cfg    *config.Config
	client *focus.Client
	store  *state.Store
	log    *slog.Logger
	level  *slog.LevelVar
	engine *syncer.Engine
	// activity keeps the recent log events for the status page.
	activity *activityLog
	// warned holds the token warnings already logged: each is logged once
	// per process, not again at every reload.
	warned map[string]bool
}

// warnOnce logs a warning unless it was logged before.
func (r *daemonEnv) warnOnce(msg string) {
	if !r.warned[msg] {
		r.warned[msg] = true
		r.log.Warn(msg)
	}
}

// openRuntime loads the config and token, opens the state store and builds the
// engine. The caller closes it.
func openRuntime(a *app, cfgPath string, verbose bool) (*daemonEnv, error) {
	cfg, err := config.LoadWith(cfgPath, config.Options{AllowMissingFolders: true})
	if err != nil {
		return nil, err
	}
	level := new(slog.LevelVar)
	activity := newActivityLog(activitySize)
	log := withActivity(newLogger(a.stderr, cfg.Log, level, verbose), activity)
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	tok, warns, err := cfg.Token()
	if err != nil {
		return nil, err
	}
	warned := map[string]bool{}
	for _, w := range warns {
		warned[w] = true
		log.Warn(w)
	}
	client, err := focus.New(focus.Options{BaseURL: cfg.API.BaseURL, Token: tok, UserAgent: userAgent()})
	if err != nil {
		return nil, fmt.Errorf("api.base_url: %w", err)
	}
	if network, fs := fsinfo.OnNetworkFS(cfg.State.Path); network {
		log.Warn("the state db is on a network filesystem ("+fs+"); keep it on a local disk", "path", cfg.State.Path)
	}
	st, err := state.Open(cfg.State.Path, state.Options{Timeout: time.Second, MoveAsideDamaged: true})
	if err != nil {
		return nil, err
	}
	logRecovery(log, st)
	watcher.SetOwnFiles(cfg.State.Path)
	eng := syncer.NewEngine(client, st, log)
	eng.Metrics = &syncer.Metrics{}
	if v := os.Getenv("FOCUSSYNC_RETRY_INITIAL"); v != "" {
		// The first pause after a server error (default 1s); it doubles from there.
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			st.Close()
			return nil, fmt.Errorf("FOCUSSYNC_RETRY_INITIAL: %q is not a positive duration", v)
		}
		eng.RetryInitial = d
	}
	return &daemonEnv{cfg: cfg, client: client, store: st, log: log, level: level, engine: eng, activity: activity, warned: warned}, nil
}

func (r *daemonEnv) Close() error { return r.store.Close() }

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	if c, ok := w.(*console); ok {
		return c.tty
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// logTimeFormat is the time of a line on a terminal: the date, and the zone
// as an offset, so that lines read on another machine or copied into a report
// are not ambiguous. (JSON and text lines carry RFC 3339 times.)
const logTimeFormat = "2006-01-02 15:04:05 -07:00"

// colorWanted reports whether w takes colour: a terminal, unless NO_COLOR is set
// to a non-empty value (no-color.org) or TERM is "dumb".
func colorWanted(w io.Writer) bool {
	return isTerminal(w) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}

// newLogger returns the process logger: tint on a terminal (colour as
// colorWanted says), JSON otherwise (journald, files), or as [log] format
// says, with the field conventions of logFields. level is set from the
// config, or debug with verbose.
func newLogger(w io.Writer, lc config.Log, level *slog.LevelVar, verbose bool) *slog.Logger {
	setLevel(level, lc.Level, verbose)
	format := lc.Format
	if format == "" || format == "auto" {
		format = "json"
		if isTerminal(w) {
			format = "tint"
		}
	}
	var h slog.Handler
	switch format {
	case "tint":
		h = tint.NewHandler(w, &tint.Options{Level: level, TimeFormat: logTimeFormat, NoColor: !colorWanted(w)})
	case "text":
		h = slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})
	default:
		h = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	}
	return slog.New(logFields{h})
}

// setLevel applies a [log] level name.
func setLevel(v *slog.LevelVar, name string, verbose bool) {
	if verbose {
		v.Set(slog.LevelDebug)
		return
	}
	switch name {
	case "debug":
		v.Set(slog.LevelDebug)
	case "warn":
		v.Set(slog.LevelWarn)
	case "error":
		v.Set(slog.LevelError)
	default:
		v.Set(slog.LevelInfo)
	}
}
