package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestSearchPaths_UserConfigDirFirst(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the XDG layout is Linux's")
	}
	xdg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", xdg)
	got := searchPaths(true)
	want := []string{filepath.Join(xdg, "focussync", "config.toml"), "/etc/focussync/config.toml"}
	if !slices.Equal(got, want) {
		t.Errorf("searchPaths(user) = %q, want %q", got, want)
	}
	if got := searchPaths(false); !slices.Equal(got, []string{"/etc/focussync/config.toml"}) {
		t.Errorf("searchPaths(root) = %q, want only the system file", got)
	}
}

func TestFind(t *testing.T) {
	t.Run("environment variable wins, even for a missing file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "none.toml")
		t.Setenv(PathEnv, p)
		got, err := Find()
		if err != nil || got != p {
			t.Errorf("Find() = %q, %v; want %q", got, err, p)
		}
	})
	t.Run("nothing found names every path tried", func(t *testing.T) {
		t.Setenv(PathEnv, "")
		t.Setenv("XDG_CONFIG_HOME", t.TempDir())
		tried := SearchPaths()
		for _, p := range tried {
			if _, err := os.Stat(p); err == nil {
				t.Skipf("%s exists on this machine", p)
			}
		}
		_, err := Find()
		var nf *NotFoundError
		if !errors.As(err, &nf) {
			t.Fatalf("Find() error = %v, want a *NotFoundError", err)
		}
		for _, p := range tried {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name %s", err, p)
			}
		}
		if !strings.Contains(err.Error(), PathEnv) || !strings.Contains(err.Error(), "--config") {
			t.Errorf("error %q does not say how to name a file", err)
		}
	})
	t.Run("the user's file is found", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("the XDG layout is Linux's")
		}
		t.Setenv(PathEnv, "")
		xdg := t.TempDir()
		t.Setenv("XDG_CONFIG_HOME", xdg)
		p := filepath.Join(xdg, "focussync", "config.toml")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := find(searchPaths(true)); err != nil || got != p {
			t.Errorf("find(user paths) = %q, %v; want %q", got, err, p)
		}
	})
}
