package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/focussync/focussync/control"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/internal/testutil"
)

// Adversarial end-to-end tests: the real binary against the emulator, with
// settings and situations that try to break the guarantees of DESIGN.md.

// removeFiles removes files from the folder.
func (e *env) removeFiles(names ...string) {
	e.t.Helper()
	for _, n := range names {
		if err := os.Remove(filepath.Join(e.folder, filepath.FromSlash(n))); err != nil {
			e.t.Fatal(err)
		}
	}
}

// handClient is a client standing for a person editing the task in Focus.
func (e *env) handClient() *focus.Client {
	e.t.Helper()
	c, err := focus.New(focus.Options{BaseURL: e.srv.URL, Token: testToken})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) focusTask() focus.Task {
	return focus.Task{OrganizationID: testOrg, WorkspaceID: testWS, TaskID: e.task}
}

// idNamed returns the id of the single live attachment named name.
func (e *env) idNamed(name string) int64 {
	e.t.Helper()
	var ids []int64
	for _, a := range e.attachments() {
		if a.Name == name {
			ids = append(ids, a.ID)
		}
	}
	if len(ids) != 1 {
		e.t.Fatalf("%d live attachments named %s, want 1", len(ids), name)
	}
	return ids[0]
}

func TestAdversarialE2E_VerifyRestoresHandEdits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFolderTOML(`verify = "1s"`))
	e.writeN(3, "v")
	hand := e.srv.Put(testOrg, testWS, e.task, "by hand.txt", []byte("a person's file"), 99999)
	e.sync()
	renamed, deleted := e.idNamed("v000.txt"), e.idNamed("v001.txt")
	c := e.handClient()
	ctx := context.Background()
	if err := c.Update(ctx, e.focusTask(), renamed, "edited in focus.txt", 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, e.focusTask(), deleted); err != nil {
		t.Fatal(err)
	}
	// Once a second has passed, a sync verifies and repairs both edits.
	testutil.WaitUntil(t, 30*time.Second, "a verifying sync", func() bool {
		m := e.mark()
		e.sync()
		return e.requests(m)[focus.EndpointList] > 0
	})
	for _, a := range e.attachments() {
		if a.ID == hand.ID && (a.Name != hand.Name || a.DisplayOrder != hand.DisplayOrder) {
			t.Errorf("the hand-made attachment changed: %+v", a)
		}
	}
	var rest []string
	for _, n := range e.names() {
		if n != hand.Name {
			rest = append(rest, n)
		}
	}
	if want := []string{"v000.txt", "v001.txt", "v002.txt"}; !slices.Equal(rest, want) {
		t.Errorf("names = %v, want %v and the hand-made one", rest, want)
	}
	if e.idNamed("v000.txt") != renamed {
		t.Errorf("the renamed attachment was replaced instead of renamed back")
	}
	if e.idNamed("by hand.txt") != hand.ID {
		t.Errorf("the hand-made attachment is gone")
	}
}

func TestAdversarialE2E_RateLimitRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setenv("FOCUSSYNC_RETRY_INITIAL", "10ms")
	e.writeN(4, "r")
	e.srv.RateLimitNext(focus.EndpointBulk, 1, 2*time.Second)
	e.sync()
	e.assertMirrors()
	var bulks []time.Time
	for _, r := range e.srv.Requests() {
		if r.Endpoint == focus.EndpointBulk {
			bulks = append(bulks, r.Time)
		}
	}
	if len(bulks) != 2 {
		t.Fatalf("%d bulk requests, want the 429 and its retry", len(bulks))
	}
	if gap := bulks[1].Sub(bulks[0]); gap < 2*time.Second {
		t.Errorf("retry came %s after a 429 with Retry-After: 2", gap)
	}
}

// twoFolderQuotaEnv maps a second folder to task 202 beside the first, under a
// quota of 4 requests per 2 s, with 25 files in each.
func twoFolderQuotaEnv(t *testing.T) (e *env, task2 int64) {
	t.Helper()
	task2 = 202
	e = newEnv(t, withQuota(4, 2*time.Second))
	second := filepath.Join(e.dir, "second")
	if err := os.MkdirAll(second, 0o755); err != nil {
		t.Fatal(err)
	}
	e.extra += fmt.Sprintf("\n[[folder]]\npath = %q\ntask_id = %d\n", second, task2)
	e.writeConfig()
	e.writeN(25, "one")
	for i := range 25 {
		p := filepath.Join(second, fmt.Sprintf("two%03d.txt", i))
		if err := os.WriteFile(p, []byte(fmt.Sprintf("second folder %d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return e, task2
}

// checkSharedQuota checks both folders' tasks and that the shared budget sent 3
// bulk uploads per folder with at most one 402 at a window's edge.
func checkSharedQuota(t *testing.T, e *env, task2 int64) {
	t.Helper()
	e.assertMirrors()
	if n := len(e.srv.Attachments(task2)); n != 25 {
		t.Errorf("second folder: %d attachments, want 25", n)
	}
	n402, created := 0, 0
	for _, rq := range e.srv.Requests() {
		if rq.Status == 402 {
			n402++
		}
		if rq.Endpoint == focus.EndpointBulk && rq.Status == 201 {
			created++
		}
	}
	if n402 > 1 {
		t.Errorf("%d requests answered 402; folders of one organization must share the budget", n402)
	}
	if got := e.requests(0); created != 6 || got[focus.EndpointBulk] > 6+n402 {
		t.Errorf("requests = %v (%d bulk created), want 3 bulk uploads per folder", got, created)
	}
}

func TestAdversarialE2E_TwoFoldersShareSmallQuota(t *testing.T) {
	t.Parallel()
	e, task2 := twoFolderQuotaEnv(t)
	e.sync()
	checkSharedQuota(t, e, task2)
}

func TestAdversarialE2E_MaxDeleteCount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFolderTOML(`max_delete = "3"`))
	e.writeN(8, "c")
	e.sync()
	e.removeFiles("c000.txt", "c001.txt", "c002.txt", "c003.txt")
	m := e.mark()
	r := e.run("sync")
	if r.code == 0 || !strings.Contains(r.stdout, "HELD") {
		t.Errorf("4 deletes over max_delete 3: want held and exit non-zero, got %v", r)
	}
	if n := e.requests(m)[focus.EndpointDelete]; n != 0 {
		t.Errorf("%d deletes went through the guard", n)
	}
	// Three deletes are within the bound.
	e.write("c000.txt", "content of c 0\n")
	m = e.mark()
	e.sync()
	if n := e.requests(m)[focus.EndpointDelete]; n != 3 {
		t.Errorf("%d deletes, want 3 (at the bound)", n)
	}
	e.assertMirrors()
}

func TestAdversarialE2E_MaxDeletePercent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFolderTOML(`max_delete = "20%"`))
	e.writeN(12, "p")
	e.sync()
	e.removeFiles("p000.txt", "p001.txt", "p002.txt") // 25%
	m := e.mark()
	r := e.run("sync")
	if r.code == 0 || !strings.Contains(r.stdout, "HELD") || e.requests(m)[focus.EndpointDelete] != 0 {
		t.Errorf("3 of 12 deletes over 20%%: want held, no delete; got %v, %v", r, e.requests(m))
	}
	e.write("p000.txt", "content of p 0\n") // now 2 of 12: 16.7%
	m = e.mark()
	e.sync()
	if n := e.requests(m)[focus.EndpointDelete]; n != 2 {
		t.Errorf("%d deletes, want 2 (under 20%%)", n)
	}
	e.assertMirrors()
}

func TestAdversarialE2E_DeleteRemoteFalseKeepsAttachments(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFolderTOML(`delete_remote = false`))
	e.writeN(4, "k")
	e.sync()
	e.removeFiles("k001.txt", "k002.txt")
	m := e.mark()
	e.sync()
	if n := e.requests(m)[focus.EndpointDelete]; n != 0 {
		t.Errorf("delete_remote = false sent %d deletes", n)
	}
	if n := len(e.attachments()); n != 4 {
		t.Errorf("%d attachments, want all 4 kept", n)
	}
	// The same file back: nothing to send.
	e.write("k001.txt", "content of k 1\n")
	m = e.mark()
	e.sync()
	if w := writes(e.requests(m)); w != 0 {
		t.Errorf("a kept file coming back cost %d writes", w)
	}
	if n := len(e.attachments()); n != 4 {
		t.Errorf("%d attachments, want 4", n)
	}
}

// chtime sets a file's mtime to base plus offset seconds.
func (e *env) chtime(name string, base time.Time, offset int) {
	e.t.Helper()
	ts := base.Add(time.Duration(offset) * time.Second)
	if err := os.Chtimes(filepath.Join(e.folder, name), ts, ts); err != nil {
		e.t.Fatal(err)
	}
}

func TestAdversarialE2E_OrderMtime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFolderTOML(`order = "mtime"`))
	base := time.Now().Add(-time.Hour)
	for i, n := range []string{"c.txt", "a.txt", "b.txt"} {
		e.write(n, "file "+n)
		e.chtime(n, base, i)
	}
	e.sync()
	if got, want := e.names(), []string{"c.txt", "a.txt", "b.txt"}; !slices.Equal(got, want) {
		t.Errorf("order mtime: names = %v, want %v (oldest first)", got, want)
	}
	// c.txt is edited: it is the newest now.
	e.write("c.txt", "file c.txt, edited")
	e.sync()
	if got, want := e.names(), []string{"a.txt", "b.txt", "c.txt"}; !slices.Equal(got, want) {
		t.Errorf("after editing c.txt: names = %v, want %v", got, want)
	}
	e.assertMirrors()
}

func TestAdversarialE2E_OrderNoneKeepsHandOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFolderTOML("order = \"none\"\nverify = \"1s\""))
	for _, n := range []string{"a.txt", "b.txt", "c.txt"} {
		e.write(n, "file "+n)
	}
	e.sync()
	// A person puts c.txt first in Focus.
	c := e.handClient()
	if err := c.Update(context.Background(), e.focusTask(), e.idNamed("c.txt"), "c.txt", -5000); err != nil {
		t.Fatal(err)
	}
	e.write("d.txt", "file d.txt")
	m := e.mark()
	testutil.WaitUntil(t, 30*time.Second, "a verifying sync", func() bool {
		mm := e.mark()
		e.sync()
		return e.requests(mm)[focus.EndpointList] > 0
	})
	if n := e.requests(m)[focus.EndpointUpdate]; n != 0 {
		t.Errorf("order none sent %d updates", n)
	}
	names := e.names()
	if len(names) != 4 || names[0] != "c.txt" {
		t.Errorf("order none: names = %v, want c.txt still first and d.txt added", names)
	}
	e.assertMirrors()
}

func TestAdversarialE2E_RecursiveMoveIsOneUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFolderTOML(`recursive = true`))
	e.write("a/x.txt", "moved between subfolders")
	e.write("a/y.txt", "stays")
	e.write("top.txt", "top")
	e.sync()
	id := e.idNamed("a/x.txt")
	if err := os.MkdirAll(filepath.Join(e.folder, "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(e.folder, "a", "x.txt"), filepath.Join(e.folder, "b", "x.txt")); err != nil {
		t.Fatal(err)
	}
	m := e.mark()
	e.sync()
	got := e.requests(m)
	if writes(got) != 1 || got[focus.EndpointUpdate] != 1 {
		t.Errorf("move between subfolders: %v, want one update", got)
	}
	if e.idNamed("b/x.txt") != id {
		t.Errorf("the moved file was uploaded again")
	}
	e.assertMirrors()
}

func TestAdversarialE2E_MissingMarkerPauses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFolderTOML(`marker = ".focussync"`))
	e.writeN(3, "m")
	r := e.run("sync")
	if r.code == 0 || !strings.Contains(r.stdout, "PAUSED") || !strings.Contains(r.stdout, ".focussync") {
		t.Errorf("missing marker: want paused naming the marker, exit non-zero; got %v", r)
	}
	if w := writes(e.requests(0)); w != 0 {
		t.Errorf("missing marker: %d writes", w)
	}
	e.write(".focussync", "")
	e.sync()
	e.assertMirrors()
	if e.attachmentNamed(".focussync") {
		t.Errorf("the marker itself was uploaded")
	}
	// The marker goes away (a share unmounted under a mount point that still has
	// files, say): nothing is deleted or uploaded.
	e.removeFiles(".focussync", "m000.txt")
	e.write("new.txt", "new")
	m := e.mark()
	if r := e.run("sync"); r.code == 0 {
		t.Errorf("marker removed: want a paused folder, got %v", r)
	}
	if w := writes(e.requests(m)); w != 0 {
		t.Errorf("marker removed: %d writes", w)
	}
	e.write(".focussync", "")
	e.sync()
	e.assertMirrors()
}

func TestAdversarialE2E_SyncWhileDaemonHoldsStateDB(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeN(2, "d")
	d := e.startDaemon()
	testutil.WaitUntil(t, 30*time.Second, "the daemon's first sync", func() bool { return len(e.attachments()) == 2 })

	// The daemon answers on its control socket: `sync` has it run the pass.
	if r := e.run("sync"); r.code != 0 || !strings.Contains(r.stderr, "the running daemon ran the pass") {
		t.Fatalf("sync while the daemon runs:\n%v", r)
	}
	// A holder that does not answer on a socket (here: the socket is gone) leaves
	// `sync` a locked db, which it must name, at once.
	if err := os.Remove(control.Endpoint(e.state)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := e.command(ctx, "sync")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("sync on a locked state db did not return within 20s:\n%s", out.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Errorf("sync on a locked state db: err %v, want a non-zero exit\n%s", err, out.String())
	}
	msg := out.String()
	if !strings.Contains(msg, e.state) || !strings.Contains(msg, "another focussync") {
		t.Errorf("the message should name %s and say another focussync holds it:\n%s", e.state, msg)
	}
	d.stop()
}

func TestAdversarialE2E_StateDBPrivateAndTokenNeverLogged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if err := os.Remove(filepath.Dir(e.state)); err != nil {
		t.Fatal(err)
	}
	// Debug logs, as text; the [log] table goes between [api] and [state].
	e.extraAPI = "\n[log]\nlevel = \"debug\"\nformat = \"text\"\n"
	e.writeConfig()
	e.writeN(2, "s")
	e.srv.FailNext(focus.EndpointList, 1, 500) // a retry gets logged at debug level
	e.srv.FailNext(focus.EndpointBulk, 1, 500) // a failure gets logged with its request
	e.setenv("FOCUSSYNC_RETRY_INITIAL", "10ms")
	r := e.sync()
	if !strings.Contains(r.stderr+r.stdout, "level=DEBUG") {
		t.Errorf("no debug line was logged; the test proves nothing:\n%v", r)
	}
	if strings.Contains(r.stdout+r.stderr, testToken) || strings.Contains(r.stdout+r.stderr, "toggl_sk_") {
		t.Errorf("the token appears in the output:\n%v", r)
	}
	fi, err := os.Stat(e.state)
	if err != nil {
		t.Fatalf("state db: %v\n%v", err, r)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("state db mode %v, want 0600", perm)
	}
}

func TestAdversarialE2E_RefusedTokenWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeN(3, "t")
	cmd := e.command(context.Background(), "sync")
	cmd.Env = append(cmd.Env, "FOCUS_API_TOKEN=toggl_sk_wrong")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Errorf("sync with a refused token: err %v, want a non-zero exit\n%s", err, out.String())
	}
	if w := writes(e.requests(0)); w != 0 {
		t.Errorf("a refused token still sent %d writes", w)
	}
	if n := len(e.srv.Requests()); n > 2 {
		t.Errorf("a refused token kept trying: %d requests", n)
	}
	if !strings.Contains(strings.ToLower(out.String()), "token") || strings.Contains(out.String(), "toggl_sk_wrong") {
		t.Errorf("the message should point at the token without printing it:\n%s", out.String())
	}
}

func TestAdversarialE2E_DaemonEditorSaves(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFolderTOML(`settle = "1s"`))
	e.write("doc.txt", "first draft")
	e.write("other.txt", "other")
	d := e.startDaemon()
	testutil.WaitUntil(t, 30*time.Second, "the initial upload", func() bool { return e.hasAttachment("doc.txt", "first draft") })

	t.Run("write a temporary file, rename it over", func(t *testing.T) {
		m := e.mark()
		e.write("doc.txt.tmp", "second draft, saved atomically")
		if err := os.Rename(filepath.Join(e.folder, "doc.txt.tmp"), filepath.Join(e.folder, "doc.txt")); err != nil {
			t.Fatal(err)
		}
		testutil.WaitUntil(t, 30*time.Second, "the new version alone", func() bool {
			return e.hasAttachment("doc.txt", "second draft, saved atomically") && len(e.attachments()) == 2
		})
		testutil.WaitUntil(t, 10*time.Second, "the requests in the log", func() bool { return e.requests(m)[focus.EndpointDelete] >= 1 })
		got := e.requests(m)
		if got[focus.EndpointCreate]+got[focus.EndpointBulk] != 1 || got[focus.EndpointDelete] != 1 {
			t.Errorf("an atomic save cost %v, want one upload and one delete", got)
		}
		for _, a := range e.srv.AllAttachments(e.task) {
			if a.Name == "doc.txt.tmp" {
				t.Errorf("the temporary file was uploaded (attachment %d)", a.ID)
			}
		}
	})
	t.Run("rename to a backup, write anew, remove the backup", func(t *testing.T) {
		m := e.mark()
		if err := os.Rename(filepath.Join(e.folder, "doc.txt"), filepath.Join(e.folder, "doc.txt.bak")); err != nil {
			t.Fatal(err)
		}
		e.write("doc.txt", "third draft")
		e.removeFiles("doc.txt.bak")
		testutil.WaitUntil(t, 30*time.Second, "the third draft alone", func() bool {
			return e.hasAttachment("doc.txt", "third draft") && len(e.attachments()) == 2
		})
		testutil.WaitUntil(t, 10*time.Second, "the requests in the log", func() bool { return e.requests(m)[focus.EndpointDelete] >= 1 })
		got := e.requests(m)
		if got[focus.EndpointCreate]+got[focus.EndpointBulk] != 1 || got[focus.EndpointDelete] != 1 {
			t.Errorf("a save through a backup cost %v, want one upload and one delete", got)
		}
	})
	d.stop()
	e.assertMirrors()
}

func TestAdversarialE2E_DaemonFolderRemovedFromConfigIsLeftAlone(t *testing.T) {
	t.Parallel()
	const task2 = 202
	e := newEnv(t)
	second := filepath.Join(e.dir, "second")
	if err := os.MkdirAll(second, 0o755); err != nil {
		t.Fatal(err)
	}
	e.extra = fmt.Sprintf("\n[[folder]]\npath = %q\ntask_id = %d\n", second, task2)
	e.writeConfig()
	e.write("one.txt", "one")
	for _, n := range []string{"a.txt", "b.txt"} {
		if err := os.WriteFile(filepath.Join(second, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d := e.startDaemon()
	testutil.WaitUntil(t, 30*time.Second, "both folders synced", func() bool {
		return len(e.attachments()) == 1 && len(e.srv.Attachments(task2)) == 2
	})
	// The second folder leaves the config.
	e.extra = ""
	e.writeConfig()
	d.signal(syscall.SIGHUP)
	testutil.WaitUntil(t, 30*time.Second, "the reload", func() bool { return strings.Contains(d.stderr.String(), "folder removed from sync") })
	m := e.mark()
	if err := os.Remove(filepath.Join(second, "a.txt")); err != nil {
		t.Fatal(err)
	}
	// The first folder still syncs: a new file there goes up.
	e.write("two.txt", "two")
	testutil.WaitUntil(t, 30*time.Second, "two.txt", func() bool { return e.hasAttachment("two.txt", "two") })
	d.stop()
	for _, r := range e.srv.Requests()[m:] {
		if r.TaskID == task2 {
			t.Errorf("a folder removed from the config got a request: %s %s", r.Method, r.Path)
		}
	}
	if n := len(e.srv.Attachments(task2)); n != 2 {
		t.Errorf("task of the removed folder: %d attachments, want 2 kept", n)
	}
}

func TestAdversarialE2E_DaemonTwoFoldersShareSmallQuota(t *testing.T) {
	t.Parallel()
	e, task2 := twoFolderQuotaEnv(t)
	d := e.startDaemon()
	testutil.WaitUntil(t, 60*time.Second, "both folders synced", func() bool {
		return len(e.attachments()) == 25 && len(e.srv.Attachments(task2)) == 25
	})
	d.stop()
	checkSharedQuota(t, e, task2)
}

func TestAdversarialE2E_DryRunCostMatchesTheSync(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.writeN(6, "d")
	e.sync()
	e.write("new1.txt", "new one")
	e.write("new2.txt", "new two")
	e.write("d001.txt", "changed content of d001")
	if err := os.Rename(filepath.Join(e.folder, "d002.txt"), filepath.Join(e.folder, "moved.txt")); err != nil {
		t.Fatal(err)
	}
	e.removeFiles("d003.txt")
	m := e.mark()
	dry := e.sync("--dry-run")
	again := e.sync("--dry-run")
	if writes(e.requests(m)) != 0 {
		t.Fatalf("a dry run sent writes: %v", e.requests(m))
	}
	if dry.stdout != again.stdout {
		t.Errorf("a dry run changed what the next one plans:\n%s\n---\n%s", dry.stdout, again.stdout)
	}
	var cost int
	for _, line := range strings.Split(dry.stdout, "\n") {
		if i := strings.Index(line, "cost: "); i >= 0 {
			fmt.Sscanf(line[i:], "cost: %d", &cost)
		}
	}
	m = e.mark()
	e.sync()
	if got := writes(e.requests(m)); got != cost || cost != 4 {
		t.Errorf("dry run said %d writes, the sync sent %d (%v); want 4: one bulk, the old d001, d003, one rename\n%s", cost, got, e.requests(m), dry.stdout)
	}
	e.assertMirrors()
}

func TestAdversarialE2E_DaemonRenameIsNotReportedAsFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFolderTOML(`settle = "1s"`))
	e.write("draft.txt", "a document")
	e.write("other.txt", "other")
	d := e.startDaemon()
	testutil.WaitUntil(t, 30*time.Second, "the initial upload", func() bool { return len(e.attachments()) == 2 })
	m := e.mark()
	if err := os.Rename(filepath.Join(e.folder, "draft.txt"), filepath.Join(e.folder, "final.txt")); err != nil {
		t.Fatal(err)
	}
	testutil.WaitUntil(t, 30*time.Second, "the rename", func() bool { return e.attachmentNamed("final.txt") })
	d.stop()
	if got := e.requests(m); writes(got) != 1 || got[focus.EndpointUpdate] != 1 {
		t.Errorf("a rename in the daemon cost %v, want one update", got)
	}
	if log := d.stderr.String(); strings.Contains(log, "file not synced") || strings.Contains(log, "did not complete") {
		t.Errorf("a plain rename was reported as a failure:\n%s", log)
	}
}
