package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, tc := range validationCases {
		f.Add([]byte(tc.body))
	}
	f.Add([]byte(head + folder1))
	f.Add([]byte(head + "[defaults]\nsettle = \"1d\"\nmax_delete = 5\n" + folder1 + "[[folder]]\npath = \"b\"\ntask_id = 2\n"))
	if data, err := os.ReadFile(examplePath); err == nil {
		f.Add(data)
	}
	dir := testDir(f)
	name := filepath.Join(dir, "config.toml")
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, name)
		if err != nil {
			if c != nil {
				t.Fatalf("Parse returned a Config and an error: %v", err)
			}
			return
		}
		if len(c.Folders) == 0 {
			t.Fatal("a valid Config has no folders")
		}
		for i, fo := range c.Folders {
			if fo.TaskID <= 0 || fo.OrganizationID <= 0 || fo.WorkspaceID <= 0 {
				t.Errorf("folder %d: ids %+v", i+1, fo.Task())
			}
			if fo.Settle <= 0 || fo.Rescan <= 0 || fo.Verify <= 0 {
				t.Errorf("folder %d: durations %v %v %v", i+1, fo.Settle, fo.Rescan, fo.Verify)
			}
			if !filepath.IsAbs(fo.Path) || filepath.Clean(fo.Path) != fo.Path {
				t.Errorf("folder %d: path %q is not absolute and clean", i+1, fo.Path)
			}
			if fo.MaxFileSize <= 0 || (fo.MaxDelete.Count > 0) == (fo.MaxDelete.Percent > 0) || fo.MaxDelete.Percent > 100 {
				t.Errorf("folder %d: max_file_size %d, max_delete %+v", i+1, fo.MaxFileSize, fo.MaxDelete)
			}
			if !slices.Contains([]string{"auto", "events", "poll"}, fo.Watch) || !slices.Contains([]string{"name", "mtime", "none"}, fo.Order) {
				t.Errorf("folder %d: watch %q order %q", i+1, fo.Watch, fo.Order)
			}
		}
	})
}
