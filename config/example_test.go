package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

const examplePath = "../config.example.toml"

// exampleConfig returns config.example.toml with its example ids and folder
// uncommented, its folder path and state path pointing into a temporary
// directory, and that directory.
func exampleConfig(tb testing.TB) ([]byte, string) {
	tb.Helper()
	data, err := os.ReadFile(examplePath)
	if err != nil {
		tb.Fatal(err)
	}
	dir := testDir(tb)
	s := string(data)
	for old, repl := range map[string]string{
		"# organization_id = 11\n# workspace_id = 22\n# File": "organization_id = 11\nworkspace_id = 22\n# File",
		"# [[folder]]\n":                         "[[folder]]\n",
		`# path = "/srv/share/clients/acme"`:     `path = "a"`,
		"# task_id = 101":                        "task_id = 101",
		`# path = "/var/lib/focussync/state.db"`: `# path = "state/state.db"`,
	} {
		if !strings.Contains(s, old) {
			tb.Fatalf("%s no longer contains %q", examplePath, old)
		}
		s = strings.Replace(s, old, repl, 1)
	}
	return []byte(s), dir
}

func TestExample_Parses(t *testing.T) {
	data, dir := exampleConfig(t)
	// With the commented keys left out, state.path is the platform default:
	// point it into the temporary directory.
	data = []byte(strings.Replace(string(data), "# path = \"state/state.db\"", "path = \"state/state.db\"", 1))
	c, err := Parse(data, filepath.Join(dir, "config.toml"))
	if err != nil {
		t.Fatalf("Parse(%s):\n%v", examplePath, err)
	}
	f := c.Folders[0]
	if f.Path != filepath.Join(dir, "a") || f.TaskID != 101 || f.Settle != DefaultSettle || f.Rescan != DefaultRescan ||
		f.Verify != DefaultVerify || f.MaxDelete != DefaultMaxDelete || f.MaxFileSize != DefaultMaxFileSize ||
		f.Watch != DefaultWatch || f.Order != DefaultOrder || !f.DeleteRemote || f.Recursive || f.Marker != "" {
		t.Errorf("the example's values are not the defaults: %+v", f)
	}
	if c.API.BaseURL != DefaultBaseURL || c.Log.Level != DefaultLogLevel || c.Log.Format != DefaultLogFormat || c.Status.Listen != DefaultListen {
		t.Errorf("the example's values are not the defaults: %+v %+v %+v", c.API, c.Log, c.Status)
	}
}

var commentedKey = regexp.MustCompile(`(?m)^# ([a-z_]+ = .*)$`)

func TestExample_ParsesUncommented(t *testing.T) {
	data, dir := exampleConfig(t)
	s := commentedKey.ReplaceAllString(string(data), "$1")
	c, err := Parse([]byte(s), filepath.Join(dir, "config.toml"))
	if err != nil {
		t.Fatalf("Parse(%s with every key uncommented):\n%v", examplePath, err)
	}
	f := c.Folders[0]
	if f.Marker != ".focussync" || !f.Recursive || f.Settle != 10*time.Second || len(f.Exclude) != 3 || c.API.TokenFile == "" {
		t.Errorf("uncommented keys were not applied: %+v, token_file %q", f, c.API.TokenFile)
	}
}

// TestExample_HasEveryKey checks that every key the decoder knows is in the
// example (set or commented out) under its table, and that the example has no
// key the decoder does not know.
func TestExample_HasEveryKey(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	inExample := exampleKeys(string(data))

	known := map[string]bool{}
	top := reflect.TypeFor[fileConfig]()
	for i := range top.NumField() {
		table := top.Field(i)
		for _, key := range tomlKeys(table.Type) {
			known[tag(table)+"."+key] = true
		}
	}
	// A folder's own copies of the [defaults] keys are documented there.
	shared := map[string]bool{}
	for _, key := range tomlKeys(reflect.TypeFor[folderKeys]()) {
		shared["folder."+key] = true
	}
	for k := range known {
		if !inExample[k] && !shared[k] {
			t.Errorf("key %s is missing from %s", k, examplePath)
		}
	}
	for k := range inExample {
		if !known[k] {
			t.Errorf("%s has key %s, which the config does not know", examplePath, k)
		}
	}
}

// exampleKeys returns "table.key" for every key in a TOML file, set or
// commented out as "# key = value".
func exampleKeys(s string) map[string]bool {
	keys := map[string]bool{}
	header := regexp.MustCompile(`^(?:# )?\[\[?([a-z_]+)\]\]?`)
	key := regexp.MustCompile(`^(?:# )?([a-z_]+) = `)
	table := ""
	for _, line := range strings.Split(s, "\n") {
		if m := header.FindStringSubmatch(line); m != nil {
			table = m[1]
		} else if m := key.FindStringSubmatch(line); m != nil {
			keys[table+"."+m[1]] = true
		}
	}
	return keys
}

// tomlKeys returns the TOML keys of a struct type, including those of
// embedded structs; for a slice, those of its element.
func tomlKeys(t reflect.Type) []string {
	if t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			keys = append(keys, tomlKeys(f.Type)...)
			continue
		}
		keys = append(keys, tag(f))
	}
	return keys
}

func tag(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	return name
}
