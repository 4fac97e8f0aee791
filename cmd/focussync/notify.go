package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"github.com/focussync/focussync/daemon"
)

// statusEvery is how often the STATUS= line is brought up to date when no
// watchdog asks for more.
const statusEvery = 10 * time.Second

// notifier tells systemd about the daemon (a unit of Type=notify): READY=1 once
// the first pass of every folder has run, a STATUS= line while it runs,
// RELOADING=1 and READY=1 around a reload, STOPPING=1 at the end, and WATCHDOG=1
// only while the daemon's loops answer, so that a hung daemon is restarted.
// Outside systemd (no NOTIFY_SOCKET) it does nothing.
type notifier struct {
	log      *slog.Logger
	on       bool          // NOTIFY_SOCKET is set
	watchdog time.Duration // WatchdogSec of the unit; 0 when off

	mu         sync.Mutex
	ready      bool   // READY=1 was sent
	lastStatus string // the STATUS= line last sent
	failed     bool   // a send failed (logged once)
	hung       bool   // the last liveness check failed (logged once per hang)
}

// newNotifier reads NOTIFY_SOCKET and the watchdog settings (WATCHDOG_USEC,
// WATCHDOG_PID) that systemd sets.
func newNotifier(log *slog.Logger) *notifier {
	n := &notifier{log: log, on: os.Getenv("NOTIFY_SOCKET") != ""}
	if !n.on {
		return n
	}
	wd, err := sd.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("systemd watchdog settings not understood; not pinging the watchdog", "err", err)
	}
	n.watchdog = wd
	return n
}

// send sends one notification; a failure is logged once.
func (n *notifier) send(lines ...string) {
	if !n.on {
		return
	}
	if _, err := sd.SdNotify(false, strings.Join(lines, "\n")); err != nil {
		n.mu.Lock()
		first := !n.failed
		n.failed = true
		n.mu.Unlock()
		if first {
			n.log.Warn("cannot notify systemd", "socket", os.Getenv("NOTIFY_SOCKET"), "err", err)
		}
	}
}

// isReady reports whether READY=1 was sent.
func (n *notifier) isReady() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ready
}

// Reloading says a reload started; Reloaded must follow. Before READY=1 it says
// nothing: systemd still waits for the start.
func (n *notifier) Reloading() {
	if !n.isReady() {
		return
	}
	lines := []string{sd.SdNotifyReloading, "STATUS=reloading the configuration"}
	if us := sd.SdNotifyMonotonicUsec(); us != "" {
		lines = append(lines, us) // Type=notify-reload wants the time of the reload
	}
	n.send(lines...)
}

// Reloaded says a reload ended (taken or refused).
func (n *notifier) Reloaded(st daemon.Status) {
	n.mu.Lock()
	if !n.ready {
		n.mu.Unlock()
		return
	}
	n.lastStatus = statusLine(st)
	n.mu.Unlock()
	n.send(sd.SdNotifyReady, "STATUS="+n.lastStatus)
}

// Stopping says the daemon is stopping.
func (n *notifier) Stopping() { n.send(sd.SdNotifyStopping, "STATUS=stopping") }

// run sends READY=1 once ready is closed, keeps the STATUS= line up to date and
// pings the watchdog while every check answers, until ctx ends. Before ready, it
// asks systemd for more start-up time as long as the daemon is alive: a first
// pass that uploads a large tree or waits for the API quota is not a hang.
func (n *notifier) run(ctx context.Context, src func() daemon.Status, ready <-chan struct{}, checks []livenessCheck) {
	if !n.on {
		return
	}
	every := statusEvery
	if n.watchdog > 0 {
		every = min(every, n.watchdog/3)
	}
	checks = append([]livenessCheck{statusAnswers(src)}, checks...)
	tick := time.NewTicker(every)
	defer tick.Stop()
	sendReady := func(st daemon.Status) {
		ready = nil
		n.mu.Lock()
		n.ready = true
		n.lastStatus = statusLine(st)
		n.mu.Unlock()
		n.send(sd.SdNotifyReady, "STATUS="+n.lastStatus)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-ready:
			sendReady(src())
			continue
		case <-tick.C:
		}
		if err := checkAlive(ctx, checks, min(aliveTimeout, every)); err != nil {
			if ctx.Err() != nil {
				return
			}
			n.mu.Lock()
			first := !n.hung
			n.hung = true
			n.mu.Unlock()
			if first {
				n.log.Error("the daemon does not answer; the systemd watchdog is no longer pinged", "err", err)
			} else {
				n.log.Debug("watchdog not pinged", "err", err)
			}
			continue
		}
		st := src()
		if ready != nil && st.Paused != "" {
			// All work waits for a new token, which a reload brings: the daemon is
			// up, and systemctl start must not wait for ever.
			sendReady(st)
		}
		n.mu.Lock()
		recovered := n.hung
		n.hung = false
		isReady := n.ready
		line := statusLine(st)
		if !isReady {
			line = startingLine(st)
		}
		changed := line != n.lastStatus
		n.lastStatus = line
		n.mu.Unlock()
		if recovered {
			n.log.Info("the daemon answers again")
		}
		var msg []string
		if n.watchdog > 0 {
			msg = append(msg, sd.SdNotifyWatchdog)
		}
		if !isReady {
			// Three ticks more: a daemon that stops answering runs out of time.
			msg = append(msg, fmt.Sprintf("EXTEND_TIMEOUT_USEC=%d", (3*every).Microseconds()))
		}
		if changed {
			msg = append(msg, "STATUS="+line)
		}
		if len(msg) > 0 {
			n.send(msg...)
		}
	}
}

// statusLine is the STATUS= line systemctl status shows, such as
// "3 folders in sync, 12 operations pending, quota 25 left".
func statusLine(st daemon.Status) string {
	inSync, pending, failing, held := 0, 0, 0, 0
	for _, f := range st.Folders {
		if folderReadiness(f, st.Quota) == "" {
			inSync++
		}
		pending += f.Pending
		failing += len(f.Failures)
		if f.Held != "" {
			held += max(f.HeldDeletes, 1)
		}
	}
	var parts []string
	switch n := len(st.Folders); {
	case n == inSync:
		parts = append(parts, plural(n, "folder")+" in sync")
	default:
		parts = append(parts, fmt.Sprintf("%d of %s in sync", inSync, plural(n, "folder")))
	}
	if pending > 0 {
		parts = append(parts, plural(pending, "operation")+" pending")
	}
	if held > 0 {
		parts = append(parts, plural(held, "delete")+" held")
	}
	if failing > 0 {
		parts = append(parts, plural(failing, "file")+" not synced")
	}
	for _, q := range st.Quota {
		if !q.Known {
			continue
		}
		s := fmt.Sprintf("quota %d left", q.Remaining)
		if len(st.Quota) > 1 {
			s = fmt.Sprintf("quota of organization %d: %d left", q.Organization, q.Remaining)
		}
		parts = append(parts, s)
	}
	if st.Paused != "" {
		parts = append([]string{"paused: " + st.Paused}, parts...)
	}
	return strings.Join(parts, ", ")
}

// startingLine is the STATUS= line before the first pass of every folder has run.
func startingLine(st daemon.Status) string {
	done := 0
	for _, f := range st.Folders {
		if !f.LastPass.IsZero() {
			done++
		}
	}
	return fmt.Sprintf("starting: first pass done in %d of %s", done, plural(len(st.Folders), "folder"))
}

// plural is "1 folder" or "3 folders".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
