package main

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRun_NotifySystemd runs the real binary as systemd would run a unit of
// Type=notify with WatchdogSec, against a fake NOTIFY_SOCKET: READY=1 comes once
// the first pass has run, with a STATUS line; watchdog pings keep coming;
// a SIGHUP is framed by RELOADING=1 and READY=1; SIGTERM sends STOPPING=1.
func TestRun_NotifySystemd(t *testing.T) {
	t.Parallel()
	sock := listenNotify(t)
	e := newEnv(t)
	e.writeN(3, "f")
	d := e.startDaemon("NOTIFY_SOCKET="+sock.path, "WATCHDOG_USEC=1500000")

	var seen []string
	m := sock.waitFor(t, "READY=1", 2*time.Minute, &seen, func(m string) bool { return hasLine(m, "READY=1") })
	if n := len(e.attachments()); n != 3 {
		t.Errorf("READY=1 came with %d of 3 files uploaded: the first pass had not run", n)
	}
	if l := lineWith(m, "STATUS="); !strings.HasPrefix(l, "STATUS=1 folder in sync") {
		t.Errorf("READY=1 came with %q, want STATUS=1 folder in sync...", l)
	}
	for i := range 3 {
		sock.waitFor(t, "watchdog ping "+string(rune('1'+i)), time.Minute, &seen, func(m string) bool { return hasLine(m, "WATCHDOG=1") })
	}

	d.signal(syscall.SIGHUP)
	m = sock.waitFor(t, "RELOADING=1", time.Minute, &seen, func(m string) bool { return hasLine(m, "RELOADING=1") })
	if lineWith(m, "MONOTONIC_USEC=") == "" {
		t.Errorf("RELOADING=1 without MONOTONIC_USEC: %q", m)
	}
	sock.waitFor(t, "READY=1 after the reload", time.Minute, &seen, func(m string) bool { return hasLine(m, "READY=1") })

	d.stop()
	sock.waitFor(t, "STOPPING=1", 10*time.Second, &seen, func(m string) bool { return hasLine(m, "STOPPING=1") })
}
