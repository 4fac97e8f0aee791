package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/focussync/focussync/internal/scope"
)

// validator turns a decoded file into a Config, collecting every problem.
type validator struct {
	file string     // the file's name in messages
	dir  string     // relative paths are resolved against it
	idx  *lineIndex // where keys are
	errs []error    // *Error values

	allowMissing bool     // a missing folder directory is a warning
	readOnly     bool     // the state db is only read: its directory need not be writable
	warnings     []string // problems that do not fail the config
}

// fail records a problem with a key at line.
func (v *validator) fail(key string, line int, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// failKey records a problem with a top-level key, looking up its line.
func (v *validator) failKey(key, format string, args ...any) {
	v.fail(key, v.idx.line(key), format, args...)
}

// abs resolves p against the config file's directory and cleans it.
func (v *validator) abs(p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(v.dir, p)
	}
	return filepath.Clean(p)
}

// build returns the configuration the file describes; v.errs says whether it is valid.
func (v *validator) build(raw *fileConfig) *Config {
	c := &Config{
		API:    API{BaseURL: DefaultBaseURL},
		Log:    Log{Level: DefaultLogLevel, Format: DefaultLogFormat},
		Status: Status{Listen: DefaultListen},
	}
	v.api(&c.API, raw.API)
	v.state(&c.State, raw.State)
	v.cluster(&c.Cluster, raw.Cluster)
	if s := raw.Log.Level; s != nil {
		c.Log.Level = *s
		v.oneOf("log.level", *s, "debug", "info", "warn", "error")
	}
	if s := raw.Log.Format; s != nil {
		c.Log.Format = *s
		v.oneOf("log.format", *s, "auto", "text", "json")
	}
	if s := raw.Status.Listen; s != nil {
		c.Status.Listen = *s
		if err := checkListen(*s); err != nil {
			v.failKey("status.listen", "%v (got %q)", err, *s)
		}
	}

	base := Folder{
		Settle:       DefaultSettle,
		Rescan:       DefaultRescan,
		Verify:       DefaultVerify,
		Watch:        DefaultWatch,
		Order:        DefaultOrder,
		DeleteRemote: true,
		MaxDelete:    DefaultMaxDelete,
		MaxFileSize:  DefaultMaxFileSize,
	}
	v.folderKeys(&base, raw.Defaults, func(key string) (string, int) {
		return "defaults." + key, v.idx.line("defaults." + key)
	})

	if len(raw.Folders) == 0 {
		v.fail("folder", 0, "no [[folder]] configured: add at least one with a path and a task_id")
	}
	for i, rf := range raw.Folders {
		c.Folders = append(c.Folders, v.folder(i, rf, base, c.API, raw.API))
	}
	v.distinct(c.Folders)
	v.stateOutsideFolders(c.State.Path, c.Folders)
	return c
}

func (v *validator) api(a *API, raw fileAPI) {
	if s := raw.BaseURL; s != nil {
		a.BaseURL = strings.TrimRight(*s, "/")
		u, err := url.Parse(*s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.failKey("api.base_url", "must be an absolute http or https URL (got %q)", *s)
		} else {
			v.warnBaseURL(*s)
		}
	}
	if p := raw.OrganizationID; p != nil {
		a.OrganizationID = *p
		if *p <= 0 {
			v.failKey("api.organization_id", "must be greater than 0 (got %d)", *p)
		}
	}
	if p := raw.WorkspaceID; p != nil {
		a.WorkspaceID = *p
		if *p <= 0 {
			v.failKey("api.workspace_id", "must be greater than 0 (got %d)", *p)
		}
	}
	if p := raw.TokenFile; p != nil {
		if *p == "" {
			v.failKey("api.token_file", "is empty: remove the key or name the file holding the token")
		} else {
			a.TokenFile = v.abs(*p)
		}
	}
}

func (v *validator) state(s *State, raw fileState) {
	if raw.Path == nil {
		s.Path = DefaultStatePath()
	} else if *raw.Path == "" {
		v.failKey("state.path", "is empty: remove the key for the default (%s) or name the database file", DefaultStatePath())
		return
	} else {
		s.Path = v.abs(*raw.Path)
	}
	if v.readOnly {
		return
	}
	if err := checkWritableDir(filepath.Dir(s.Path)); err != nil {
		v.failKey("state.path", "%v", err)
	}
}

// oneOf checks that a top-level key's value is one of allowed.
func (v *validator) oneOf(key, got string, allowed ...string) {
	if !slices.Contains(allowed, got) {
		v.failKey(key, "must be one of %s (got %q)", strings.Join(allowed, ", "), got)
	}
}

// folderKeys applies the per-folder keys set in raw to f. where names a key
// and its line for messages.
func (v *validator) folderKeys(f *Folder, raw folderKeys, where func(key string) (string, int)) {
	fail := func(key, format string, args ...any) {
		k, line := where(key)
		v.fail(k, line, format, args...)
	}
	if raw.Recursive != nil {
		f.Recursive = *raw.Recursive
	}
	if raw.Include != nil {
		f.Include = slices.Clone(*raw.Include)
		for _, g := range f.Include {
			if err := scope.Check(g); err != nil {
				fail("include", "%v", err)
			}
		}
	}
	if raw.Exclude != nil {
		f.Exclude = slices.Clone(*raw.Exclude)
		for _, g := range f.Exclude {
			if err := scope.Check(g); err != nil {
				fail("exclude", "%v", err)
			}
		}
	}
	for _, d := range []struct {
		key string
		raw *string
		dst *time.Duration
	}{{"settle", raw.Settle, &f.Settle}, {"rescan", raw.Rescan, &f.Rescan}, {"verify", raw.Verify, &f.Verify}} {
		if d.raw == nil {
			continue
		}
		got, err := parseDuration(*d.raw)
		switch {
		case err != nil:
			fail(d.key, "%v (got %q)", err, *d.raw)
		case got <= 0:
			fail(d.key, "must be greater than 0 (got %q)", *d.raw)
		default:
			*d.dst = got
			k, line := where(d.key)
			v.warnDuration(k, line, d.key, got)
		}
	}
	if raw.Watch != nil {
		f.Watch = *raw.Watch
		if !slices.Contains([]string{"auto", "events", "poll"}, *raw.Watch) {
			fail("watch", "must be one of auto, events, poll (got %q)", *raw.Watch)
		}
	}
	if raw.Order != nil {
		f.Order = *raw.Order
		if !slices.Contains([]string{"name", "mtime", "none"}, *raw.Order) {
			fail("order", "must be one of name, mtime, none (got %q)", *raw.Order)
		}
	}
	if raw.DeleteRemote != nil {
		f.DeleteRemote = *raw.DeleteRemote
	}
	if raw.MaxDelete != nil {
		if l, err := parseLimit(raw.MaxDelete); err != nil {
			fail("max_delete", "%v", err)
		} else {
			f.MaxDelete = l
		}
	}
	if raw.MaxFileSize != nil {
		if n, err := parseSizeValue(raw.MaxFileSize); err != nil {
			fail("max_file_size", "%v", err)
		} else {
			f.MaxFileSize = n
		}
	}
	if raw.Marker != nil {
		f.Marker = *raw.Marker
		m := *raw.Marker
		if m == "." || m == ".." || strings.ContainsAny(m, `/\`) || strings.ContainsRune(m, 0) {
			fail("marker", "must be a plain file name, without a slash (got %q)", m)
		}
	}
}

// folder builds folder i (0-based) from the defaults in base and its own keys.
func (v *validator) folder(i int, raw fileFolder, base Folder, api API, rawAPI fileAPI) Folder {
	where := func(key string) (string, int) { return folderKey(i, key), v.idx.folderLine(i, key) }
	fail := func(key, format string, args ...any) {
		k, line := where(key)
		v.fail(k, line, format, args...)
	}
	f := base
	f.Include = slices.Clone(base.Include)
	f.Exclude = slices.Clone(base.Exclude)
	f.OrganizationID, f.WorkspaceID = api.OrganizationID, api.WorkspaceID

	switch {
	case raw.Path == nil || *raw.Path == "":
		fail("path", "is required: the local directory to mirror")
	default:
		f.Path = v.abs(*raw.Path)
		if st, err := os.Stat(f.Path); err != nil {
			if os.IsNotExist(err) && strings.HasPrefix(*raw.Path, "~") {
				fail("path", "%s: no such directory (~ is not expanded: write the full path)", f.Path)
			} else if os.IsNotExist(err) && v.allowMissing {
				k, line := where("path")
				v.warnings = append(v.warnings, (&Error{File: v.file, Line: line, Key: k,
					Msg: fmt.Sprintf("%s: no such directory; the folder is paused until it appears", f.Path)}).Error())
			} else if os.IsNotExist(err) {
				fail("path", "%s: no such directory", f.Path)
			} else {
				fail("path", "%v", err)
			}
		} else if !st.IsDir() {
			fail("path", "%s: not a directory", f.Path)
		}
		k, line := where("path")
		v.warnFolderPath(k, line, f.Path)
	}
	switch {
	case raw.TaskID == nil:
		fail("task_id", "is required: the id of the Focus task to mirror into")
	case *raw.TaskID <= 0:
		fail("task_id", "must be greater than 0 (got %d)", *raw.TaskID)
	default:
		f.TaskID = *raw.TaskID
	}
	for _, id := range []struct {
		key string
		raw *int64
		api *int64 // the [api] value, reported on its own when invalid
		dst *int64
	}{
		{"organization_id", raw.OrganizationID, rawAPI.OrganizationID, &f.OrganizationID},
		{"workspace_id", raw.WorkspaceID, rawAPI.WorkspaceID, &f.WorkspaceID},
	} {
		switch {
		case id.raw != nil && *id.raw <= 0:
			fail(id.key, "must be greater than 0 (got %d)", *id.raw)
		case id.raw != nil:
			*id.dst = *id.raw
		case id.api == nil:
			fail(id.key, "is required: set it in [api] or in the folder")
		}
	}
	v.folderKeys(&f, raw.folderKeys, where)
	return f
}

// distinct reports folders that share a path, lie inside another folder, or
// mirror into the same task.
func (v *validator) distinct(folders []Folder) {
	resolved := make([]string, len(folders))
	for i, f := range folders {
		resolved[i] = f.Path
		if r, err := filepath.EvalSymlinks(f.Path); err == nil {
			resolved[i] = r
		}
	}
	tasks := map[[2]int64]int{}
	for i, f := range folders {
		if f.Path != "" {
		others:
			for j := range i {
				if folders[j].Path == "" {
					continue
				}
				switch {
				case resolved[i] == resolved[j]:
					v.fail(folderKey(i, "path"), v.idx.folderLine(i, "path"), "same directory as %s (%s)", folderKey(j, ""), folders[j].Path)
				case within(resolved[i], resolved[j]):
					v.fail(folderKey(i, "path"), v.idx.folderLine(i, "path"), "inside %s (%s)", folderKey(j, ""), folders[j].Path)
				case within(resolved[j], resolved[i]):
					v.fail(folderKey(i, "path"), v.idx.folderLine(i, "path"), "contains %s (%s)", folderKey(j, ""), folders[j].Path)
				default:
					continue
				}
				break others
			}
		}
		if f.TaskID <= 0 {
			continue
		}
		k := [2]int64{f.OrganizationID, f.TaskID}
		if j, ok := tasks[k]; ok {
			v.fail(folderKey(i, "task_id"), v.idx.folderLine(i, "task_id"), "task %d in organization %d is already mirrored by %s (%s)", f.TaskID, f.OrganizationID, folderKey(j, ""), folders[j].Path)
			continue
		}
		tasks[k] = i
	}
}

// within reports whether p lies strictly inside dir.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// checkListen checks a status listen address: "" or host:port with a numeric port.
func checkListen(s string) error {
	if s == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("must be host:port, or \"\" to turn the status server off")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port must be a number from 0 to 65535")
	}
	return nil
}

// checkWritableDir checks that files can be created in dir, or, when dir does
// not exist yet, in its nearest existing parent (where it would be created).
func checkWritableDir(dir string) error {
	d := dir
	for {
		st, err := os.Stat(d)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("%s: not a directory", d)
			}
			break
		}
		if !os.IsNotExist(err) {
			return err
		}
		parent := filepath.Dir(d)
		if parent == d {
			return fmt.Errorf("%s: no existing parent directory", dir)
		}
		d = parent
	}
	f, err := os.CreateTemp(d, ".focussync-check-*")
	if err != nil {
		if d != dir {
			return fmt.Errorf("%s does not exist and cannot be created: %s is not writable", dir, d)
		}
		return fmt.Errorf("%s: directory not writable", dir)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}
