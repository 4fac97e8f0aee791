package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// analyzeVerify runs `systemd-analyze verify` on unit in a throwaway root that
// holds this host's systemd units, /bin/kill (ExecReload) and a stand-in for the
// unit's binary, and returns what it printed. Missing systemd-analyze skips the
// test on a developer's machine and fails it on CI, which installs it.
func analyzeVerify(t *testing.T, unit, exe string) string {
	t.Helper()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("systemd-analyze is missing on CI (.ci/run installs the Debian package systemd): %v", err)
		}
		t.Skipf("systemd-analyze is missing: %v", err)
	}
	root := t.TempDir()
	for _, d := range []string{"usr/lib/systemd", "bin", "etc/systemd/system", filepath.Dir(strings.TrimPrefix(exe, "/"))} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("cp", "-a", "/usr/lib/systemd/system", filepath.Join(root, "usr/lib/systemd/")).CombinedOutput(); err != nil {
		t.Fatalf("copy the host's units: %v\n%s", err, out)
	}
	if out, err := exec.Command("cp", "/bin/kill", filepath.Join(root, "bin/kill")).CombinedOutput(); err != nil {
		t.Fatalf("copy /bin/kill: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(root, exe), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/systemd/system/focussync.service"), []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--root="+root, "focussync.service").CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s\n%s", err, out, unit)
	}
	return strings.TrimSpace(string(out))
}

// TestSystemdUnit_AnalyzeVerify checks with systemd itself that the units are
// valid, Type=notify and WatchdogSec included: the packaged one and one that
// `service install` writes.
func TestSystemdUnit_AnalyzeVerify(t *testing.T) {
	for name, unit := range map[string]string{
		"packaged": SystemdUnit(UnitParams{Exe: "/usr/bin/focussync", Config: "/etc/focussync/config.toml"}),
		"service install": SystemdUnit(UnitParams{Exe: "/opt/focussync/focussync", Config: "/etc/focussync/config.toml",
			FolderPaths: []string{"/srv/share/acme", "/srv/share/b c"}}),
	} {
		t.Run(name, func(t *testing.T) {
			for _, l := range []string{"Type=notify", "WatchdogSec=60s"} {
				if !strings.Contains(unit, "\n"+l+"\n") {
					t.Errorf("unit lacks %s", l)
				}
			}
			exe := "/usr/bin/focussync"
			if name != "packaged" {
				exe = "/opt/focussync/focussync"
			}
			if out := analyzeVerify(t, unit, exe); out != "" {
				t.Errorf("systemd-analyze verify printed:\n%s", out)
			}
		})
	}
	// The check itself catches a bad setting.
	bad := strings.Replace(SystemdUnit(UnitParams{Exe: "/usr/bin/focussync", Config: "/etc/focussync/config.toml"}), "WatchdogSec=60s", "WatchdogSec=soon", 1)
	if out := analyzeVerify(t, bad, "/usr/bin/focussync"); !strings.Contains(out, "WatchdogSec") && !strings.Contains(out, "soon") {
		t.Errorf("systemd-analyze verify let WatchdogSec=soon pass: %q", out)
	}
}
