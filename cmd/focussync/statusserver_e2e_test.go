package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/focussync/focussync/internal/testutil"
)

// statusListenLog matches the status server's address in the daemon's JSON log.
var statusListenLog = regexp.MustCompile(`"page":"http://([0-9.:]+)/"`)

// startDaemonWithStatus runs `focussync run` with its status server on a port
// the kernel picks, and returns the daemon and the server's address.
func (e *env) startDaemonWithStatus() (*daemonProc, string) {
	e.t.Helper()
	b, err := os.ReadFile(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "[status]\nlisten = \"\"", "[status]\nlisten = \"127.0.0.1:0\"", 1)
	if cfg == string(b) {
		e.t.Fatal("the test config has no [status] listen to change")
	}
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o644); err != nil {
		e.t.Fatal(err)
	}
	d := e.startDaemon()
	var addr string
	testutil.WaitUntil(e.t, time.Minute, "the status server's address in the log", func() bool {
		m := statusListenLog.FindStringSubmatch(d.stderr.String())
		if m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	return d, addr
}

// TestRun_StatusServer runs the real daemon with its status server and checks,
// as monitoring would: /healthz, /readyz once the first pass ran and when
// deletes are held, /metrics through the Prometheus parser and promlint with the
// held deletes and the uploads counted, and the status page in chromium showing
// the held deletes.
func TestRun_StatusServer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFolderTOML(`max_delete = "1"`))
	e.writeN(4, "f")
	d, addr := e.startDaemonWithStatus()
	base := "http://" + addr

	testutil.WaitUntil(t, time.Minute, "/readyz 200 after the first pass", func() bool {
		resp, _ := statusGet(t, http.MethodGet, base+"/readyz")
		return resp.StatusCode == http.StatusOK
	})
	if n := len(e.attachments()); n != 4 {
		t.Errorf("ready with %d of 4 files uploaded", n)
	}
	if resp, body := statusGet(t, http.MethodGet, base+"/healthz"); resp.StatusCode != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %s %q", resp.Status, body)
	}
	folder := []string{"folder", e.folder, "task_id", "101"}
	mfs := scrape(t, addr)
	if v := mustValue(t, mfs, "focussync_operations_total", "kind", "upload"); v != 4 {
		t.Errorf("operations_total{kind=upload} = %v, want 4", v)
	}
	if v := mustValue(t, mfs, "focussync_last_success_timestamp_seconds", folder...); v < float64(time.Now().Add(-time.Hour).Unix()) {
		t.Errorf("last success = %v, want a recent time", v)
	}
	if v := mustValue(t, mfs, "focussync_folder_ready", folder...); v != 1 {
		t.Errorf("folder_ready = %v, want 1", v)
	}

	// Two deletes with max_delete = 1: held for a person.
	for _, n := range []string{"f000.txt", "f001.txt"} {
		if err := os.Remove(filepath.Join(e.folder, n)); err != nil {
			t.Fatal(err)
		}
	}
	var rd readiness
	testutil.WaitUntil(t, time.Minute, "/readyz 503 for the held deletes", func() bool {
		resp, body := statusGet(t, http.MethodGet, base+"/readyz")
		if resp.StatusCode != http.StatusServiceUnavailable {
			return false
		}
		if err := json.Unmarshal([]byte(body), &rd); err != nil {
			t.Fatalf("decode /readyz: %v\n%s", err, body)
		}
		return true
	})
	if len(rd.Folders) != 1 || rd.Folders[0].Ready || !strings.HasPrefix(rd.Folders[0].Reason, "deletes held: ") {
		t.Errorf("/readyz = %+v, want the folder not ready because of held deletes", rd)
	}
	mfs = scrape(t, addr)
	if v := mustValue(t, mfs, "focussync_held_deletes", folder...); v != 2 {
		t.Errorf("held_deletes = %v, want 2", v)
	}
	if v := mustValue(t, mfs, "focussync_folder_ready", folder...); v != 0 {
		t.Errorf("folder_ready = %v, want 0", v)
	}
	if n := len(e.attachments()); n != 4 {
		t.Errorf("%d attachments, want the 4 kept while the deletes are held", n)
	}

	// What a person sees on the page.
	bctx := newBrowser(t)
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	sel := `document.querySelector('#folders tr[data-folder="' + CSS.escape(` + jsString(e.folder) + `) + '"] .held')`
	held, err := chromedp.Run(bctx, chromedp.Poll[string](sel+`?.innerText`, chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || held != "2" {
		t.Errorf("the page shows held deletes %q (%v), want 2", held, err)
	}
	activity, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("activity").innerText`))
	if err != nil || !strings.Contains(activity, "deletes held back") {
		t.Errorf("the page's recent activity lacks the held deletes (%v):\n%s", err, activity)
	}
	d.stop()
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
