package benchenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/focussync/focussync/daemon"
)

// Daemon is a running `focussync run`.
type Daemon struct {
	Cmd    *exec.Cmd
	env    *Env
	stderr *lockedBuffer
	done   chan struct{}
	err    error
}

// lockedBuffer is a bytes.Buffer written by the process and read by the bench.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// StartDaemon starts `focussync run` with the config. ctx bounds its life.
func (e *Env) StartDaemon(ctx context.Context) (*Daemon, error) {
	cmd := e.Command(ctx, "run")
	d := &Daemon{Cmd: cmd, env: e, stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = d.stderr
	cmd.Stdout = d.stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start focussync run: %w", err)
	}
	go func() {
		d.err = cmd.Wait()
		close(d.done)
	}()
	return d, nil
}

// Pid is the daemon's process id.
func (d *Daemon) Pid() int { return d.Cmd.Process.Pid }

// Log is what the daemon wrote so far.
func (d *Daemon) Log() string { return d.stderr.String() }

// Signal sends sig to the daemon.
func (d *Daemon) Signal(sig syscall.Signal) error { return d.Cmd.Process.Signal(sig) }

// Exited reports whether the daemon has exited.
func (d *Daemon) Exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// Kill ends the daemon with SIGKILL and waits for it.
func (d *Daemon) Kill() {
	_ = d.Cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

// Stop sends SIGTERM and waits up to timeout; it returns the exit code, or an
// error when the daemon did not exit in time (it is then killed).
func (d *Daemon) Stop(timeout time.Duration) (int, error) {
	_ = d.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(timeout):
		d.Kill()
		return -1, fmt.Errorf("focussync run did not exit within %s of SIGTERM", timeout)
	}
	return d.Cmd.ProcessState.ExitCode(), nil
}

// Status fetches GET /status from the daemon's status server.
func (d *Daemon) Status(ctx context.Context) (daemon.Status, error) {
	var st daemon.Status
	if d.env.StatusListen == "" {
		return st, fmt.Errorf("daemon status: [status] listen is off")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.env.StatusListen+"/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("daemon status: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("daemon status: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("daemon status: decode: %w", err)
	}
	return st, nil
}

// WaitIdle polls /status until every folder has finished a pass after since and
// is idle with nothing pending (or, empty, waits for its first file to take its
// lease), or the deadline passes.
func (d *Daemon) WaitIdle(ctx context.Context, since time.Time, timeout time.Duration) (daemon.Status, error) {
	deadline := time.Now().Add(timeout)
	var last daemon.Status
	var lastErr error
	for time.Now().Before(deadline) {
		if d.Exited() {
			return last, fmt.Errorf("focussync run exited: %v\n%s", d.err, tail(d.Log(), 4000))
		}
		st, err := d.Status(ctx)
		last, lastErr = st, err
		if err == nil && len(st.Folders) > 0 {
			idle := true
			for _, f := range st.Folders {
				// An empty folder claims its lease at its first file (no record
				// is made in what may be an unmounted share's mount point): until
				// then it is a standby with no holder, with nothing to do.
				emptyStandby := f.State == "standby" && f.Files == 0 && f.Lease != nil && f.Lease.Holder == ""
				if f.State != "idle" && !emptyStandby || f.Pending != 0 || !f.LastPass.After(since) {
					idle = false
				}
			}
			if idle {
				return st, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return last, fmt.Errorf("daemon not idle after %s (last status %+v, err %v)", timeout, last, lastErr)
}
