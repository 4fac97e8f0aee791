package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/focussync/focussync/daemon"
	"github.com/focussync/focussync/syncer"
)

// fakeNotifySocket is systemd's end of $NOTIFY_SOCKET: a unixgram socket in a
// temporary directory whose datagrams arrive on msgs.
type fakeNotifySocket struct {
	path string
	msgs chan string
}

func listenNotify(t *testing.T) *fakeNotifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen on %s: %v", path, err)
	}
	s := &fakeNotifySocket{path: path, msgs: make(chan string, 1000)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			select {
			case s.msgs <- string(buf[:n]):
			default: // a test that stopped reading
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return s
}

// waitFor returns the first datagram for which ok holds, failing the test after
// timeout; seen collects every datagram read on the way.
func (s *fakeNotifySocket) waitFor(t *testing.T, what string, timeout time.Duration, seen *[]string, ok func(string) bool) string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case m := <-s.msgs:
			*seen = append(*seen, m)
			if ok(m) {
				return m
			}
		case <-deadline.C:
			t.Fatalf("no %s within %s; datagrams seen:\n%s", what, timeout, strings.Join(*seen, "\n--\n"))
			return ""
		}
	}
}

// hasLine reports whether datagram m holds the line l.
func hasLine(m, l string) bool {
	for x := range strings.SplitSeq(m, "\n") {
		if x == l {
			return true
		}
	}
	return false
}

// lineWith returns the line of m with the prefix p, or "".
func lineWith(m, p string) string {
	for x := range strings.SplitSeq(m, "\n") {
		if strings.HasPrefix(x, p) {
			return x
		}
	}
	return ""
}

// signalHandler passes each record's message to a channel.
type signalHandler struct{ msgs chan string }

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.msgs <- r.Message:
	default:
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

// TestNotifier checks the notifications against a fake NOTIFY_SOCKET: no
// watchdog ping while a loop hangs, pings and more start-up time once it
// answers, READY with a STATUS line once ready, then a reload and the stop.
func TestNotifier(t *testing.T) {
	sock := listenNotify(t)
	t.Setenv("NOTIFY_SOCKET", sock.path)
	t.Setenv("WATCHDOG_USEC", "300000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	logs := make(chan string, 100)
	n := newNotifier(slog.New(signalHandler{logs}))
	if n.watchdog != 300*time.Millisecond {
		t.Fatalf("watchdog = %s, want 300ms", n.watchdog)
	}

	var mu sync.Mutex
	st := daemon.Status{Folders: []daemon.FolderStatus{{Path: "/srv/a", Task: 1, Organization: 11, State: "syncing"}},
		Quota: []daemon.QuotaStatus{{Organization: 11, Known: true, Remaining: 25}}}
	src := func() daemon.Status { mu.Lock(); defer mu.Unlock(); return st }
	ping := make(chan chan struct{})
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.run(ctx, src, ready, []livenessCheck{loopPing("reload loop", ping)})
	}()
	defer func() { cancel(); <-done }()

	// The reload loop does not answer: the notifier says so and sends nothing.
	waitLog(t, logs, "the daemon does not answer; the systemd watchdog is no longer pinged")
	select {
	case m := <-sock.msgs:
		t.Fatalf("sent %q while a loop was hung", m)
	default:
	}

	// It answers again: pings, more start-up time, and the starting status.
	stopLoop := make(chan struct{})
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		for {
			select {
			case r := <-ping:
				answerPing(r)
			case <-stopLoop:
				return
			}
		}
	}()
	var seen []string
	m := sock.waitFor(t, "a watchdog ping", 10*time.Second, &seen, func(m string) bool { return hasLine(m, "WATCHDOG=1") })
	if l := lineWith(m, "EXTEND_TIMEOUT_USEC="); l == "" {
		t.Errorf("no EXTEND_TIMEOUT_USEC before READY: %q", m)
	}
	if want := "STATUS=starting: first pass done in 0 of 1 folder"; !hasLine(m, want) {
		t.Errorf("first datagram %q lacks %q", m, want)
	}

	// The first pass ran.
	mu.Lock()
	st.Folders[0].State, st.Folders[0].LastPass, st.Folders[0].Pending = "idle", time.Now(), 12
	st.Quota[0].Remaining = 0
	mu.Unlock()
	close(ready)
	m = sock.waitFor(t, "READY=1", 10*time.Second, &seen, func(m string) bool { return hasLine(m, "READY=1") })
	if want := "STATUS=1 folder in sync, 12 operations pending, quota 0 left"; !hasLine(m, want) {
		t.Errorf("READY datagram %q lacks %q", m, want)
	}
	m = sock.waitFor(t, "a ping after READY", 10*time.Second, &seen, func(m string) bool { return hasLine(m, "WATCHDOG=1") })
	if lineWith(m, "EXTEND_TIMEOUT_USEC=") != "" {
		t.Errorf("more start-up time asked after READY: %q", m)
	}

	n.Reloading()
	m = sock.waitFor(t, "RELOADING=1", 10*time.Second, &seen, func(m string) bool { return hasLine(m, "RELOADING=1") })
	if lineWith(m, "MONOTONIC_USEC=") == "" {
		t.Errorf("RELOADING without MONOTONIC_USEC: %q", m)
	}
	n.Reloaded(src())
	sock.waitFor(t, "READY=1 after the reload", 10*time.Second, &seen, func(m string) bool { return hasLine(m, "READY=1") })

	// The loop hangs again: the pings stop.
	close(stopLoop)
	<-loopDone
	waitLog(t, logs, "the daemon does not answer; the systemd watchdog is no longer pinged")
	for drained := false; !drained; {
		select {
		case <-sock.msgs:
		default:
			drained = true
		}
	}
	waitLog(t, logs, "watchdog not pinged") // a whole tick after the drain
	select {
	case m := <-sock.msgs:
		t.Errorf("sent %q while the loop was hung", m)
	default:
	}
	n.Stopping()
	sock.waitFor(t, "STOPPING=1", 10*time.Second, &seen, func(m string) bool { return hasLine(m, "STOPPING=1") })
}

func waitLog(t *testing.T, logs <-chan string, msg string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case m := <-logs:
			if m == msg {
				return
			}
		case <-deadline:
			t.Fatalf("no log %q", msg)
		}
	}
}

func TestStatusLine(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		st   daemon.Status
		want string
	}{
		{daemon.Status{}, "0 folders in sync"},
		{daemon.Status{Folders: []daemon.FolderStatus{{LastPass: now}, {LastPass: now}, {LastPass: now}},
			Quota: []daemon.QuotaStatus{{Organization: 1, Known: true, Remaining: 25}}}, "3 folders in sync, quota 25 left"},
		{daemon.Status{Folders: []daemon.FolderStatus{{LastPass: now, Pending: 12}, {LastPass: now, Held: "x", HeldDeletes: 9}, {LastPass: now,
			Failures: []syncer.Failure{{Path: "a"}}}}}, "0 of 3 folders in sync, 12 operations pending, 9 deletes held, 1 file not synced"},
		{daemon.Status{Paused: "API token refused", Folders: []daemon.FolderStatus{{LastPass: now}},
			Quota: []daemon.QuotaStatus{{Organization: 1, Known: true, Remaining: 3}, {Organization: 2}}},
			"paused: API token refused, 1 folder in sync, quota of organization 1: 3 left"},
	} {
		if got := statusLine(tc.st); got != tc.want {
			t.Errorf("statusLine = %q, want %q", got, tc.want)
		}
	}
}
