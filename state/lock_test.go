package state

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// openWithin runs Open in a goroutine and fails the test if it has not returned
// within limit, so that a lock that is never given up cannot hang the test.
func openWithin(t *testing.T, limit time.Duration, path string, opts Options) (*Store, error) {
	t.Helper()
	type result struct {
		s   *Store
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := Open(path, opts)
		ch <- result{s, err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-time.After(limit):
		t.Fatalf("Open(%s, %+v) still waiting after %v", path, opts, limit)
		return nil, nil
	}
}

func checkLocked(t *testing.T, path string, err error) {
	t.Helper()
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want an error wrapping ErrLocked", err)
	}
	want := "state db " + path + " is in use by another focussync process " +
		"(is the daemon running? stop it, or use 'focussync status')"
	if err.Error() != want {
		t.Errorf("error = %q\nwant %q", err, want)
	}
}

// bbolt locks with flock(2), which on Linux belongs to the open file description:
// a second Open in the same process gets its own and is refused like another process.
func TestOpen_LockedInProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := mustOpen(t, path)

	_, err := openWithin(t, 30*time.Second, path, Options{Timeout: 100 * time.Millisecond})
	checkLocked(t, path, err)

	// A read-only open needs a shared lock, which the writer's exclusive lock excludes.
	_, err = openWithin(t, 30*time.Second, path, Options{Timeout: 100 * time.Millisecond, ReadOnly: true})
	checkLocked(t, path, err)

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := openWithin(t, 30*time.Second, path, Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Open after the holder closed: %v", err)
	}
	s2.Close()
}

const lockHelperEnv = "FOCUSSYNC_STATE_TEST_LOCK_HOLDER"

// TestOpen_LockedByOtherProcess runs this test binary again as a child that holds
// the database until its stdin closes.
func TestOpen_LockedByOtherProcess(t *testing.T) {
	if path := os.Getenv(lockHelperEnv); path != "" {
		holdLock(path)
		return
	}
	path := filepath.Join(t.TempDir(), "state.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestOpen_LockedByOtherProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})

	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "holder:") {
				ready <- line
				return
			}
		}
		ready <- "holder: exited"
	}()
	select {
	case line := <-ready:
		if line != "holder: locked" {
			t.Fatalf("child: %s", line)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("child did not report holding the lock within 60s")
	}

	_, err = openWithin(t, 30*time.Second, path, Options{Timeout: 100 * time.Millisecond})
	checkLocked(t, path, err)

	// Once the child exits the lock is free.
	stdin.Close()
	s, err := openWithin(t, 60*time.Second, path, Options{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("Open after the child exited: %v", err)
	}
	s.Close()
}

// holdLock is the child's side: open, report, wait for stdin to close, exit.
func holdLock(path string) {
	s, err := Open(path, Options{Timeout: 10 * time.Second})
	if err != nil {
		os.Stdout.WriteString("holder: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("holder: locked\n")
	_, _ = bufio.NewReader(os.Stdin).ReadString(0)
	s.Close()
	os.Exit(0)
}
