package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
	"github.com/focussync/focussync/internal/testutil"
	"github.com/focussync/focussync/syncer"
)

func TestDaemon_RunPass(t *testing.T) {
	e := newEnv(t, focustest.Options{})
	f := e.folder(1)
	f.Watch = "poll"
	f.MaxDelete = config.Limit{Count: 1}
	for _, n := range []string{"a", "b", "c"} {
		arrive(t, f.Path, n+".txt", n)
	}
	e.start(f)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	arrive(t, f.Path, "d.txt", "d")
	writes := e.srv.Requests()
	p0 := e.passes(f.Path)
	res, err := e.d.RunPass(ctx, f.Path, PassRequest{DryRun: true})
	if err != nil || len(res) != 1 {
		t.Fatalf("dry run = %v, %v", res, err)
	}
	if p := res[0].Plan; p == nil || len(p.Uploads) != 1 || p.Uploads[0].Files[0].Path != "d.txt" {
		t.Errorf("dry run plan = %+v, want the upload of d.txt", res[0].Plan)
	}
	if len(e.srv.Requests()) != len(writes) || e.passes(f.Path) != p0 || e.names(1)["d.txt"] {
		t.Error("the dry run sent a request or counted as a pass")
	}

	res, err = e.d.RunPass(ctx, f.Path, PassRequest{})
	if err != nil || len(res) != 1 || res[0].Uploaded != 1 || !e.names(1)["d.txt"] {
		t.Fatalf("pass = %+v, %v; want d.txt uploaded", res, err)
	}

	for _, n := range []string{"a", "b"} {
		if err := removeFile(f.Path, n+".txt"); err != nil {
			t.Fatal(err)
		}
	}
	res, err = e.d.RunPass(ctx, f.Path, PassRequest{})
	if err != nil || res[0].Held == "" || res[0].Deleted != 0 {
		t.Fatalf("pass over 2 removed files = %+v, %v; want the deletes held", res, err)
	}
	if st := e.status(f.Path); st.HeldDeletes != 2 {
		t.Errorf("status held deletes = %d, want 2", st.HeldDeletes)
	}
	res, err = e.d.RunPass(ctx, "", PassRequest{AllowMassDelete: true})
	if err != nil || len(res) != 1 || res[0].Deleted != 2 {
		t.Fatalf("confirmed pass = %+v, %v; want 2 deletes", res, err)
	}

	if _, err := e.d.RunPass(ctx, "/no/such/folder", PassRequest{}); err == nil {
		t.Error("RunPass of an unknown folder: no error")
	}
}

func TestDaemon_RunPass_Relist(t *testing.T) {
	e := newEnv(t, focustest.Options{})
	f := e.folder(1)
	f.Watch = "poll"
	arrive(t, f.Path, "a.txt", "a")
	e.start(f)
	lists := e.requests(focus.EndpointList)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	res, err := e.d.RunPass(ctx, f.Path, PassRequest{Relist: true})
	if err != nil || !res[0].Listed || e.requests(focus.EndpointList) != lists+1 {
		t.Errorf("relist: %+v, %v; lists %d -> %d, want one more", res, err, lists, e.requests(focus.EndpointList))
	}
}

func TestDaemon_PauseIsKeptInTheStateDB(t *testing.T) {
	e := newEnv(t, focustest.Options{})
	f := e.folder(1)
	f.Watch = "poll"
	e.start(f)
	if err := e.d.PauseFolder(f.Path, "paused by root"); err != nil {
		t.Fatal(err)
	}
	// A new daemon over the same state db: the folder starts paused.
	e.cancel()
	e.d.Wait()
	arrive(t, f.Path, "a.txt", "a")
	d := New(e.engine, Options{Clock: e.clock, Log: e.d.log, Debounce: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); d.Wait() }()
	d.Start(ctx, []config.Folder{f})
	e.d = d
	testutil.WaitUntil(t, wait, "the folder paused after the restart", func() bool {
		if e.clock.Armed(time.Second) { // the watcher's first signal starts a debounce
			e.clock.Advance(time.Second)
		}
		st := e.status(f.Path)
		return st.State == "paused" && st.Paused == "paused by root"
	})
	rctx, rcancel := context.WithTimeout(context.Background(), wait)
	defer rcancel()
	res, err := d.RunPass(rctx, f.Path, PassRequest{})
	if err != nil || res[0].Paused != "paused by root" || e.names(1)["a.txt"] {
		t.Fatalf("pass of a paused folder = %+v, %v; want no pass", res, err)
	}
	res, err = d.RunPass(rctx, f.Path, PassRequest{DryRun: true})
	if err != nil || res[0].Plan == nil || len(res[0].Plan.Uploads) != 1 || !strings.Contains(res[0].Paused, "paused by root") {
		t.Errorf("dry run of a paused folder = %+v, %v; want the plan and the pause", res, err)
	}
	if err := d.ResumeFolder(f.Path); err != nil {
		t.Fatal(err)
	}
	testutil.WaitUntil(t, wait, "a.txt uploaded after the resume", func() bool { return e.names(1)["a.txt"] })
	if p, err := e.engine.Store.Paused(syncer.FolderKey(f)); err != nil || p != nil {
		t.Errorf("state db pause after resume = %+v, %v", p, err)
	}
}
