//go:build !windows

package control

import "os"

// restrictFile makes f readable by its owner only.
func restrictFile(f *os.File) error { return f.Chmod(0o600) }
