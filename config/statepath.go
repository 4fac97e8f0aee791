package config

import (
	"os"
	"path/filepath"
	"runtime"
)

// DefaultStatePath returns where the state database lives when [state] path is
// not set: under $STATE_DIRECTORY when systemd sets it (StateDirectory=);
// /var/lib/focussync/state.db for root on Linux (and other unixes);
// ~/Library/Application Support/focussync/state.db on macOS;
// %ProgramData%\focussync\state.db on Windows; otherwise
// $XDG_STATE_HOME/focussync/state.db, or ~/.local/state/focussync/state.db.
func DefaultStatePath() string {
	const db = "state.db"
	// Under systemd with StateDirectory=, the service's own state directory.
	if d := os.Getenv("STATE_DIRECTORY"); filepath.IsAbs(d) {
		return filepath.Join(filepath.SplitList(d)[0], db)
	}
	switch runtime.GOOS {
	case "windows":
		pd := os.Getenv("ProgramData")
		if pd == "" {
			pd = `C:\ProgramData`
		}
		return filepath.Join(pd, "focussync", db)
	case "darwin":
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, "Library", "Application Support", "focussync", db)
		}
		return filepath.Join("/Library/Application Support/focussync", db)
	}
	if os.Geteuid() == 0 {
		return filepath.Join("/var/lib/focussync", db)
	}
	if x := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "focussync", db)
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "focussync", db)
	}
	return filepath.Join("/var/lib/focussync", db)
}
