// Package config loads focussync's TOML configuration into a validated Config:
// built-in defaults, a [defaults] table applied to every folder, per-folder
// overrides, and errors that name the key and the line they concern.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/focussync/focussync/focus"
)

// Config is a loaded and validated configuration.
type Config struct {
	Path    string // absolute path of the file it was loaded from
	API     API
	State   State
	Log     Log
	Status  Status
	Cluster Cluster
	Folders []Folder

	// Warnings are problems that do not stop the config from loading (with
	// Options.AllowMissingFolders: folders whose directory is missing).
	Warnings []string
}

// API is the [api] table: where the Focus API is and which organization and
// workspace folders belong to unless they say otherwise.
type API struct {
	BaseURL        string
	OrganizationID int64  // 0 when not set; every folder then sets its own
	WorkspaceID    int64  // 0 when not set; every folder then sets its own
	TokenFile      string // absolute, or "" when not set
}

// State is the [state] table.
type State struct {
	Path string // absolute path of the state database
}

// Log is the [log] table.
type Log struct {
	Level  string // debug | info | warn | error
	Format string // auto | text | json
}

// Status is the [status] table.
type Status struct {
	Listen string // host:port of the status server, or "" when it is off
}

// Folder is one [[folder]]: a local directory mirrored into one task, with its
// settings resolved from the built-in defaults, [defaults] and its own keys.
type Folder struct {
	Path           string // absolute, cleaned; relative paths in the file are resolved against the file's directory
	TaskID         int64
	OrganizationID int64 // from [api] unless the folder sets it
	WorkspaceID    int64 // from [api] unless the folder sets it
	Recursive      bool
	Include        []string // patterns of package scope (checked when loaded); empty means everything
	Exclude        []string // patterns, as Include
	Settle         time.Duration
	Rescan         time.Duration
	Verify         time.Duration
	Watch          string // auto | events | poll
	Order          string // name | mtime | none
	DeleteRemote   bool
	MaxDelete      Limit
	MaxFileSize    int64  // bytes
	Marker         string // a file name that must exist in the root, or ""
}

// Task returns the Focus task the folder is mirrored into.
func (f Folder) Task() focus.Task {
	return focus.Task{OrganizationID: f.OrganizationID, WorkspaceID: f.WorkspaceID, TaskID: f.TaskID}
}

// Built-in defaults, used when neither [defaults] nor a folder sets a key.
const (
	DefaultBaseURL     = focus.DefaultBaseURL
	DefaultLogLevel    = "info"
	DefaultLogFormat   = "auto"
	DefaultListen      = "127.0.0.1:7788"
	DefaultSettle      = 3 * time.Second
	DefaultRescan      = 10 * time.Minute
	DefaultVerify      = 24 * time.Hour
	DefaultWatch       = "auto"
	DefaultOrder       = "name"
	DefaultMaxFileSize = 100 << 20
)

// DefaultMaxDelete is the built-in max_delete: half of the managed attachments.
var DefaultMaxDelete = Limit{Percent: 50}

// PercentFloor is the number of managed attachments at or below which a percent
// max_delete does not apply.
const PercentFloor = 10

// Limit is a max_delete value: exactly one of Count and Percent is set.
type Limit struct {
	Count   int
	Percent float64
}

// String returns the limit as written in the file: "20" or "50%".
func (l Limit) String() string {
	if l.Percent > 0 {
		return fmt.Sprintf("%g%%", l.Percent)
	}
	return fmt.Sprintf("%d", l.Count)
}

// Exceeded reports whether deleting n of managed attachments goes over the
// limit: the one mass-delete rule. A percent applies only when more than
// PercentFloor attachments are managed; a count always applies. The zero Limit
// (which no config file yields) never applies.
func (l Limit) Exceeded(n, managed int) bool {
	switch {
	case l.Percent > 0:
		return managed > PercentFloor && float64(n)*100 > l.Percent*float64(managed)
	case l.Count > 0:
		return n > l.Count
	}
	return false
}

// Load reads, decodes and validates the configuration file at path.
func Load(path string) (*Config, error) { return LoadWith(path, Options{}) }

// Options relax validation for the daemon and one-shot syncs.
type Options struct {
	// AllowMissingFolders accepts a folder whose directory does not exist (yet): an
	// unmounted share must pause its folder, not stop every other one. Each such
	// folder is named in Config.Warnings.
	AllowMissingFolders bool
	// ReadOnlyState skips the check that the state db's directory is writable, for
	// commands that only read it (focussync status as a user other than the daemon's).
	ReadOnlyState bool
}

// LoadWith is Load with options.
func LoadWith(path string, opt Options) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return ParseWith(data, path, opt)
}

// Parse decodes and validates a configuration. path names the file in messages,
// and relative paths in the file are resolved against its directory (the
// working directory when path is ""). Parse checks the file system too: every
// folder must be an existing directory and the state database's directory must
// be writable.
//
// The error is a single *Error for a syntax error, or all the problems found,
// each an *Error, joined with errors.Join.
func Parse(data []byte, path string) (*Config, error) { return ParseWith(data, path, Options{}) }

// ParseWith is Parse with options.
func ParseWith(data []byte, path string, opt Options) (*Config, error) {
	name := path
	if name == "" {
		name = "config"
	}
	abs := ""
	dir, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("parse config %s: %w", name, err)
	}
	if path != "" {
		if abs, err = filepath.Abs(path); err != nil {
			return nil, fmt.Errorf("parse config %s: %w", name, err)
		}
		dir = filepath.Dir(abs)
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // a byte order mark some editors write
	raw, idx, err := decode(data, name)
	if err != nil {
		return nil, err
	}
	v := &validator{file: name, dir: dir, idx: idx, allowMissing: opt.AllowMissingFolders, readOnly: opt.ReadOnlyState}
	c := v.build(raw)
	c.Path = abs
	c.Warnings = v.warnings
	if len(v.errs) > 0 {
		// In file order; problems with no line (a missing table) first.
		slices.SortStableFunc(v.errs, func(a, b error) int { return a.(*Error).Line - b.(*Error).Line })
		return nil, errors.Join(v.errs...)
	}
	return c, nil
}
