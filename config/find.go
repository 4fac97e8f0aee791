package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// PathEnv names the environment variable that holds the config file's path
// when no --config is given.
const PathEnv = "FOCUSSYNC_CONFIG"

// SystemPath is the config file of a system-wide install: the one the packages
// install, and the one root's commands read by default.
func SystemPath() string {
	switch runtime.GOOS {
	case "windows":
		pd := os.Getenv("ProgramData")
		if pd == "" {
			pd = `C:\ProgramData`
		}
		return filepath.Join(pd, "focussync", "config.toml")
	case "darwin":
		return "/usr/local/etc/focussync/config.toml"
	}
	return "/etc/focussync/config.toml"
}

// SearchPaths returns the config files tried, in order, when neither --config
// nor $FOCUSSYNC_CONFIG names one: for root, the system-wide file only; for
// anyone else, their own (in the user config directory: $XDG_CONFIG_HOME or
// ~/.config on Linux, ~/Library/Application Support on macOS, %AppData% on
// Windows), then the system-wide one.
func SearchPaths() []string {
	return searchPaths(runtime.GOOS == "windows" || os.Geteuid() != 0)
}

// searchPaths is SearchPaths for a user (perUser) or for root.
func searchPaths(perUser bool) []string {
	var paths []string
	if perUser {
		if dir, err := os.UserConfigDir(); err == nil {
			paths = append(paths, filepath.Join(dir, "focussync", "config.toml"))
		}
	}
	return append(paths, SystemPath())
}

// NotFoundError says that no config file was named and none of the default
// paths holds one.
type NotFoundError struct {
	Tried []string // the paths looked at, in order
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no config file: --config is not given, $%s is not set, and there is none at %s; "+
		"pass --config FILE or set %s (config.example.toml is a starting point)",
		PathEnv, strings.Join(e.Tried, " or "), PathEnv)
}

// Find returns the config file to use when the command line names none:
// $FOCUSSYNC_CONFIG when set (whether or not the file exists, so that loading
// it names the problem), else the first of SearchPaths that exists. Otherwise
// the error is a *NotFoundError listing the paths tried.
func Find() (string, error) {
	return find(SearchPaths())
}

// find is Find with the default paths given.
func find(tried []string) (string, error) {
	if p := os.Getenv(PathEnv); p != "" {
		return p, nil
	}
	for _, p := range tried {
		_, err := os.Stat(p)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			// An unreadable file or directory is still the one meant:
			// loading it says why it cannot be read.
			return p, nil
		}
	}
	return "", &NotFoundError{Tried: tried}
}
