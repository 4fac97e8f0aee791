package syncer_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/syncer"
)

// engineEnv is an engine on a real state db, talking to the emulator.
type engineEnv struct {
	srv    *focustest.Server
	engine *syncer.Engine
	folder config.Folder
	st     *state.Store
}

func newEngineEnv(t *testing.T) *engineEnv {
	t.Helper()
	return newEngineEnvWith(t, focustest.Options{})
}

// newEngineEnvWith is newEngineEnv over an emulator with opts (its token is set).
func newEngineEnvWith(t *testing.T, opts focustest.Options) *engineEnv {
	t.Helper()
	return newEngineEnvOver(t, opts, nil)
}

// newEngineEnvOver is newEngineEnvWith with the client's requests going through
// rt (nil: the client's own transport).
func newEngineEnvOver(t *testing.T, opts focustest.Options, rt http.RoundTripper) *engineEnv {
	t.Helper()
	opts.Token = "tok"
	srv := focustest.NewServer(opts)
	t.Cleanup(srv.Close)
	var hc *http.Client
	if rt != nil {
		hc = &http.Client{Transport: rt}
	}
	c, err := focus.New(focus.Options{BaseURL: srv.URL, Token: "tok", HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := syncer.NewEngine(c, st, nil)
	e.RetryInitial = time.Millisecond
	dir := t.TempDir()
	// Settle 0: the files a test writes are complete when written, and none is
	// held as settling however soon the scan runs after it (one held would go up
	// in a round of its own and change the requests a test counts). Tests of
	// settling set their own.
	return &engineEnv{srv: srv, engine: e, st: st, folder: config.Folder{
		Path: dir, OrganizationID: 1, WorkspaceID: 2, TaskID: 3,
		Settle: 0, Order: "name", DeleteRemote: true, MaxDelete: config.Limit{Percent: 50},
	}}
}

func (e *engineEnv) write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(e.folder.Path, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestEngine_FileVanishesMidUpload(t *testing.T) {
	e := newEngineEnv(t)
	e.write(t, "stays.txt", "stays")
	e.write(t, "vanishes.txt", "vanishes before its upload")
	gone := false
	opt := syncer.PassOptions{WaitSettle: true, Progress: func(p syncer.Progress) {
		// Called just before each upload request: the file goes away under it.
		if !gone && p.Current != "" {
			gone = true
			os.Remove(filepath.Join(e.folder.Path, "vanishes.txt"))
		}
	}}
	res, err := e.engine.Sync(context.Background(), e.folder, opt)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if !gone {
		t.Fatalf("the file was never removed: the test proves nothing")
	}
	got := e.srv.Attachments(3)
	if len(got) != 1 || got[0].Name != "stays.txt" {
		t.Fatalf("attachments = %+v, want only stays.txt", got)
	}
	if !res.Converged() {
		t.Errorf("a vanished file must not leave the folder failing: %+v", res.Failed)
	}
	// Nothing is left to do.
	res, err = e.engine.Sync(context.Background(), e.folder, syncer.PassOptions{})
	if err != nil || res.WriteRequests() != 0 {
		t.Errorf("second sync: %v, %d writes", err, res.WriteRequests())
	}
}

func TestEngine_FileGrowsMidUpload(t *testing.T) {
	e := newEngineEnv(t)
	e.write(t, "log.txt", "first line\n")
	grown := false
	opt := syncer.PassOptions{WaitSettle: true, Progress: func(p syncer.Progress) {
		if !grown && p.Current != "" {
			grown = true
			e.write(t, "log.txt", "first line\nsecond line, written during the upload\n")
		}
	}}
	if _, err := e.engine.Sync(context.Background(), e.folder, opt); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	got := e.srv.Attachments(3)
	want := int64(len("first line\nsecond line, written during the upload\n"))
	if len(got) != 1 || got[0].Size != want {
		t.Fatalf("attachments = %+v, want one log.txt of %d bytes (the new version)", got, want)
	}
}

func TestEngine_RefusedTokenStopsTheFolder(t *testing.T) {
	e := newEngineEnv(t)
	e.write(t, "a.txt", "a")
	e.engine.Client.SetToken("wrong")
	_, err := e.engine.Sync(context.Background(), e.folder, syncer.PassOptions{})
	if !errors.Is(err, syncer.ErrUnauthorized) || !errors.Is(err, syncer.ErrFatal) {
		t.Fatalf("Sync with a refused token: %v; want ErrUnauthorized and ErrFatal", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "(HTTP 401)") || !strings.Contains(msg, "check the API token") {
		t.Errorf("error %q does not name the 401 and the remedy", msg)
	}
	if got := len(e.srv.Attachments(3)); got != 0 {
		t.Errorf("%d attachments after a refused token", got)
	}
	// A folder error of another kind is not taken for a refused token.
	e.engine.Client.SetToken("tok")
	e.srv.FailNext(focus.EndpointList, 10, 403)
	_, err = e.engine.Sync(context.Background(), e.folder, syncer.PassOptions{})
	if err == nil || errors.Is(err, syncer.ErrUnauthorized) {
		t.Errorf("Sync answered 403: %v; want an error that is not ErrUnauthorized", err)
	}
}
