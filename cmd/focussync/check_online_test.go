package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
)

// onlineConfig is a check config against srv with folders in two organizations:
// tasks 101 and 102 in organization 11, task 201 in organization 12.
func onlineConfig(t *testing.T, srv *focustest.Server, ws int64) string {
	t.Helper()
	path, dir := writeCheckConfig(t, fmt.Sprintf(`[api]
base_url = %q
organization_id = 11
workspace_id = %d
token_file = "token"
[state]
path = "state/state.db"
[[folder]]
path = "a"
task_id = 101
[[folder]]
path = "b"
task_id = 102
[[folder]]
path = "c"
task_id = 201
organization_id = 12
`, srv.URL, ws))
	if err := os.Mkdir(filepath.Join(dir, "c"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheck_Offline_SaysFocusWasNotContacted(t *testing.T) {
	t.Setenv("FOCUS_API_TOKEN", "")
	srv := focustest.NewServer(focustest.Options{Token: "toggl_sk_other"})
	defer srv.Close()
	code, out, errOut := runCheckCmd(t, "check", "--config", onlineConfig(t, srv, 22))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "(not tested)") || !strings.Contains(out, "Focus was not contacted") {
		t.Errorf("stdout does not say the token was not tested:\n%s", out)
	}
	if strings.Contains(out, "token accepted") {
		t.Errorf("stdout claims a test it did not make:\n%s", out)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("plain check sent %d requests, want 0", n)
	}
}

func TestCheck_Online(t *testing.T) {
	t.Setenv("FOCUS_API_TOKEN", "")
	t.Run("good token and ids: one request per organization", func(t *testing.T) {
		srv := focustest.NewServer(focustest.Options{Token: "toggl_sk_test", Quota: 30})
		defer srv.Close()
		code, out, errOut := runCheckCmd(t, "check", "--online", "--config", onlineConfig(t, srv, 22))
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		for _, want := range []string{
			"(2 requests, one per organization)",
			"organization 11: token accepted; workspace 22, task 101 found (0 attachments); quota 29 left",
			"not tested: task 102 (workspace 22)",
			"organization 12: token accepted; workspace 22, task 201 found",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("stdout lacks %q:\n%s", want, out)
			}
		}
		reqs := srv.Requests()
		if len(reqs) != 2 {
			t.Errorf("sent %d requests, want 2 (one per organization): %v", len(reqs), reqs)
		}
		for _, r := range reqs {
			if r.Endpoint != focus.EndpointList {
				t.Errorf("request %v is not a list", r)
			}
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		srv := focustest.NewServer(focustest.Options{Token: "toggl_sk_other"})
		defer srv.Close()
		code, out, errOut := runCheckCmd(t, "check", "--online", "--config", onlineConfig(t, srv, 22))
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		if strings.Contains(out, "token accepted") || !strings.Contains(out, "organization 11: FAILED: the API token was refused") {
			t.Errorf("stdout:\n%s", out)
		}
		if !strings.Contains(errOut, "Focus refused 2 of 2 organizations' checks") {
			t.Errorf("stderr:\n%s", errOut)
		}
	})
	t.Run("wrong workspace", func(t *testing.T) {
		srv := focustest.NewServer(focustest.Options{Token: "toggl_sk_test"})
		defer srv.Close()
		// Task 101 lives in workspace 22; the config says 23.
		c, err := focus.New(focus.Options{BaseURL: srv.URL, Token: "toggl_sk_test", HTTPClient: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.List(context.Background(), focus.Task{OrganizationID: 11, WorkspaceID: 22, TaskID: 101}); err != nil {
			t.Fatal(err)
		}
		code, out, _ := runCheckCmd(t, "check", "--online", "--config", onlineConfig(t, srv, 23))
		if code != 1 || !strings.Contains(out, "organization 11: FAILED: organization 11, workspace 23 or task 101 does not exist for this token") {
			t.Errorf("exit %d, stdout:\n%s", code, out)
		}
	})
}
