//go:build unix

package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/internal/testutil"
)

// SIGTERM ends a command within seconds whatever it waits on, by its own clean
// return rather than the 10-second backstop: sync exits 1 (it did not converge),
// run exits 0, check --online exits non-zero.

// stopWithin sends SIGTERM and fails unless the process ends by itself within d.
func (p *proc) stopWithin(t *testing.T, d time.Duration, what string) {
	t.Helper()
	sent := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, d, what+": SIGTERM")
	if took := time.Since(sent); took > d {
		t.Errorf("%s ended %s after SIGTERM, want under %s", what, took, d)
	}
	if strings.Contains(p.out.String(), "still not stopped") {
		t.Errorf("%s was ended by the backstop, not by its own return:\n%s", what, p.out.String())
	}
	if ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ws.Signaled() {
		t.Errorf("%s was killed by %s instead of exiting", what, ws.Signal())
	}
}

func TestSIGTERME2E_SyncWaits(t *testing.T) {
	scenes := map[string]struct {
		opts  []envOption
		setup func(e *env)
		env   []string
		// waiting reports that the sync is in the wait.
		waiting func(e *env) bool
	}{
		"quota wait": {
			opts:    []envOption{withQuota(1, time.Hour)},
			waiting: func(e *env) bool { return len(e.srv.Requests()) >= 1 },
		},
		"retry backoff": {
			setup: func(e *env) { e.srv.FailNext(focus.EndpointBulk, 100, 503) },
			env:   []string{"FOCUSSYNC_RETRY_INITIAL=1h"},
			waiting: func(e *env) bool {
				for _, r := range e.srv.Requests() {
					if r.Endpoint == focus.EndpointBulk && r.Status == 503 {
						return true
					}
				}
				return false
			},
		},
		"hung server": {
			opts:  []envOption{withQuota(1000, time.Hour)},
			setup: func(e *env) { e.srv.SetLatency(time.Hour) },
			// The listing was handled (it spent quota) and its answer hangs.
			waiting: func(e *env) bool { left, _ := e.srv.QuotaState(testOrg); return left < 1000 },
		},
	}
	for name, sc := range scenes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, sc.opts...)
			e.writeN(3, "w")
			if sc.setup != nil {
				sc.setup(e)
			}
			p := e.startEnv(sc.env, "sync")
			testutil.WaitUntil(t, 60*time.Second, "the sync to wait", func() bool { return sc.waiting(e) })
			time.Sleep(200 * time.Millisecond) // into the wait, not on its way there
			p.stopWithin(t, 5*time.Second, "sync in the "+name)
			if p.code != 1 {
				t.Errorf("sync exit %d, want 1 (it did not converge):\n%s", p.code, p.out.String())
			}
		})
	}
}

// TestSIGTERME2E_RunWithFIFOSwappedIn: under run, a file swapped for a FIFO
// before its upload holds no upload slot and no worker: SIGTERM still ends the
// daemon at once, with exit 0.
func TestSIGTERME2E_RunWithFIFOSwappedIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withQuota(1, 2*time.Second))
	e.write("a.txt", "a")
	e.write("pipe.txt", "soon a fifo")
	p := e.start("run")
	testutil.WaitUntil(t, 30*time.Second, "the first listing", func() bool { return len(e.srv.Requests()) >= 1 })
	e.swapIn("pipe.txt", func(tmp string) error { return syscall.Mkfifo(tmp, 0o644) })
	testutil.WaitUntil(t, 60*time.Second, "a.txt to go up", func() bool { return e.hasAttachment("a.txt", "a") })
	p.stopWithin(t, 5*time.Second, "run with a FIFO in the folder")
	if p.code != 0 {
		t.Errorf("run exit %d, want 0:\n%s", p.code, p.out.String())
	}
	if e.attachmentNamed("pipe.txt") {
		t.Error("pipe.txt has an attachment")
	}
}

// TestSIGTERME2E_CheckOnlineHungServer: check --online waiting on a server that
// never answers ends on SIGTERM.
func TestSIGTERME2E_CheckOnlineHungServer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withQuota(1000, time.Hour))
	e.srv.SetLatency(time.Hour)
	p := e.start("check", "--online")
	testutil.WaitUntil(t, 30*time.Second, "the check's request", func() bool { left, _ := e.srv.QuotaState(testOrg); return left < 1000 })
	time.Sleep(200 * time.Millisecond)
	p.stopWithin(t, 5*time.Second, "check --online")
	if p.code == 0 {
		t.Errorf("check --online interrupted exits 0:\n%s", p.out.String())
	}
}
