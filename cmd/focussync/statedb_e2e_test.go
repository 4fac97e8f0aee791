package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/internal/testutil"
)

// The page types of a bbolt file (its page header: id uint64, flags uint16, ...).
const (
	boltBranch   = 0x01
	boltLeaf     = 0x02
	boltMeta     = 0x04
	boltFreelist = 0x10
	boltPageSize = 4096
)

// scribble returns img with 64 random bytes written into the first 80 bytes (the
// header and first elements) of every page of the given type, or of the first
// such page only.
func scribble(t *testing.T, img []byte, flags uint16, all bool, rng *rand.Rand) []byte {
	t.Helper()
	if ps := binary.NativeEndian.Uint32(img[16+8:]); ps != boltPageSize {
		t.Fatalf("page size %d, want %d", ps, boltPageSize)
	}
	b := append([]byte(nil), img...)
	n := 0
	for off := 0; off+boltPageSize <= len(img); off += boltPageSize {
		id := binary.NativeEndian.Uint64(img[off:])
		if id != uint64(off/boltPageSize) || binary.NativeEndian.Uint16(img[off+8:]) != flags {
			continue
		}
		start := off + rng.IntN(16)
		for i := range 64 {
			b[start+i] = byte(rng.Uint32())
		}
		n++
		if !all {
			break
		}
	}
	if n == 0 {
		t.Fatalf("the state db has no page of type %#x", flags)
	}
	return b
}

// noCrash fails the test when a command died of a Go panic or a signal.
func noCrash(t *testing.T, what string, r result) {
	t.Helper()
	for _, s := range []string{"panic:", "fatal error:", "SIGBUS", "SIGSEGV", "goroutine "} {
		if strings.Contains(r.stderr, s) || strings.Contains(r.stdout, s) {
			t.Fatalf("%s crashed (%q): %v", what, s, r)
		}
	}
	if r.code == 2 || r.code < 0 {
		t.Fatalf("%s exited with code %d (panic or signal): %v", what, r.code, r)
	}
}

// TestStateDB_Damaged damages a state db in many ways. status and check say that
// it is damaged; sync moves it aside and converges by adoption: one list, no
// upload, no duplicate; run does the same and stops cleanly.
func TestStateDB_Damaged(t *testing.T) {
	t.Parallel()
	// Each case damages a good db of its own scene: the cases run in parallel.
	type damage func(t *testing.T, good []byte, live int, rng *rand.Rand) []byte
	truncated := func(n func(live int) int) damage {
		return func(_ *testing.T, good []byte, live int, _ *rand.Rand) []byte { return good[:n(live)] }
	}
	scribbled := func(flags uint16, all bool) damage {
		return func(t *testing.T, good []byte, _ int, rng *rand.Rand) []byte {
			return scribble(t, good, flags, all, rng)
		}
	}
	cases := []struct {
		name   string
		damage damage
	}{
		{"zero-length", func(*testing.T, []byte, int, *rand.Rand) []byte { return nil }},
		{"truncated to 10 bytes", truncated(func(int) int { return 10 })},
		{"truncated to 100 bytes", truncated(func(int) int { return 100 })},
		{"truncated to one page", truncated(func(int) int { return boltPageSize })},
		{"truncated to three pages", truncated(func(int) int { return 3 * boltPageSize })},
		{"truncated in the middle", truncated(func(live int) int { return live / 2 })},
		{"truncated by one byte", truncated(func(live int) int { return live - 1 })},
		{"random bytes in both meta pages", scribbled(boltMeta, true)},
		{"random bytes in meta page 0", scribbled(boltMeta, false)},
		{"random bytes in the freelist", scribbled(boltFreelist, true)},
		{"random bytes in the branch pages", scribbled(boltBranch, true)},
		{"random bytes in the leaf pages", scribbled(boltLeaf, true)},
	}
	for i, c := range cases {
		for _, how := range []string{"sync", "run"} {
			t.Run(c.name+"/"+how, func(t *testing.T) {
				t.Parallel()
				e, good, live := syncedStateDB(t)
				files := len(e.attachments())
				recoverDamaged(t, e, c.damage(t, good, live, rand.New(rand.NewPCG(7, uint64(11+i)))), how, files)
			})
		}
	}
}

// syncedStateDB makes a scene whose folder is synced, and returns it with the
// image of its state db and the length of the pages in use.
func syncedStateDB(t *testing.T) (e *env, good []byte, live int) {
	t.Helper()
	e = newEnv(t)
	// Enough files for the files bucket to span leaf pages under a branch page.
	e.writeN(120, "file-with-a-longish-name-")
	e.sync()
	good, err := os.ReadFile(e.state)
	if err != nil {
		t.Fatal(err)
	}
	// The pages in use, from the newest meta page (the file is longer: bbolt grows it ahead).
	meta := good[16:]
	if binary.NativeEndian.Uint64(good[boltPageSize+16+48:]) > binary.NativeEndian.Uint64(meta[48:]) {
		meta = good[boltPageSize+16:]
	}
	return e, good, int(binary.NativeEndian.Uint64(meta[40:])) * boltPageSize
}

// recoverDamaged puts img at the env's state path, checks what status and check
// say (for sync), then recovers with sync or run (how) and checks that the task
// converged with one list and no write.
func recoverDamaged(t *testing.T, e *env, img []byte, how string, files int) {
	if err := os.WriteFile(e.state, img, 0o600); err != nil {
		t.Fatal(err)
	}
	// status and check change nothing: asking them once per image is enough.
	for _, cmd := range []string{"status", "check"} {
		if how == "run" {
			break
		}
		r := e.run(cmd)
		noCrash(t, cmd, r)
		if len(img) > 0 && !strings.Contains(r.stderr, "damaged") {
			t.Errorf("%s does not say that the state db is damaged: %v", cmd, r)
		}
	}
	before := e.mark()
	var r result
	if how == "run" {
		// The daemon recovers and converges, then stops on SIGTERM. Its status
		// server says when a pass left the folder in sync.
		addr := freeAddr(t)
		setListen(t, e, addr)
		defer setListen(t, e, "")
		d := e.startDaemon()
		testutil.WaitUntil(t, time.Minute, "a pass that left the folder in sync", func() bool {
			st, err := fetchStatus(context.Background(), "http://"+addr+"/status")
			return err == nil && len(st.Folders) == 1 && !st.Folders[0].LastSuccess.IsZero() && st.Folders[0].Files == files
		})
		d.stop()
		r = result{stderr: d.stderr.String()}
		noCrash(t, "run", r)
	} else {
		r = e.run("sync")
		noCrash(t, "sync", r)
		if r.code != 0 {
			t.Fatalf("sync over a damaged db: %v", r)
		}
	}
	if len(img) > 0 {
		if !strings.Contains(r.stderr, "moved aside") {
			t.Errorf("no word that the damaged db was moved aside: %v", r)
		}
		aside, _ := filepath.Glob(e.state + ".damaged-*")
		if len(aside) == 0 {
			t.Errorf("the damaged db was not kept next to the state path")
		}
		for _, p := range aside {
			os.Remove(p)
		}
	}
	reqs := e.requests(before)
	if w := writes(reqs); w != 0 {
		t.Errorf("recovery sent %d writes (%v), want 0: every file was already there", w, reqs)
	}
	if n := reqs[focus.EndpointList]; n != 1 {
		t.Errorf("recovery listed the task %d times, want 1", n)
	}
	if n := len(e.attachments()); n != files {
		t.Errorf("%d attachments, want %d", n, files)
	}
	e.assertMirrors()
	if how == "run" {
		return // the daemon's passes after the first sent nothing (checked above)
	}
	// Converged: the next sync has nothing to do.
	before = e.mark()
	e.sync()
	if n := len(e.srv.Requests()) - before; n != 0 {
		t.Errorf("a second sync sent %d requests, want 0", n)
	}
}

// TestStateDB_ForeignFile: a file of another program at the state path is never
// moved or changed; every command says so and exits 1.
func TestStateDB_ForeignFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.write("a.txt", "a")
	content := []byte("SQLite format 3\x00" + strings.Repeat("x", 10000))
	if err := os.WriteFile(e.state, content, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"status", "check", "sync", "run"} {
		r := e.run(cmd)
		noCrash(t, cmd, r)
		if r.code != 1 || !strings.Contains(r.stderr, "not a focussync state db") ||
			!strings.Contains(r.stderr, "another program") {
			t.Errorf("%s: want exit 1 saying the file may be another program's: %v", cmd, r)
		}
	}
	got, err := os.ReadFile(e.state)
	if err != nil || string(got) != string(content) {
		t.Fatalf("the other program's file was changed (err %v)", err)
	}
	if aside, _ := filepath.Glob(e.state + ".damaged-*"); len(aside) != 0 {
		t.Errorf("moved aside: %v", aside)
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Errorf("%d requests sent, want 0", n)
	}
}

// setListen sets [status] listen in the env's config ("" turns it off).
func setListen(t *testing.T, e *env, addr string) {
	e.writeConfig()
	if addr == "" {
		return
	}
	b, err := os.ReadFile(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), `listen = ""`, fmt.Sprintf("listen = %q", addr), 1)
	if err := os.WriteFile(e.cfg, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
