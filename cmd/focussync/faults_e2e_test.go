package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
)

// syncUntilConverged runs sync until it exits 0, at most n times.
func (e *env) syncUntilConverged(n int) result {
	e.t.Helper()
	var r result
	for range n {
		r = e.run("sync")
		if r.code == 0 {
			return r
		}
	}
	e.t.Fatalf("no convergence after %d syncs; last: %v", n, r)
	return r
}

func TestSync_ServerErrorsAndDropsMakeNoDuplicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeN(40, "u")
	e.srv.SetFaults(focustest.Faults{
		ServerErrorRate:     0.3,
		DropAfterCommitRate: 0.15,
		Endpoints:           []focus.Endpoint{focus.EndpointBulk, focus.EndpointCreate},
		Seed:                7,
	})
	// Fast retries: the schedule is the engine's, shrunk for the test.
	e.setenv("FOCUSSYNC_RETRY_INITIAL", "10ms")
	e.syncUntilConverged(8)
	faults := 0
	for _, r := range e.srv.Requests() {
		if r.Fault != "" {
			faults++
		}
	}
	if faults == 0 {
		t.Fatalf("no fault was injected; the test proves nothing")
	}
	t.Logf("%d requests, %d faults injected", len(e.srv.Requests()), faults)
	e.srv.SetFaults(focustest.Faults{})
	e.assertMirrors()
	m := e.mark()
	e.sync()
	if w := writes(e.requests(m)); w != 0 {
		t.Errorf("after convergence a sync sent %d writes", w)
	}
}

func TestSync_SmallQuotaConvergesWithoutBurstOf402(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withQuota(3, 2*time.Second))
	e.writeN(45, "q") // 5 bulk uploads and a list: two windows at least
	start := time.Now()
	r := e.sync()
	e.assertMirrors()
	n402 := 0
	for _, rq := range e.srv.Requests() {
		if rq.Status == 402 {
			n402++
		}
	}
	// The budget waits for the reset; at most a stray 402 at a window edge.
	if n402 > 1 {
		t.Errorf("%d requests answered 402; the budget should wait for the reset", n402)
	}
	t.Logf("converged in %s with %d requests, %d answered 402\n%s", time.Since(start).Round(time.Millisecond), len(e.srv.Requests()), n402, r.stdout)
}

func TestSync_RefusedFileIsIsolated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeN(9, "ok")
	e.write("bad.exe", "refused content")
	e.srv.RejectNames("*.exe")
	r := e.run("sync")
	if r.code != 1 {
		t.Fatalf("sync with a refused file: want exit 1, got %v", r)
	}
	if !strings.Contains(r.stdout, "FAILED bad.exe") || !strings.Contains(r.stdout, "refused") {
		t.Errorf("the refused file is not named with its reason:\n%s", r.stdout)
	}
	if got := len(e.attachments()); got != 9 {
		t.Errorf("attachments = %d, want the 9 good files", got)
	}
	// Not retried while unchanged.
	m := e.mark()
	r = e.run("sync")
	if w := writes(e.requests(m)); w != 0 {
		t.Errorf("an unchanged refused file was sent again (%d writes)", w)
	}
	if r.code != 1 || !strings.Contains(r.stdout, "bad.exe") {
		t.Errorf("the refused file is still to be reported: %v", r)
	}
	// Changed and accepted now: it goes up.
	e.srv.RejectNames("")
	e.write("bad.exe", "fixed content")
	e.sync()
	e.assertMirrors()
}

func TestSync_EmptyCreatedBodyLearnsIDsByListing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.SetEmptyCreatedBody(true)
	e.writeN(12, "e")
	e.sync()
	e.assertMirrors()
	e.srv.SetEmptyCreatedBody(false)
	m := e.mark()
	e.sync()
	if n := len(e.srv.Requests()) - m; n != 0 {
		t.Errorf("after learning ids, an idle sync sent %d requests", n)
	}
	// The learnt ids are right: a rename is one update.
	os.Rename(filepath.Join(e.folder, "e004.txt"), filepath.Join(e.folder, "e004-renamed.txt"))
	m = e.mark()
	e.sync()
	if got := e.requests(m); got[focus.EndpointUpdate] != 1 || writes(got) != 1 {
		t.Errorf("rename after empty 201 sent %v", got)
	}
	e.assertMirrors()
}

func TestSync_SoftDeletedItemsInListingAreGone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.SetListDeleted(true)
	// A soft-deleted attachment with a file's name and size must not be adopted.
	a := e.srv.Put(testOrg, testWS, e.task, "doc.txt", []byte("same size!"), 1024)
	hc := &focus.Task{OrganizationID: testOrg, WorkspaceID: testWS, TaskID: e.task}
	c, err := focus.New(focus.Options{BaseURL: e.srv.URL, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(context.Background(), *hc, a.ID); err != nil {
		t.Fatal(err)
	}
	e.write("doc.txt", "same size!")
	e.sync()
	live := e.attachments()
	if len(live) != 1 || live[0].ID == a.ID {
		t.Fatalf("live attachments = %+v, want one new upload (the deleted one is gone)", live)
	}
	e.assertMirrors()
}

func TestSync_MissingRootDeletesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeN(5, "m")
	e.sync()
	moved := e.folder + ".away"
	if err := os.Rename(e.folder, moved); err != nil {
		t.Fatal(err)
	}
	m := e.mark()
	r := e.run("sync")
	if r.code == 0 || !strings.Contains(r.stdout, "PAUSED") {
		t.Errorf("missing root: want a paused folder and exit 1, got %v", r)
	}
	if w := writes(e.requests(m)); w != 0 {
		t.Errorf("missing root: %d writes sent", w)
	}
	// An empty directory in its place (an unmounted share) deletes nothing either.
	os.Mkdir(e.folder, 0o755)
	r = e.run("sync")
	if r.code == 0 || writes(e.requests(m)) != 0 {
		t.Errorf("empty root: want paused with no writes, got %v", r)
	}
	if len(e.attachments()) != 5 {
		t.Errorf("attachments = %d, want 5", len(e.attachments()))
	}
	os.Remove(e.folder)
	os.Rename(moved, e.folder)
	m = e.mark()
	e.sync()
	if len(e.srv.Requests()) != m {
		t.Errorf("after the root came back, a sync sent %v", e.requests(m))
	}
}

func TestSync_MassDeleteGuard(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeN(20, "g")
	e.sync()
	for i := range 12 {
		os.Remove(filepath.Join(e.folder, fmt.Sprintf("g%03d.txt", i)))
	}
	m := e.mark()
	r := e.run("sync")
	if r.code != 1 || !strings.Contains(r.stdout, "--allow-mass-delete") {
		t.Errorf("mass delete: want held with a hint, got %v", r)
	}
	if got := e.requests(m)[focus.EndpointDelete]; got != 0 {
		t.Errorf("mass delete guard let %d deletes through", got)
	}
	e.sync("--allow-mass-delete")
	e.assertMirrors()
}

func TestSync_KilledDuringUploadConvergesWithoutDuplicates(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("kills and restarts the binary many times")
	}
	for round := range 5 {
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(1, uint64(2+round)))
			e := newEnv(t)
			e.srv.SetLatency(15 * time.Millisecond)
			e.writeN(150, "k")
			kills := 0
			for attempt := 0; attempt < 3; attempt++ {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				cmd := e.command(ctx, "sync")
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				exited := make(chan struct{})
				go func() { cmd.Wait(); close(exited) }()
				// Kill once uploads are under way, at a random moment, unless the
				// sync has finished first (all files up: no more kills to make).
				base := e.uploadsSeen()
				deadline := time.Now().Add(20 * time.Second)
				want := base + 1 + rng.IntN(6)
			wait:
				for e.uploadsSeen() < want && time.Now().Before(deadline) {
					select {
					case <-exited:
						break wait
					case <-time.After(time.Millisecond):
					}
				}
				select {
				case <-exited:
				case <-time.After(time.Duration(rng.IntN(15)) * time.Millisecond):
					cmd.Process.Signal(syscall.SIGKILL)
					kills++
				}
				<-exited
				cancel()
			}
			if kills == 0 {
				t.Fatalf("every sync finished before its kill: the round proves nothing")
			}
			r := e.syncUntilConverged(3)
			e.assertMirrors()
			if n := len(e.attachments()); n != 150 {
				t.Errorf("attachments = %d, want 150", n)
			}
			t.Logf("%d kills, %d requests; last sync:\n%s", kills, len(e.srv.Requests()), r.stdout)
		})
	}
}

// uploadsSeen counts upload requests that reached the emulator.
func (e *env) uploadsSeen() int {
	n := 0
	for _, r := range e.srv.Requests() {
		if r.Endpoint == focus.EndpointBulk || r.Endpoint == focus.EndpointCreate {
			n++
		}
	}
	return n
}
