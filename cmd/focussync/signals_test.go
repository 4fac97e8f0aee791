//go:build unix

package main

import (
	"github.com/focussync/focussync/internal/testutil"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stuckEnv makes the test binary act as a command that never returns, whatever
// its context says: it stands for one stuck where no context reaches.
const stuckEnv = "FOCUSSYNC_TEST_STUCK_COMMAND"

func init() {
	if os.Getenv(stuckEnv) == "" {
		return
	}
	ctx, _ := stopContext(os.Stderr)
	os.Stdout.WriteString("ready\n")
	<-ctx.Done()
	os.Stdout.WriteString("cancelled\n")
	select {} // stuck
}

// TestStopContext_EndsAStuckCommand: the first SIGTERM cancels the context; a
// command that does not return anyway is ended by the backstop after stopGrace,
// or at once by a second signal, with exit code 1 and a message.
func TestStopContext_EndsAStuckCommand(t *testing.T) {
	for _, second := range []bool{false, true} {
		name := "backstop"
		if second {
			name = "second signal"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), stuckEnv+"=1")
			var out, errb lockedBuffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			defer cmd.Process.Kill()
			testutil.WaitUntil(t, 30*time.Second, "the child to start", func() bool { return strings.Contains(out.String(), "ready") })
			sent := time.Now()
			cmd.Process.Signal(syscall.SIGTERM)
			testutil.WaitUntil(t, 10*time.Second, "the context to be cancelled", func() bool { return strings.Contains(out.String(), "cancelled") })
			want, within := "still not stopped", stopGrace+10*time.Second
			if second {
				cmd.Process.Signal(syscall.SIGTERM)
				want, within = "again: exiting now", 5*time.Second
			}
			select {
			case <-done:
			case <-time.After(within):
				t.Fatalf("the stuck command still runs %s after SIGTERM", within)
			}
			took := time.Since(sent)
			if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(errb.String(), want) {
				t.Errorf("exit %d after %s, stderr %q; want 1 and %q", code, took.Round(time.Millisecond), errb.String(), want)
			}
			if !second && took < stopGrace-time.Second {
				t.Errorf("the backstop ended the command after %s, before the %s grace", took, stopGrace)
			}
		})
	}
}
