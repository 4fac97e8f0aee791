package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// completionScript writes `focussync completion shell` to a file and returns its path.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	code, out, stderr := runCLI(t, "completion", shell)
	if code != 0 || out == "" {
		t.Fatalf("completion %s: exit %d, stderr %q", shell, code, stderr)
	}
	p := filepath.Join(t.TempDir(), "focussync."+shell)
	if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// bashComplete runs the bash completion function on a command line whose last
// word is being typed, in dir, and returns the candidates.
func bashComplete(t *testing.T, script, dir string, words ...string) []string {
	t.Helper()
	var quoted []string
	for _, w := range words {
		quoted = append(quoted, shellQuote(w))
	}
	prog := "source " + shellQuote(script) + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\n" +
		"COMP_CWORD=$((${#COMP_WORDS[@]}-1))\n_focussync\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
	cmd := exec.Command("bash", "--norc", "--noprofile", "-c", prog)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	got := strings.Fields(string(out))
	sort.Strings(got)
	return got
}

func TestCompletion_Bash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script := completionScript(t, "bash")
	dir := t.TempDir()
	for _, f := range []string{"conf.toml", "cozy.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var all []string
	for n := range commands {
		all = append(all, n)
	}
	sort.Strings(all)
	for _, tc := range []struct {
		words []string
		want  []string
	}{
		{[]string{"focussync", ""}, all},
		{[]string{"focussync", "sy"}, []string{"sync"}},
		{[]string{"focussync", "sync", "--d"}, []string{"--dry-run"}},
		{[]string{"focussync", "sync", "-"}, []string{"--allow-mass-delete", "--config", "--dry-run", "--relist", "-c", "-v"}},
		{[]string{"focussync", "status", "--j"}, []string{"--json"}},
		{[]string{"focussync", "service", "st"}, []string{"start", "status", "stop"}},
		{[]string{"focussync", "service", "install", "--user"}, []string{"--user", "--user-service"}},
		{[]string{"focussync", "service", "stop", "--"}, []string{"--name", "--user-service"}},
		{[]string{"focussync", "check", "--config", "co"}, []string{"conf.toml", "cozy.txt"}},
		{[]string{"focussync", "run", "-c", "con"}, []string{"conf.toml"}},
		{[]string{"focussync", "completion", ""}, []string{"bash", "fish", "zsh"}},
	} {
		t.Run(strings.Join(tc.words[1:], " "), func(t *testing.T) {
			got := bashComplete(t, script, dir, tc.words...)
			if !slices.Equal(got, tc.want) {
				t.Errorf("completions = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCompletion_Spec checks that the scripts learn every command's flags from
// the commands themselves.
func TestCompletion_Spec(t *testing.T) {
	spec := completionSpec(context.Background())
	flags := map[string][]string{}
	for _, c := range spec {
		for _, f := range c.flags {
			flags[c.name] = append(flags[c.name], f.typed())
		}
	}
	for name, want := range map[string][]string{
		"sync":            {"--allow-mass-delete", "-c", "--config", "--dry-run", "--relist", "-v"},
		"service install": {"-c", "--config", "--name", "--user", "--user-service"},
		"version":         nil,
	} {
		got := flags[name]
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("flags of %q = %q, want %q", name, got, want)
		}
	}
}

func TestCompletion_Syntax(t *testing.T) {
	for _, tc := range []struct{ shell, check string }{{"bash", "-n"}, {"zsh", "-n"}, {"fish", "--no-execute"}} {
		t.Run(tc.shell, func(t *testing.T) {
			if _, err := exec.LookPath(tc.shell); err != nil {
				t.Skipf("%s is not installed", tc.shell)
			}
			script := completionScript(t, tc.shell)
			if out, err := exec.Command(tc.shell, tc.check, script).CombinedOutput(); err != nil {
				t.Errorf("%s %s: %v\n%s", tc.shell, tc.check, err, out)
			}
		})
	}
	code, _, stderr := runCLI(t, "completion", "tcsh")
	if code != 2 || !strings.Contains(stderr, `unknown shell "tcsh"`) {
		t.Errorf("completion tcsh: exit %d, stderr %q", code, stderr)
	}
}

func TestCompletion_Fish(t *testing.T) {
	if _, err := exec.LookPath("fish"); err != nil {
		t.Skip("fish is not installed")
	}
	script := completionScript(t, "fish")
	for line, want := range map[string][]string{
		"focussync sync --d":            {"--dry-run"},
		"focussync service st":          {"start", "status", "stop"},
		"focussync service install --u": {"--user", "--user-service"},
	} {
		out, err := exec.Command("fish", "--no-config", "-c", "source "+shellQuote(script)+"; complete -C "+shellQuote(line)).CombinedOutput()
		if err != nil {
			t.Fatalf("fish: %v\n%s", err, out)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			w, _, _ := strings.Cut(l, "\t")
			got = append(got, w)
		}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("%q completes to %q, want %q", line, got, want)
		}
	}
}
