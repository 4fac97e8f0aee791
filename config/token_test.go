package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// tokenConfig returns a Config whose token file is dir/token, written with
// content and mode unless content is nil.
func tokenConfig(t *testing.T, content []byte, mode os.FileMode) *Config {
	t.Helper()
	name := filepath.Join(t.TempDir(), "token")
	if content != nil {
		if err := os.WriteFile(name, content, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(name, mode); err != nil { // umask may have narrowed it
			t.Fatal(err)
		}
	}
	return &Config{API: API{TokenFile: name}}
}

func TestConfig_Token(t *testing.T) {
	t.Run("env wins", func(t *testing.T) {
		t.Setenv(TokenEnv, " toggl_sk_env\n")
		c := tokenConfig(t, []byte("toggl_sk_file"), 0o600)
		tok, warns, err := c.Token()
		if err != nil || tok != "toggl_sk_env" || len(warns) != 0 {
			t.Errorf("Token() = %q, %v, %v; want toggl_sk_env", tok, warns, err)
		}
	})
	t.Run("file 0600", func(t *testing.T) {
		t.Setenv(TokenEnv, "")
		c := tokenConfig(t, []byte("  toggl_sk_file\n\n"), 0o600)
		tok, warns, err := c.Token()
		if err != nil || tok != "toggl_sk_file" || len(warns) != 0 {
			t.Errorf("Token() = %q, %v, %v; want toggl_sk_file and no warning", tok, warns, err)
		}
	})
	t.Run("file 0644 warns", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("no unix permissions")
		}
		t.Setenv(TokenEnv, "")
		c := tokenConfig(t, []byte("toggl_sk_file\n"), 0o644)
		tok, warns, err := c.Token()
		if err != nil || tok != "toggl_sk_file" {
			t.Fatalf("Token() = %q, %v", tok, err)
		}
		if len(warns) != 1 || !strings.Contains(warns[0], c.API.TokenFile) || !strings.Contains(warns[0], "0644") {
			t.Errorf("warnings = %q, want one naming the file and mode 0644", warns)
		}
	})
	t.Run("file missing", func(t *testing.T) {
		t.Setenv(TokenEnv, "")
		c := tokenConfig(t, nil, 0)
		if _, _, err := c.Token(); err == nil || !strings.Contains(err.Error(), c.API.TokenFile) {
			t.Errorf("Token() error = %v, want one naming %s", err, c.API.TokenFile)
		}
	})
	t.Run("file empty", func(t *testing.T) {
		t.Setenv(TokenEnv, "")
		c := tokenConfig(t, []byte(" \n"), 0o600)
		_, _, err := c.Token()
		if err == nil || !strings.Contains(err.Error(), c.API.TokenFile) || !strings.Contains(err.Error(), "empty") {
			t.Errorf("Token() error = %v, want one naming %s as empty", err, c.API.TokenFile)
		}
	})
	t.Run("file is a directory", func(t *testing.T) {
		t.Setenv(TokenEnv, "")
		c := &Config{API: API{TokenFile: t.TempDir()}}
		if _, _, err := c.Token(); err == nil || !strings.Contains(err.Error(), c.API.TokenFile) {
			t.Errorf("Token() error = %v, want one naming %s", err, c.API.TokenFile)
		}
	})
	t.Run("neither", func(t *testing.T) {
		t.Setenv(TokenEnv, "")
		_, _, err := (&Config{}).Token()
		if err == nil || err.Error() != "no API token: set FOCUS_API_TOKEN or [api] token_file" {
			t.Errorf("Token() error = %v", err)
		}
	})
	t.Run("relative token_file from Parse", func(t *testing.T) {
		t.Setenv(TokenEnv, "")
		c, dir := mustParse(t, "[api]\norganization_id = 1\nworkspace_id = 2\ntoken_file = \"secret/token\"\n[state]\npath = \"s.db\"\n"+folder1)
		if err := os.MkdirAll(filepath.Join(dir, "secret"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "secret", "token"), []byte("toggl_sk_rel"), 0o600); err != nil {
			t.Fatal(err)
		}
		if tok, _, err := c.Token(); err != nil || tok != "toggl_sk_rel" {
			t.Errorf("Token() = %q, %v", tok, err)
		}
	})
}

func TestDefaultStatePath(t *testing.T) {
	p := DefaultStatePath()
	if !filepath.IsAbs(p) || filepath.Base(p) != "state.db" || filepath.Base(filepath.Dir(p)) != "focussync" {
		t.Errorf("DefaultStatePath() = %q, want an absolute .../focussync/state.db", p)
	}
	if runtime.GOOS == "linux" && os.Geteuid() != 0 {
		x := t.TempDir()
		t.Setenv("XDG_STATE_HOME", x)
		if got, want := DefaultStatePath(), filepath.Join(x, "focussync", "state.db"); got != want {
			t.Errorf("DefaultStatePath() = %q, want %q", got, want)
		}
	}
	if runtime.GOOS == "linux" && os.Geteuid() == 0 {
		if got := DefaultStatePath(); got != "/var/lib/focussync/state.db" {
			t.Errorf("DefaultStatePath() as root = %q", got)
		}
	}
}

func TestDefaultStatePath_SystemdStateDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("STATE_DIRECTORY", dir)
	if got, want := DefaultStatePath(), filepath.Join(dir, "state.db"); got != want {
		t.Errorf("DefaultStatePath() with STATE_DIRECTORY = %q, want %q", got, want)
	}
}
