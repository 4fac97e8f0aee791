package syncer_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/state"
	"github.com/focussync/focussync/syncer"
)

// TestSync_DryRunShowsWhatThePassSends runs, for each situation, a dry run and
// then the real pass on the same input: the dry run sends no write, and the real
// pass sends exactly the ops the dry run printed, in the same order, after a
// listing exactly when the dry run said one comes first.
func TestSync_DryRunShowsWhatThePassSends(t *testing.T) {
	hashOf := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }
	for _, tc := range []struct {
		name string
		// setup brings the folder into the situation after a first sync of a.txt,
		// b.txt and c.txt, and returns the folder's settings for the two passes.
		setup func(t *testing.T, e *engineEnv) config.Folder
		// paused and held say whether the plan pauses the folder or holds deletes.
		paused, held bool
		// extra allows the real pass more ops after the planned ones (a later round).
		extra bool
	}{
		{name: "nothing changed", setup: func(t *testing.T, e *engineEnv) config.Folder { return e.folder }},
		{name: "new, renamed, changed and removed files", setup: func(t *testing.T, e *engineEnv) config.Folder {
			e.write(t, "0-new.txt", "new")
			e.rename(t, "b.txt", "b2.txt")
			e.write(t, "c.txt", "charlie, second version")
			e.remove(t, "a.txt")
			return e.folder
		}},
		{name: "unmounted root", paused: true, setup: func(t *testing.T, e *engineEnv) config.Folder {
			if err := os.RemoveAll(e.folder.Path); err != nil {
				t.Fatal(err)
			}
			return e.folder
		}},
		{name: "root on another device", paused: true, setup: func(t *testing.T, e *engineEnv) config.Folder {
			k := syncer.FolderKey(e.folder)
			fo, err := e.engine.Store.Load(k)
			if err != nil {
				t.Fatal(err)
			}
			m := fo.Meta
			m.Device++ // as recorded before the share was unmounted
			if err := e.engine.Store.Commit(k, state.Change{Meta: &m}); err != nil {
				t.Fatal(err)
			}
			e.remove(t, "a.txt")
			return e.folder
		}},
		{name: "paused folder: marker missing", paused: true, setup: func(t *testing.T, e *engineEnv) config.Folder {
			f := e.folder
			f.Marker = ".mounted"
			e.remove(t, "a.txt")
			return f
		}},
		{name: "emptied folder", held: true, setup: func(t *testing.T, e *engineEnv) config.Folder {
			for _, n := range []string{"a.txt", "b.txt", "c.txt"} {
				e.remove(t, n)
			}
			return e.folder
		}},
		{name: "mass delete", held: true, setup: func(t *testing.T, e *engineEnv) config.Folder {
			f := e.folder
			f.MaxDelete = config.Limit{Count: 1}
			e.remove(t, "a.txt")
			e.remove(t, "b.txt")
			e.write(t, "d.txt", "delta") // uploads still go ahead
			return f
		}},
		{name: "a rename seen while settling", setup: func(t *testing.T, e *engineEnv) config.Folder {
			f := e.folder
			f.Settle = time.Hour // the renamed file was touched just now
			e.rename(t, "a.txt", "a-renamed.txt")
			e.remove(t, "c.txt")
			return f
		}},
		{name: "an open intent after a crash", setup: func(t *testing.T, e *engineEnv) config.Folder {
			// The new version of b.txt reached Focus, then the process died before
			// recording it: the pass must adopt it and delete the old version.
			oldID := e.idOf(t, "b.txt")
			v2 := "bravo, the second version"
			e.write(t, "b.txt", v2)
			fi, err := os.Stat(filepath.Join(e.folder.Path, "b.txt"))
			if err != nil {
				t.Fatal(err)
			}
			e.put("b.txt", v2, 1)
			in := &state.Intent{Op: state.IntentCreate, Started: time.Now().Add(-time.Minute), Files: []state.IntentFile{{
				Path: "b.txt", Name: "b.txt", Size: int64(len(v2)), Hash: hashOf(v2), ModTime: fi.ModTime(), Replaces: oldID,
			}}}
			if err := e.engine.Store.BeginIntent(syncer.FolderKey(e.folder), in); err != nil {
				t.Fatal(err)
			}
			return e.folder
		}},
		{name: "a refused file", setup: func(t *testing.T, e *engineEnv) config.Folder {
			e.srv.RejectNames("*.exe")
			e.write(t, "tool.exe", "MZ")
			e.sync(t) // refused once: now skipped until it changes
			e.write(t, "d.txt", "delta")
			return e.folder
		}},
		{name: "lost state", setup: func(t *testing.T, e *engineEnv) config.Folder {
			st, err := state.Open(filepath.Join(t.TempDir(), "new.db"), state.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			e.engine.Store = st
			e.write(t, "d.txt", "delta")
			return e.folder
		}},
		{name: "a file changed during upload", extra: true, setup: func(t *testing.T, e *engineEnv) config.Folder {
			// The last pass saw log.txt grow while it was uploaded: the version it
			// sent is in Focus, and the file has new content again.
			e.write(t, "log.txt", "first line\n")
			grown := false
			opt := syncer.PassOptions{Progress: func(p syncer.Progress) {
				if !grown && p.Current != "" {
					grown = true
					e.write(t, "log.txt", "first line\nsecond line, written during the upload\n")
				}
			}}
			if _, err := e.engine.Sync(context.Background(), e.folder, opt); err != nil {
				t.Fatal(err)
			}
			e.write(t, "log.txt", "first line\nsecond line\nthird line\n")
			return e.folder
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngineEnv(t)
			for _, n := range []string{"a.txt", "b.txt", "c.txt"} {
				e.write(t, n, n[:1]+" content")
			}
			e.sync(t)
			f := tc.setup(t, e)
			ctx := context.Background()

			from := e.mark()
			dry, err := e.engine.Sync(ctx, f, syncer.PassOptions{DryRun: true})
			if err != nil {
				t.Fatalf("dry run: %v", err)
			}
			if n := e.since(from); n[focus.EndpointCreate]+n[focus.EndpointBulk]+n[focus.EndpointUpdate]+n[focus.EndpointDelete] != 0 {
				t.Fatalf("the dry run sent writes: %v", n)
			}
			want := dry.Plan.Ops()
			if got := dry.Paused != ""; got != tc.paused {
				t.Errorf("dry run paused = %v (%q), want %v", got, dry.Paused, tc.paused)
			}
			if got := dry.Held != ""; got != tc.held {
				t.Errorf("dry run held = %v (%q), want %v", got, dry.Held, tc.held)
			}

			from = e.mark()
			res, err := e.engine.Sync(ctx, f, syncer.PassOptions{})
			if err != nil {
				t.Fatalf("pass: %v", err)
			}
			got := res.Sent
			if tc.extra && len(got) > len(want) {
				got = got[:len(want)]
			}
			if !slices.Equal(got, want) {
				t.Errorf("the pass sent\n  %v\nthe dry run showed\n  %v", res.Sent, want)
			}
			if res.Paused != dry.Paused || res.Plan.Held != dry.Held {
				t.Errorf("the pass paused %q, held %q; the dry run %q, %q", res.Paused, res.Plan.Held, dry.Paused, dry.Held)
			}
			reqs := e.srv.Requests()[from:]
			listedFirst := len(reqs) > 0 && reqs[0].Endpoint == focus.EndpointList
			if dry.Listed != listedFirst {
				t.Errorf("dry run says a listing comes first: %v; the pass listed first: %v", dry.Listed, listedFirst)
			}
		})
	}
}
