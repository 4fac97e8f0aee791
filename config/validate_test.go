package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// folder1 is a valid [[folder]] on lines 6-8 after head.
const folder1 = "[[folder]]\npath = \"a\"\ntask_id = 101\n"

// validationCases are configurations with exactly one problem, and what its
// message must contain. They seed FuzzParse too.
var validationCases = []struct {
	name string
	body string
	want []string
}{
	{"no folder", head, []string{"config.toml: folder: no [[folder]]"}},
	{"path missing", head + "[[folder]]\ntask_id = 1\n", []string{"config.toml:6: folder[1].path: is required"}},
	{"path empty", head + "[[folder]]\npath = \"\"\ntask_id = 1\n", []string{"config.toml:7: folder[1].path: is required"}},
	{"path no such directory", head + "[[folder]]\npath = \"nope\"\ntask_id = 1\n", []string{"config.toml:7: folder[1].path: ", "nope: no such directory"}},
	{"path with tilde", head + "[[folder]]\npath = \"~/docs\"\ntask_id = 1\n", []string{"config.toml:7: folder[1].path: ", "(~ is not expanded: write the full path)"}},
	{"path not a directory", head + "[[folder]]\npath = \"file\"\ntask_id = 1\n", []string{"config.toml:7: folder[1].path: ", "file: not a directory"}},
	{"task_id missing", head + "[[folder]]\npath = \"a\"\n", []string{"config.toml:6: folder[1].task_id: is required"}},
	{"task_id zero", head + "[[folder]]\npath = \"a\"\ntask_id = 0\n", []string{"config.toml:8: folder[1].task_id: must be greater than 0 (got 0)"}},
	{"task_id negative", head + folder1 + "[[folder]]\npath = \"b\"\ntask_id = -4\n", []string{"config.toml:11: folder[2].task_id: must be greater than 0 (got -4)"}},
	{"task_id string", head + "[[folder]]\npath = \"a\"\ntask_id = \"101\"\n", []string{"config.toml:8:11: folder[1].task_id: must be an integer (got a TOML string)"}},
	{"organization missing", "[state]\npath = \"s.db\"\n[[folder]]\npath = \"a\"\ntask_id = 1\nworkspace_id = 2\n", []string{"config.toml:3: folder[1].organization_id: is required"}},
	{"workspace missing", "[api]\norganization_id = 1\n[[folder]]\npath = \"a\"\ntask_id = 1\n", []string{"config.toml:3: folder[1].workspace_id: is required"}},
	{"folder organization zero", head + folder1 + "organization_id = 0\n", []string{"config.toml:9: folder[1].organization_id: must be greater than 0"}},
	{"api organization negative", "[api]\norganization_id = -1\nworkspace_id = 2\n" + folder1, []string{"config.toml:2: api.organization_id: must be greater than 0 (got -1)"}},
	{"api workspace zero", "[api]\norganization_id = 1\nworkspace_id = 0\n" + folder1, []string{"config.toml:3: api.workspace_id: must be greater than 0"}},
	{"settle negative", head + folder1 + "settle = \"-3s\"\n", []string{`config.toml:9: folder[1].settle: must be greater than 0 (got "-3s")`}},
	{"settle zero", head + folder1 + "settle = \"0s\"\n", []string{`config.toml:9: folder[1].settle: must be greater than 0 (got "0s")`}},
	{"settle not a duration", head + folder1 + "settle = \"soon\"\n", []string{`config.toml:9: folder[1].settle: not a duration`, `"soon"`}},
	{"settle integer", head + folder1 + "settle = 3\n", []string{`config.toml:9:10: folder[1].settle: must be a string (got a TOML integer)`}},
	{"rescan in defaults", head + "[defaults]\nrescan = \"0\"\n" + folder1, []string{`config.toml:7: defaults.rescan: must be greater than 0`}},
	{"verify bad days", head + folder1 + "verify = \"xd\"\n", []string{`config.toml:9: folder[1].verify: not a duration`}},
	{"watch", head + folder1 + "watch = \"inotify\"\n", []string{`config.toml:9: folder[1].watch: must be one of auto, events, poll (got "inotify")`}},
	{"order", head + "[defaults]\norder = \"size\"\n" + folder1, []string{`config.toml:7: defaults.order: must be one of name, mtime, none`}},
	{"log level", head + "[log]\nlevel = \"trace\"\n" + folder1, []string{`config.toml:7: log.level: must be one of debug, info, warn, error (got "trace")`}},
	{"log format", head + "[log]\nformat = \"xml\"\n" + folder1, []string{`config.toml:7: log.format: must be one of auto, text, json`}},
	{"max_delete zero", head + folder1 + "max_delete = \"0\"\n", []string{`config.toml:9: folder[1].max_delete: must be a positive count`}},
	{"max_delete zero integer", head + folder1 + "max_delete = 0\n", []string{`config.toml:9: folder[1].max_delete: must be a positive count`}},
	{"max_delete over 100%", head + folder1 + "max_delete = \"150%\"\n", []string{`config.toml:9: folder[1].max_delete: must be a percent in (0%, 100%] (got "150%")`}},
	{"max_delete 0%", head + folder1 + "max_delete = \"0%\"\n", []string{`folder[1].max_delete: must be a percent`}},
	{"max_delete words", head + folder1 + "max_delete = \"half\"\n", []string{`config.toml:9: folder[1].max_delete: must be a positive count ("20") or a percent ("50%") (got "half")`}},
	{"max_delete boolean", head + folder1 + "max_delete = true\n", []string{`config.toml:9: folder[1].max_delete: must be a count ("20") or a percent ("50%") (got a boolean)`}},
	{"max_file_size zero", head + folder1 + "max_file_size = \"0\"\n", []string{`config.toml:9: folder[1].max_file_size: must be greater than 0`}},
	{"max_file_size negative", head + "[defaults]\nmax_file_size = -1\n" + folder1, []string{`config.toml:7: defaults.max_file_size: must be greater than 0 (got -1)`}},
	{"max_file_size words", head + folder1 + "max_file_size = \"big\"\n", []string{`config.toml:9: folder[1].max_file_size: must be a size like`}},
	{"max_file_size float", head + folder1 + "max_file_size = 1.5\n", []string{`config.toml:9: folder[1].max_file_size: must be a size like "100MiB" (got a float)`}},
	{"include bad glob", head + folder1 + "include = [\"*.pdf\", \"[a\"]\n", []string{`config.toml:9: folder[1].include: bad pattern "[a"`}},
	{"exclude empty glob", head + "[defaults]\nexclude = [\"\"]\n" + folder1, []string{`config.toml:7: defaults.exclude: empty pattern`}},
	{"include not strings", head + folder1 + "include = [1]\n", []string{`config.toml:9:`, `folder[1].include: must be a string (got a TOML integer)`}},
	{"marker with slash", head + folder1 + "marker = \"sub/.mounted\"\n", []string{`config.toml:9: folder[1].marker: must be a plain file name`}},
	{"marker dotdot", head + "[defaults]\nmarker = \"..\"\n" + folder1, []string{`config.toml:7: defaults.marker: must be a plain file name`}},
	{"same path", head + folder1 + "[[folder]]\npath = \"a/\"\ntask_id = 102\n", []string{`config.toml:10: folder[2].path: same directory as folder[1] (`}},
	{"inside another", head + folder1 + "[[folder]]\npath = \"a/inner\"\ntask_id = 102\n", []string{`config.toml:10: folder[2].path: inside folder[1] (`}},
	{"contains another", head + "[[folder]]\npath = \"a/inner\"\ntask_id = 101\n[[folder]]\npath = \"a\"\ntask_id = 102\n", []string{`config.toml:10: folder[2].path: contains folder[1] (`}},
	{"same task", head + folder1 + "[[folder]]\npath = \"b\"\ntask_id = 101\n", []string{`config.toml:11: folder[2].task_id: task 101 in organization 11 is already mirrored by folder[1]`}},
	{"base_url not absolute", "[api]\nbase_url = \"focus.toggl.com/api\"\norganization_id = 1\nworkspace_id = 2\n" + folder1, []string{`config.toml:2: api.base_url: must be an absolute http or https URL`}},
	{"base_url ftp", "[api]\nbase_url = \"ftp://focus.toggl.com/api\"\norganization_id = 1\nworkspace_id = 2\n" + folder1, []string{`config.toml:2: api.base_url: must be an absolute http or https URL`}},
	{"token_file empty", "[api]\ntoken_file = \"\"\norganization_id = 1\nworkspace_id = 2\n" + folder1, []string{`config.toml:2: api.token_file: is empty`}},
	{"listen no port", head + "[status]\nlisten = \"7788\"\n" + folder1, []string{`config.toml:7: status.listen: must be host:port`}},
	{"listen port name", head + "[status]\nlisten = \"localhost:http\"\n" + folder1, []string{`config.toml:7: status.listen: port must be a number`}},
	{"state path under a file", "[api]\norganization_id = 1\nworkspace_id = 2\n[state]\npath = \"file/state.db\"\n" + folder1, []string{`config.toml:5: state.path: `, `file: not a directory`}},
	{"state path in a folder", "[api]\norganization_id = 1\nworkspace_id = 2\n[state]\npath = \"a/state.db\"\n" + folder1, []string{`config.toml:5: state.path: `, `lies inside the watched folder folder[1]`}},
	{"state path below a recursive folder", "[api]\norganization_id = 1\nworkspace_id = 2\n[state]\npath = \"a/inner/state.db\"\n" + folder1 + "recursive = true\n", []string{`config.toml:5: state.path: `, `lies inside the watched folder folder[1]`}},
	{"state path empty", "[api]\norganization_id = 1\nworkspace_id = 2\n[state]\npath = \"\"\n" + folder1, []string{`config.toml:5: state.path: is empty`}},
	{"inline folder tables", "folder = [\n  {path = \"a\", task_id = 1},\n  {path = \"b\", task_id = -1},\n]\n" + head, []string{"config.toml:3: folder[2].task_id: must be greater than 0 (got -1)"}},
	{"inline api table", "api = {organization_id = 1, workspace_id = 0}\n[state]\npath = \"s.db\"\n" + folder1, []string{"config.toml:1: api.workspace_id: must be greater than 0"}},
	{"folder not a table array", "folder = 3\n" + head, []string{`config.toml:1:10: folder: must be an array of tables ([[folder]]) (got a TOML integer)`}},
}

func TestParse_ValidationErrors(t *testing.T) {
	for _, tc := range validationCases {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := parse(t, tc.body)
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want an error", c)
			}
			if c != nil {
				t.Errorf("Parse returned a Config with an error")
			}
			errs := flatten(err)
			if len(errs) != 1 {
				t.Errorf("got %d errors, want 1:\n%v", len(errs), err)
			}
			for _, e := range errs {
				var ce *Error
				if !errors.As(e, &ce) {
					t.Errorf("error %v is a %T, want *Error", e, e)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

// flatten returns the errors joined in err.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestParse_ReportsAllProblems(t *testing.T) {
	_, _, err := parse(t, head+`[log]
level = "loud"
[[folder]]
path = "nope"
settle = "-1s"
[[folder]]
path = "b"
task_id = 5
order = "random"
`)
	want := []string{
		`config.toml:7: log.level: must be one of`,
		`config.toml:8: folder[1].task_id: is required`,
		`config.toml:9: folder[1].path: `,
		`config.toml:10: folder[1].settle: must be greater than 0 (got "-1s")`,
		`config.toml:14: folder[2].order: must be one of name, mtime, none (got "random")`,
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) || len(flatten(err)) != len(want) {
		t.Fatalf("got %d lines, %d errors, want %d:\n%v", len(lines), len(flatten(err)), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) && !strings.Contains(lines[i], w) {
			t.Errorf("line %d = %q, want it to contain %q", i+1, lines[i], w)
		}
	}
}

func TestParse_SameTaskInOtherOrganization(t *testing.T) {
	c, _ := mustParse(t, head+folder1+"[[folder]]\npath = \"b\"\ntask_id = 101\norganization_id = 12\n")
	if len(c.Folders) != 2 || c.Folders[1].OrganizationID != 12 {
		t.Errorf("got folders %+v", c.Folders)
	}
}

func TestParse_SyntaxError(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"two values", head + folder1 + "settle = \"3s\" \"4s\"\n", "config.toml:9:15: "},
		{"unclosed string", head + folder1 + "marker = \"abc\n", "config.toml:9:"},
		{"unclosed table", head + "[[folder]\n", "config.toml:6:"},
		{"duplicate key", head + folder1 + "task_id = 102\n", "config.toml:9:1: "},
		{"duplicate table", head + "[api]\n" + folder1, "config.toml:6:2: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parse(t, tc.body)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse error = %v (%T), want a single *Error", err, err)
			}
			if _, joined := err.(interface{ Unwrap() []error }); joined {
				t.Errorf("a syntax error came joined: %v", err)
			}
			if ce.Line == 0 || ce.Column == 0 {
				t.Errorf("Line, Column = %d, %d; want both set", ce.Line, ce.Column)
			}
			if !strings.HasPrefix(err.Error(), tc.want) && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestParse_UnknownKey(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"top level", "colour = \"red\"\n" + head + folder1, []string{"config.toml:1:1: colour: unknown key"}},
		{"table", head + "[logs]\nlevel = \"info\"\n" + folder1, []string{"config.toml:6:2: logs: unknown key"}},
		{"in api", "[api]\norganization_id = 1\nworkspace_id = 2\ntoken = \"x\"\n" + folder1, []string{"config.toml:4:1: api.token: unknown key"}},
		{"in second folder", head + folder1 + "[[folder]]\npath = \"b\"\ntask_id = 2\nsetle = \"3s\"\n", []string{"config.toml:12:1: folder[2].setle: unknown key"}},
		{"folder key in defaults", head + "[defaults]\ntask_id = 3\n" + folder1, []string{"config.toml:7:1: defaults.task_id: unknown key"}},
		{"two unknown", head + folder1 + "a = 1\nb = 2\n", []string{"config.toml:9:1: folder[1].a: unknown key\n", "config.toml:10:1: folder[1].b: unknown key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parse(t, tc.body)
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			for _, e := range flatten(err) {
				var ce *Error
				if !errors.As(e, &ce) {
					t.Errorf("error %v is a %T, want *Error", e, e)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestError_Error(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "config.toml", Line: 12, Key: "folder[2].settle", Msg: `must be greater than 0 (got "-3s")`}, `config.toml:12: folder[2].settle: must be greater than 0 (got "-3s")`},
		{Error{File: "config.toml", Key: "folder[2].task_id", Msg: "is required"}, "config.toml: folder[2].task_id: is required"},
		{Error{File: "config.toml", Line: 3, Column: 7, Msg: "expected newline"}, "config.toml:3:7: expected newline"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestParseWith_AllowMissingFolders(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "gone")
	data := fmt.Sprintf("[api]\norganization_id = 1\nworkspace_id = 2\n[state]\npath = %q\n[[folder]]\npath = %q\ntask_id = 5\n",
		filepath.Join(dir, "state.db"), missing)
	if _, err := Parse([]byte(data), filepath.Join(dir, "config.toml")); err == nil {
		t.Fatalf("Parse accepted a missing folder")
	}
	c, err := ParseWith([]byte(data), filepath.Join(dir, "config.toml"), Options{AllowMissingFolders: true})
	if err != nil {
		t.Fatalf("ParseWith: %v", err)
	}
	if len(c.Folders) != 1 || c.Folders[0].Path != missing {
		t.Fatalf("folders = %+v", c.Folders)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "config.toml:7: folder[1].path:") || !strings.Contains(c.Warnings[0], "paused") {
		t.Fatalf("warnings = %q", c.Warnings)
	}
}

func TestParse_Warnings(t *testing.T) {
	// Below a folder that is not recursive, the state db is out of the scan's reach.
	c, _ := mustParse(t, "[api]\norganization_id = 1\nworkspace_id = 2\n[state]\npath = \"a/inner/state.db\"\n"+folder1)
	if len(c.Warnings) != 0 {
		t.Errorf("warnings %q, want none", c.Warnings)
	}
	c, _ = mustParse(t, "[api]\nbase_url = \"http://10.0.0.5:8765/api\"\norganization_id = 1\nworkspace_id = 2\n"+
		"[defaults]\nsettle = \"41610d\"\n"+"[[folder]]\npath = \"/\"\ntask_id = 1\nverify = \"91d\"\nrescan = \"7d\"\n")
	want := []string{
		"config.toml:2: api.base_url: http://10.0.0.5:8765/api is plain http to 10.0.0.5",
		"config.toml:6: defaults.settle: 41610d is very long (more than 1h)",
		"config.toml:8: folder[1].path: / is the root of a file system",
		"config.toml:10: folder[1].verify: 91d is very long (more than 90d)",
	}
	if len(c.Warnings) != len(want) {
		t.Errorf("warnings:\n%s\nwant %d", strings.Join(c.Warnings, "\n"), len(want))
	}
	for _, w := range want {
		found := false
		for _, got := range c.Warnings {
			found = found || strings.Contains(got, w)
		}
		if !found {
			t.Errorf("no warning %q in:\n%s", w, strings.Join(c.Warnings, "\n"))
		}
	}
	for _, ok := range []string{"http://127.0.0.1:8765/api", "http://localhost:8765/api", "http://[::1]:8765/api", "https://focus.example.com/api"} {
		c, _ := mustParse(t, "[api]\nbase_url = \""+ok+"\"\norganization_id = 1\nworkspace_id = 2\n[state]\npath = \"s.db\"\n"+folder1)
		if len(c.Warnings) != 0 {
			t.Errorf("base_url %s: warnings %q, want none", ok, c.Warnings)
		}
	}
}
