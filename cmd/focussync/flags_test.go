package main

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/focussync/focussync/config"
)

// singleDashLong matches a long flag written with one dash ("-config").
var singleDashLong = regexp.MustCompile(`(^|[\s\[(,])-[a-z][a-z-]+`)

func TestHelp_OnStdout(t *testing.T) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, h := range []string{"-h", "--help"} {
			t.Run(n+" "+h, func(t *testing.T) {
				code, stdout, stderr := runCLI(t, n, h)
				if code != 0 {
					t.Errorf("exit %d, want 0", code)
				}
				if stderr != "" {
					t.Errorf("stderr = %q, want nothing (help goes to stdout)", stderr)
				}
				if !strings.HasPrefix(stdout, "Usage: focussync "+n) {
					t.Errorf("stdout does not start with the usage line:\n%s", stdout)
				}
				for _, line := range strings.Split(stdout, "\n") {
					if m := singleDashLong.FindString(line); m != "" {
						t.Errorf("a long flag with one dash (%q) in %q", strings.TrimSpace(m), line)
					}
				}
				if strings.Contains(stdout, "Flags:") && !strings.Contains(stdout, "  -") {
					t.Errorf("an empty flag list:\n%s", stdout)
				}
			})
		}
	}
	t.Run("top level", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "--help")
		if code != 0 || stderr != "" || !strings.Contains(stdout, "Commands:") {
			t.Errorf("--help: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		code, stdout, stderr = runCLI(t)
		if code != 2 || stdout != "" || !strings.Contains(stderr, "Commands:") {
			t.Errorf("no arguments: exit %d, stdout %q, stderr %q; want the usage on stderr, exit 2", code, stdout, stderr)
		}
	})
}

func TestHelp_FlagList(t *testing.T) {
	_, out, _ := runCLI(t, "sync", "-h")
	for _, want := range []string{
		"Usage: focussync sync [--config FILE] [--dry-run]",
		"\n  -c, --config FILE ",
		"\n      --dry-run ",
		"\n  -v ",
		"$" + config.PathEnv,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("sync -h lacks %q:\n%s", want, out)
		}
	}
	_, out, _ = runCLI(t, "version", "-h")
	if strings.Contains(out, "Flags:") {
		t.Errorf("version -h prints a flag list, but version has no flags:\n%s", out)
	}
	code, _, stderr := runCLI(t, "sync", "--no-such-flag")
	if code != 2 || !strings.Contains(stderr, "unknown flag: --no-such-flag") || !strings.Contains(stderr, "focussync sync -h") {
		t.Errorf("an unknown flag: exit %d, stderr %q", code, stderr)
	}
}

func TestConfig_DefaultPath(t *testing.T) {
	t.Setenv("FOCUS_API_TOKEN", "")
	path, _ := writeCheckConfig(t, checkHead+checkFolder)
	t.Run("from FOCUSSYNC_CONFIG", func(t *testing.T) {
		t.Setenv(config.PathEnv, path)
		for _, args := range [][]string{{"check"}, {"status", "--json"}} {
			code, out, stderr := runCLI(t, args...)
			if code != 0 {
				t.Errorf("%s with %s set: exit %d, stderr:\n%s", args[0], config.PathEnv, code, stderr)
			}
			if args[0] == "check" && !strings.HasPrefix(out, path+": valid") {
				t.Errorf("check read another file than $%s:\n%s", config.PathEnv, out)
			}
		}
	})
	t.Run("--config wins over FOCUSSYNC_CONFIG", func(t *testing.T) {
		t.Setenv(config.PathEnv, filepath.Join(t.TempDir(), "other.toml"))
		if code, _, stderr := runCLI(t, "check", "--config", path); code != 0 {
			t.Errorf("exit %d, stderr:\n%s", code, stderr)
		}
	})
	t.Run("none found", func(t *testing.T) {
		t.Setenv(config.PathEnv, "")
		t.Setenv("XDG_CONFIG_HOME", t.TempDir())
		tried := config.SearchPaths()
		for _, p := range tried {
			if _, err := os.Stat(p); err == nil {
				t.Skipf("%s exists on this machine", p)
			}
		}
		for _, cmd := range []string{"check", "sync", "run", "status"} {
			code, _, stderr := runCLI(t, cmd)
			if code != 2 {
				t.Errorf("%s: exit %d, want 2", cmd, code)
			}
			for _, p := range tried {
				if !strings.Contains(stderr, p) {
					t.Errorf("%s: the error does not name %s, a path it tried:\n%s", cmd, p, stderr)
				}
			}
		}
	})
}
