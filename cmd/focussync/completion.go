package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

func init() {
	register(&command{name: "completion", summary: "print a shell completion script (bash, zsh or fish)", run: runCompletion, actions: completionShells})
}

// completionShells are the shells `focussync completion` writes scripts for.
var completionShells = []string{"bash", "zsh", "fish"}

const completionUsage = `completion bash|zsh|fish

Prints a script that completes focussync's commands, actions and flags (and file
names after --config) in the given shell. Load it for this session or for good:
  bash:  source <(focussync completion bash)
         focussync completion bash | sudo tee /etc/bash_completion.d/focussync
  zsh:   source <(focussync completion zsh)
         focussync completion zsh > "${fpath[1]}/_focussync"
  fish:  focussync completion fish | source
         focussync completion fish > ~/.config/fish/completions/focussync.fish`

func runCompletion(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "completion", completionUsage)
	shell := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		shell, args = args[0], args[1:]
		if !slices.Contains(completionShells, shell) {
			return usageError{fmt.Sprintf("unknown shell %q: want one of %s", shell, strings.Join(completionShells, ", "))}
		}
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if shell == "" {
		return usageError{"missing shell: one of " + strings.Join(completionShells, ", ")}
	}
	spec := completionSpec(ctx)
	switch shell {
	case "bash":
		writeBashCompletion(a.stdout, spec)
	case "zsh":
		writeZshCompletion(a.stdout, spec)
	case "fish":
		writeFishCompletion(a.stdout, spec)
	}
	return nil
}

// complFlag is one flag as completion offers it.
type complFlag struct {
	name  string // without dashes
	value bool   // takes a value (the next word)
	usage string
}

// typed is the flag as users type it.
func (f complFlag) typed() string { return flagName(f.name) }

// complCommand is a command, or one action of a command ("service install").
type complCommand struct {
	name    string // "sync", "service install"
	summary string
	actions []string
	flags   []complFlag
}

// completionSpec learns every command's (and action's) flags from the flag
// sets the commands themselves make when asked for --help, so that the
// scripts follow the real commands.
func completionSpec(ctx context.Context) []complCommand {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []complCommand
	for _, n := range names {
		c := commands[n]
		out = append(out, complCommand{name: n, summary: c.summary, actions: c.actions, flags: commandFlags(ctx, c, nil)})
		for _, act := range c.actions {
			out = append(out, complCommand{name: n + " " + act, flags: commandFlags(ctx, c, []string{act})})
		}
	}
	return out
}

// commandFlags runs c with --help (after the words in pre) and returns the
// flags of the flag sets it made.
func commandFlags(ctx context.Context, c *command, pre []string) []complFlag {
	col := &flagCollector{}
	_ = c.run(ctx, &app{stdout: col, stderr: io.Discard}, append(slices.Clone(pre), "--help"))
	var out []complFlag
	for _, fs := range col.sets {
		fs.VisitAll(func(f *flag.Flag) {
			_, isBool := f.Value.(interface{ IsBoolFlag() bool })
			usage, _, _ := strings.Cut(f.Usage, "; default:")
			usage = strings.ReplaceAll(usage, "`", "")
			out = append(out, complFlag{name: f.Name, value: !isBool, usage: usage})
		})
	}
	return out
}

// words joins the typed flags (or, with value, those taking a value).
func words(flags []complFlag, onlyValue bool) string {
	var w []string
	for _, f := range flags {
		if !onlyValue || f.value {
			w = append(w, f.typed())
		}
	}
	return strings.Join(w, " ")
}

func topLevel(spec []complCommand) []complCommand {
	var out []complCommand
	for _, c := range spec {
		if !strings.Contains(c.name, " ") {
			out = append(out, c)
		}
	}
	return out
}

func writeBashCompletion(w io.Writer, spec []complCommand) {
	var names []string
	for _, c := range topLevel(spec) {
		names = append(names, c.name)
	}
	fmt.Fprintf(w, `# bash completion for focussync, written by 'focussync completion bash'.
_focussync() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local key="${COMP_WORDS[1]}" flags="" valueflags="" actions=""
    COMPREPLY=()
    if [[ $COMP_CWORD -eq 1 ]]; then
        COMPREPLY=($(compgen -W %q -- "$cur"))
        return 0
    fi
    case "$key" in
`, strings.Join(names, " "))
	for _, c := range topLevel(spec) {
		if len(c.actions) > 0 {
			fmt.Fprintf(w, "        %s) actions=%q ;;\n", c.name, strings.Join(c.actions, " "))
		}
	}
	fmt.Fprintf(w, `    esac
    if [[ -n "$actions" ]]; then
        if [[ $COMP_CWORD -eq 2 ]]; then
            COMPREPLY=($(compgen -W "$actions" -- "$cur"))
            return 0
        fi
        key="$key ${COMP_WORDS[2]}"
    fi
    case "$key" in
`)
	for _, c := range spec {
		if len(c.flags) == 0 {
			continue
		}
		fmt.Fprintf(w, "        %q) flags=%q; valueflags=%q ;;\n", c.name, words(c.flags, false), words(c.flags, true))
	}
	fmt.Fprintf(w, `    esac
    if [[ -n "$valueflags" && " $valueflags " == *" $prev "* ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
        return 0
    fi
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    return 0
}
complete -o filenames -F _focussync focussync
`)
}

// shellQuote quotes s for a POSIX shell (and zsh, and fish) in single quotes.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func writeZshCompletion(w io.Writer, spec []complCommand) {
	fmt.Fprintf(w, `#compdef focussync
# zsh completion for focussync, written by 'focussync completion zsh'.
_focussync() {
    local key=${words[2]} prev=${words[CURRENT-1]}
    local -a cmds flags valueflags actions
    if (( CURRENT == 2 )); then
        cmds=(
`)
	for _, c := range topLevel(spec) {
		fmt.Fprintf(w, "            %s\n", shellQuote(c.name+":"+c.summary))
	}
	fmt.Fprintf(w, `        )
        _describe 'command' cmds
        return
    fi
    case $key in
`)
	for _, c := range topLevel(spec) {
		if len(c.actions) > 0 {
			fmt.Fprintf(w, "        (%s) actions=(%s) ;;\n", c.name, strings.Join(c.actions, " "))
		}
	}
	fmt.Fprintf(w, `    esac
    if (( ${#actions} )); then
        if (( CURRENT == 3 )); then
            compadd -a actions
            return
        fi
        key="$key ${words[3]}"
    fi
    case $key in
`)
	for _, c := range spec {
		if len(c.flags) == 0 {
			continue
		}
		fmt.Fprintf(w, "        (%s) flags=(%s); valueflags=(%s) ;;\n", shellQuote(c.name), words(c.flags, false), words(c.flags, true))
	}
	fmt.Fprintf(w, `    esac
    if (( ${valueflags[(Ie)$prev]} )); then
        _files
        return
    fi
    compadd -a flags
}
if [[ "${funcstack[1]}" == _focussync ]]; then
    _focussync "$@"
else
    compdef _focussync focussync
fi
`)
}

func writeFishCompletion(w io.Writer, spec []complCommand) {
	fmt.Fprintf(w, "# fish completion for focussync, written by 'focussync completion fish'.\ncomplete -c focussync -f\n")
	var names []string
	for _, c := range topLevel(spec) {
		names = append(names, c.name)
		fmt.Fprintf(w, "complete -c focussync -n __fish_use_subcommand -a %s -d %s\n", c.name, shellQuote(c.summary))
	}
	for _, c := range spec {
		cmd, act, nested := strings.Cut(c.name, " ")
		cond := "__fish_seen_subcommand_from " + cmd
		if parent := commands[cmd]; !nested && parent != nil && len(parent.actions) > 0 {
			for _, a := range parent.actions {
				fmt.Fprintf(w, "complete -c focussync -n %s -a %s\n",
					shellQuote(cond+"; and not __fish_seen_subcommand_from "+strings.Join(parent.actions, " ")), a)
			}
		}
		if nested {
			cond += "; and __fish_seen_subcommand_from " + act
		} else if parent := commands[cmd]; parent != nil && len(parent.actions) > 0 {
			cond += "; and not __fish_seen_subcommand_from " + strings.Join(parent.actions, " ")
		}
		for _, f := range c.flags {
			opt := "-l " + f.name
			if len(f.name) == 1 {
				opt = "-s " + f.name
			}
			if f.value {
				opt += " -r -F"
			}
			fmt.Fprintf(w, "complete -c focussync -n %s %s -d %s\n", shellQuote(cond), opt, shellQuote(f.usage))
		}
	}
}
