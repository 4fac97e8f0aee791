package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/focussync/focussync/daemon"
)

// statusPageScreenshot is where TestStatusPage_Browser keeps its screenshot.
var statusPageScreenshot = filepath.Join(os.TempDir(), "focussync-statuspage.png")

// hostileFolder is a folder name that would run a script if the page put it in
// as HTML instead of text.
const hostileFolder = `/srv/<img src=x onerror="document.title='owned'">`

// findChromium returns the headless browser's path. Without one the test is
// skipped on a developer's machine and fails on CI, where .ci/run installs the
// Debian package chromium.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is missing on CI: .ci/run installs the Debian package chromium")
	}
	t.Skip("chromium is not installed (apt-get install chromium); CI runs this test")
	return ""
}

// newBrowser starts a headless chromium with a fresh profile, closed when the
// test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := findChromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser() // closes the browser and waits for it
		cancelAlloc()
		cancel()
	})
	return bctx
}

// pageState is what a person sees on the page, read from the rendered text.
type pageState struct {
	Rows     map[string]map[string]string `json:"rows"` // folder -> cell class -> text
	Quota    []string                     `json:"quota"`
	Meter    []string                     `json:"meter"` // the gauges' values
	Activity []string                     `json:"activity"`
	Ready    string                       `json:"ready"`
	ReadyWhy string                       `json:"ready_why"` // the reasons shown over "not ready"
	Updated  string                       `json:"updated"`
	Offline  bool                         `json:"offline"`
	Notes    string                       `json:"notes"`
	Title    string                       `json:"title"`
	// Resources are the URLs the page loaded (documents, scripts, fetches).
	Resources []string `json:"resources"`
}

const readPage = `(() => {
	const rows = {};
	for (const tr of document.querySelectorAll("#folders tbody tr[data-folder]")) {
		const cells = {};
		for (const td of tr.querySelectorAll("td")) {
			const cls = td.className.split(" ").find(c => ["path", "state", "pending", "held", "failures", "skipped", "files"].includes(c));
			if (cls) cells[cls] = td.innerText;
		}
		rows[tr.dataset.folder] = cells;
	}
	return {
		rows,
		quota: [...document.querySelectorAll("#quota .quota-text")].map(e => e.innerText),
		meter: [...document.querySelectorAll("#quota meter")].map(e => String(e.value) + "/" + String(e.max)),
		activity: [...document.querySelectorAll("#activity li")].map(e => e.innerText),
		ready: document.getElementById("ready").innerText,
		ready_why: document.getElementById("ready").title,
		updated: document.getElementById("updated").innerText,
		offline: !document.getElementById("offline").hidden,
		notes: [...document.querySelectorAll("tr.notes")].map(e => e.innerText).join("\n"),
		title: document.title,
		resources: [location.href, ...performance.getEntriesByType("resource").map(e => e.name)],
	};
})()`

// TestStatusPage_Browser opens the status page in a real headless chromium and
// checks what a person sees: the folders with their states, pending work, held
// deletes and failures, the quota gauge and the recent activity; that it
// refreshes by itself after a change; that it loads nothing from elsewhere; and
// that a folder name is shown as text, never run as HTML. A screenshot is kept
// at statusPageScreenshot.
func TestStatusPage_Browser(t *testing.T) {
	bctx := newBrowser(t)

	now := time.Now()
	var mu sync.Mutex
	st := sampleStatus(now)
	st.Folders = append(st.Folders, daemon.FolderStatus{Path: hostileFolder, Task: 103, Organization: 11, State: "starting"})
	src := func() daemon.Status {
		mu.Lock()
		defer mu.Unlock()
		return st
	}
	activity := newActivityLog(activitySize)
	log := withActivity(slog.New(slog.DiscardHandler), activity)
	log.Info("uploaded", "folder", "/srv/share/acme", "file", "report.pdf", "size", "12 KiB")
	log.Warn("deletes held back", "folder", oddFolder, "reason", "9 deletes exceed max_delete")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := serveStatus(ctx, "127.0.0.1:0", statusSource{Status: src, Activity: activity}, nil)
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://" + addr + "/"

	if err := chromedp.Do(bctx, chromedp.Navigate(origin)); err != nil {
		t.Fatalf("open %s: %v", origin, err)
	}
	read := func() pageState {
		t.Helper()
		var ps pageState
		raw, err := chromedp.Run(bctx, chromedp.Evaluate[json.RawMessage](readPage))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		if err := json.Unmarshal(raw, &ps); err != nil {
			t.Fatalf("decode the page state: %v\n%s", err, raw)
		}
		return ps
	}
	// waitPage reads the page until ok holds: the page fetches by itself.
	waitPage := func(what string, ok func(pageState) bool) pageState {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			ps := read()
			if ok(ps) {
				return ps
			}
			if time.Now().After(deadline) {
				t.Fatalf("the page never showed %s; it shows:\n%+v", what, ps)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	ps := waitPage("the folders", func(ps pageState) bool { return len(ps.Rows) == 3 })
	acme, odd, hostile := ps.Rows["/srv/share/acme"], ps.Rows[oddFolder], ps.Rows[hostileFolder]
	for _, c := range []struct{ what, got, want string }{
		{"acme path", acme["path"], "/srv/share/acme"},
		{"acme state", acme["state"], "idle"},
		{"acme files", acme["files"], "42"},
		{"acme failures", acme["failures"], "1"},
		{"acme skipped", acme["skipped"], "2"},
		{"acme held", acme["held"], "0"},
		{"odd path", odd["path"], oddFolder},
		{"odd state", odd["state"], "paused"},
		{"odd pending", odd["pending"], "3"},
		{"odd held deletes", odd["held"], "9"},
		{"hostile folder shown as text", hostile["path"], hostileFolder},
		{"hostile state", hostile["state"], "starting"},
		{"readiness", ps.Ready, "not ready"},
		{"title", ps.Title, "focussync status"},
	} {
		if c.got != c.want {
			t.Errorf("%s: the page shows %q, want %q", c.what, c.got, c.want)
		}
	}
	if want := oddFolder + ": paused: folder root is missing"; !strings.Contains(ps.ReadyWhy, want) {
		t.Errorf("the reasons over %q lack %q:\n%s", ps.Ready, want, ps.ReadyWhy)
	}
	for _, want := range []string{"deletes held: 9 deletes exceed max_delete", "paused: folder root is missing", "not synced: big.iso: 400 file too large"} {
		if !strings.Contains(ps.Notes, want) {
			t.Errorf("the folder notes lack %q:\n%s", want, ps.Notes)
		}
	}
	if len(ps.Quota) != 2 || !strings.Contains(ps.Quota[0], "organization 11: 23 requests left, resets at") || !strings.Contains(ps.Quota[1], "organization 12: not known yet") {
		t.Errorf("quota shows %q", ps.Quota)
	}
	if len(ps.Meter) != 1 || ps.Meter[0] != "23/30" {
		t.Errorf("quota gauge = %v, want 23/30", ps.Meter)
	}
	if len(ps.Activity) != 2 || !strings.Contains(ps.Activity[0], "WARN deletes held back "+oddFolder) || !strings.Contains(ps.Activity[1], "uploaded /srv/share/acme report.pdf size=12 KiB") {
		t.Errorf("recent activity shows %q", ps.Activity)
	}

	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(statusPageScreenshot, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", statusPageScreenshot, len(shot))

	// A change in the daemon shows without a reload of the page.
	mu.Lock()
	st.Folders[0].State, st.Folders[0].Pending = "syncing", 5
	st.Folders[1].Held, st.Folders[1].HeldDeletes = "", 0
	st.Quota[0].Remaining = 4
	mu.Unlock()
	log.Info("folder in sync", "folder", oddFolder, "deleted", 9)
	ps = waitPage("the change", func(ps pageState) bool {
		return ps.Rows["/srv/share/acme"]["state"] == "syncing" && ps.Rows[oddFolder]["held"] == "0" &&
			len(ps.Meter) == 1 && ps.Meter[0] == "4/30" && len(ps.Activity) == 3
	})
	if got := ps.Rows["/srv/share/acme"]["pending"]; got != "5" {
		t.Errorf("acme pending after the change: %q, want 5", got)
	}
	if !strings.Contains(ps.Activity[0], "folder in sync") {
		t.Errorf("newest activity = %q", ps.Activity[0])
	}
	if ps.Title != "focussync status" {
		t.Errorf("the page ran a folder name as HTML: title %q", ps.Title)
	}
	for _, u := range ps.Resources {
		if !strings.HasPrefix(u, origin) {
			t.Errorf("the page loaded %s, outside %s", u, origin)
		}
	}

	// The daemon goes away: the page says so and keeps the last view.
	cancel()
	ps = waitPage("that the daemon does not answer", func(ps pageState) bool { return ps.Offline })
	if len(ps.Rows) != 3 {
		t.Errorf("the page dropped the last view when the daemon went away: %d rows", len(ps.Rows))
	}
}
