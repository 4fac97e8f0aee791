package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/focussync/focussync/focus"
)

// head is the start of most test files: 5 lines, so the first [[folder]] of a
// test body is on line 6.
const head = `[api]
organization_id = 11
workspace_id = 22
[state]
path = "state.db"
`

// testDir returns a directory holding subdirectories a, b, a/inner and c, and
// a regular file "file", for test configs to name with relative paths.
func testDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	for _, d := range []string{"a", "b", "c", filepath.Join("a", "inner")} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte("x"), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// parse parses body as dir/config.toml.
func parse(tb testing.TB, body string) (*Config, string, error) {
	tb.Helper()
	dir := testDir(tb)
	c, err := Parse([]byte(body), filepath.Join(dir, "config.toml"))
	return c, dir, err
}

// mustParse parses body and fails the test on an error.
func mustParse(tb testing.TB, body string) (*Config, string) {
	tb.Helper()
	c, dir, err := parse(tb, body)
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return c, dir
}

func TestParse_Defaults(t *testing.T) {
	c, dir := mustParse(t, head+"[[folder]]\npath = \"a\"\ntask_id = 101\n")
	if got, want := c.Path, filepath.Join(dir, "config.toml"); got != want {
		t.Errorf("Path = %q, want %q", got, want)
	}
	wantAPI := API{BaseURL: "https://focus.toggl.com/api", OrganizationID: 11, WorkspaceID: 22}
	if c.API != wantAPI {
		t.Errorf("API = %+v, want %+v", c.API, wantAPI)
	}
	if got, want := c.State.Path, filepath.Join(dir, "state.db"); got != want {
		t.Errorf("State.Path = %q, want %q", got, want)
	}
	if want := (Log{Level: "info", Format: "auto"}); c.Log != want {
		t.Errorf("Log = %+v, want %+v", c.Log, want)
	}
	if want := (Status{Listen: "127.0.0.1:7788"}); c.Status != want {
		t.Errorf("Status = %+v, want %+v", c.Status, want)
	}
	want := Folder{
		Path: filepath.Join(dir, "a"), TaskID: 101, OrganizationID: 11, WorkspaceID: 22,
		Settle: 3 * time.Second, Rescan: 10 * time.Minute, Verify: 24 * time.Hour,
		Watch: "auto", Order: "name", DeleteRemote: true,
		MaxDelete: Limit{Percent: 50}, MaxFileSize: 100 << 20,
	}
	if len(c.Folders) != 1 {
		t.Fatalf("got %d folders, want 1", len(c.Folders))
	}
	if got := c.Folders[0]; !equalFolder(got, want) {
		t.Errorf("folder:\n got %+v\nwant %+v", got, want)
	}
	if got, want := c.Folders[0].Task(), (focus.Task{OrganizationID: 11, WorkspaceID: 22, TaskID: 101}); got != want {
		t.Errorf("Task() = %+v, want %+v", got, want)
	}
}

func equalFolder(a, b Folder) bool {
	return slices.Equal(a.Include, b.Include) && slices.Equal(a.Exclude, b.Exclude) &&
		a.Path == b.Path && a.TaskID == b.TaskID && a.OrganizationID == b.OrganizationID &&
		a.WorkspaceID == b.WorkspaceID && a.Recursive == b.Recursive && a.Settle == b.Settle &&
		a.Rescan == b.Rescan && a.Verify == b.Verify && a.Watch == b.Watch && a.Order == b.Order &&
		a.DeleteRemote == b.DeleteRemote && a.MaxDelete == b.MaxDelete &&
		a.MaxFileSize == b.MaxFileSize && a.Marker == b.Marker
}

func TestParse_Precedence(t *testing.T) {
	c, dir := mustParse(t, head+`
[defaults]
recursive = true
include = ["*.pdf", "**/*.docx"]
settle = "5s"
rescan = "1d"
order = "mtime"
delete_remote = false
max_delete = 20
max_file_size = "5MB"
marker = ".mounted"

[[folder]]
path = "a"
task_id = 101
settle = "1m"
include = ["*.txt"]
max_delete = "10%"
delete_remote = true
workspace_id = 33

[[folder]]
path = "b"
task_id = 102
organization_id = 44
watch = "poll"
max_file_size = 1024
`)
	a := Folder{
		Path: filepath.Join(dir, "a"), TaskID: 101, OrganizationID: 11, WorkspaceID: 33,
		Recursive: true, Include: []string{"*.txt"},
		Settle: time.Minute, Rescan: 24 * time.Hour, Verify: 24 * time.Hour,
		Watch: "auto", Order: "mtime", DeleteRemote: true,
		MaxDelete: Limit{Percent: 10}, MaxFileSize: 5_000_000, Marker: ".mounted",
	}
	b := Folder{
		Path: filepath.Join(dir, "b"), TaskID: 102, OrganizationID: 44, WorkspaceID: 22,
		Recursive: true, Include: []string{"*.pdf", "**/*.docx"},
		Settle: 5 * time.Second, Rescan: 24 * time.Hour, Verify: 24 * time.Hour,
		Watch: "poll", Order: "mtime", DeleteRemote: false,
		MaxDelete: Limit{Count: 20}, MaxFileSize: 1024, Marker: ".mounted",
	}
	for i, want := range []Folder{a, b} {
		if got := c.Folders[i]; !equalFolder(got, want) {
			t.Errorf("folder[%d]:\n got %+v\nwant %+v", i+1, got, want)
		}
	}
	// The folders must not share the defaults' slices.
	c.Folders[1].Include[0] = "changed"
	if c.Folders[0].Include[0] != "*.txt" {
		t.Errorf("folders share an include slice")
	}
}

func TestParse_OptionalTopLevel(t *testing.T) {
	c, _ := mustParse(t, head+`[log]
level = "debug"
format = "json"
[status]
listen = ""
[[folder]]
path = "a"
task_id = 1
`)
	if c.Log.Level != "debug" || c.Log.Format != "json" || c.Status.Listen != "" {
		t.Errorf("got Log %+v Status %+v", c.Log, c.Status)
	}
}

func TestParse_AbsolutePathAndTrailingSlash(t *testing.T) {
	dir := testDir(t)
	body := head + "[[folder]]\npath = \"" + filepath.ToSlash(filepath.Join(dir, "b")) + "/\"\ntask_id = 1\n"
	c, err := Parse([]byte(body), filepath.Join(dir, "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Folders[0].Path, filepath.Join(dir, "b"); got != want {
		t.Errorf("Path = %q, want %q", got, want)
	}
}

func TestLoad(t *testing.T) {
	dir := testDir(t)
	name := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(name, []byte(head+"[[folder]]\npath = \"c\"\ntask_id = 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(name)
	if err != nil {
		t.Fatal(err)
	}
	if c.Folders[0].Path != filepath.Join(dir, "c") || c.Path != name {
		t.Errorf("got folder %q, config %q", c.Folders[0].Path, c.Path)
	}
	if _, err := Load(filepath.Join(dir, "missing.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
}

func TestParse_ByteOrderMark(t *testing.T) {
	c, _ := mustParse(t, "\ufeff"+head+"[[folder]]\npath = \"a\"\ntask_id = 9\n")
	if c.Folders[0].TaskID != 9 {
		t.Errorf("TaskID = %d, want 9", c.Folders[0].TaskID)
	}
	_, _, err := parse(t, "\ufeff"+head+"[[folder]]\npath = \"a\"\ntask_id = 0\n")
	if err == nil || !strings.Contains(err.Error(), "config.toml:8: folder[1].task_id") {
		t.Errorf("error = %v, want it on line 8", err)
	}
}

func TestParse_StateDirNotCreated(t *testing.T) {
	c, dir := mustParse(t, "[api]\norganization_id = 1\nworkspace_id = 2\n[state]\npath = \"new/deeper/state.db\"\n"+folder1)
	if got, want := c.State.Path, filepath.Join(dir, "new", "deeper", "state.db"); got != want {
		t.Errorf("State.Path = %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Parse created the state directory (stat: %v)", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".focussync-check-") {
			t.Errorf("Parse left %s behind", e.Name())
		}
	}
}
