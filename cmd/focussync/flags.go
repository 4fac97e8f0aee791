package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/focussync/focussync/config"
)

// Every command parses its flags with newFlagSet and parseFlags, which make the
// conventions the same everywhere: -h and --help print the usage to stdout and
// exit 0; the flag list spells long flags with two dashes, as users type them;
// a mistake is a usage error (stderr, exit 2); and a command with --config
// finds its config file without it (config.Find).

// newFlagSet returns a flag set for a subcommand. usage is the synopsis after
// "focussync ", optionally followed by a blank line and a description.
func newFlagSet(a *app, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("focussync "+name, flag.ContinueOnError)
	fs.SetOutput(a.stdout)
	fs.Usage = func() {
		if fs.Output() == io.Discard {
			return // a parse error: parseFlags reports it as a usage error
		}
		fmt.Fprintf(fs.Output(), "Usage: focussync %s\n", usage)
		printFlags(fs.Output(), fs)
	}
	if c, ok := a.stdout.(*flagCollector); ok {
		c.sets = append(c.sets, fs)
	}
	return fs
}

// shorthandPrefix starts the usage of a flag that is another's one-letter
// alias; the flag list shows the two together.
const shorthandPrefix = "shorthand for --"

// configFlag adds --config (and its shorthand -c) to a command's flags. After
// parseFlags the value is never empty: without the flag it is the file that
// config.Find chose.
func configFlag(fs *flag.FlagSet) *string {
	p := fs.String("config", "", "the config `FILE` (TOML); default: $"+config.PathEnv+", else "+
		strings.Join(tildePaths(config.SearchPaths()), ", else "))
	fs.StringVar(p, "c", "", shorthandPrefix+"config")
	return p
}

// tildePaths writes paths under the home directory with ~/, as in the help.
func tildePaths(paths []string) []string {
	home, _ := os.UserHomeDir()
	out := make([]string, len(paths))
	for i, p := range paths {
		if rel, err := filepath.Rel(home, p); home != "" && err == nil && filepath.IsLocal(rel) {
			p = filepath.Join("~", rel)
		}
		out[i] = p
	}
	return out
}

// parseFlags parses args and turns flag errors into usage errors. Positional
// arguments are refused. An empty --config is filled in by config.Find.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard) // errors are reported once, as usage errors
	err := fs.Parse(args)
	fs.SetOutput(out)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return flag.ErrHelp
	}
	if err != nil {
		return usageError{flagError(err)}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if f := fs.Lookup("config"); f != nil && f.Value.String() == "" {
		p, err := config.Find()
		if err != nil {
			return usageError{err.Error()}
		}
		if err := f.Value.Set(p); err != nil {
			return fmt.Errorf("--config: %w", err)
		}
	}
	return nil
}

// flagInError finds the flag named in an error of the flag package, which
// spells every flag with one dash.
var flagInError = regexp.MustCompile(`(: |flag )-([A-Za-z0-9][A-Za-z0-9_.-]*)`)

// flagError rewrites an error of the flag package with flags as users type them.
func flagError(err error) string {
	msg := strings.Replace(err.Error(), "flag provided but not defined", "unknown flag", 1)
	return flagInError.ReplaceAllStringFunc(msg, func(m string) string {
		sub := flagInError.FindStringSubmatch(m)
		return sub[1] + flagName(sub[2])
	})
}

// flagName spells a flag as users type it: -v for one letter, --dry-run otherwise.
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// printFlags writes the flag list of fs, or nothing when it has no flags. A
// one-letter alias shares its flag's line: "-c, --config FILE".
func printFlags(w io.Writer, fs *flag.FlagSet) {
	aliases := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if long, ok := strings.CutPrefix(f.Usage, shorthandPrefix); ok && fs.Lookup(long) != nil {
			aliases[long] = f.Name
		}
	})
	type row struct{ spec, usage string }
	var rows []row
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, shorthandPrefix) && aliases[strings.TrimPrefix(f.Usage, shorthandPrefix)] == f.Name {
			return
		}
		arg, usage := flag.UnquoteUsage(f)
		spec := flagName(f.Name)
		if len(f.Name) > 1 && len(aliases) > 0 {
			spec = "    " + spec // under the long names of "-c, --config"
		}
		if short, ok := aliases[f.Name]; ok {
			spec = flagName(short) + ", " + flagName(f.Name)
		}
		if arg != "" {
			spec += " " + strings.ToUpper(arg)
		}
		if !isZeroDefault(f) {
			usage += " (default " + f.DefValue + ")"
		}
		rows = append(rows, row{spec, usage})
		width = max(width, len(spec))
	})
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\nFlags:\n")
	for _, r := range rows {
		fmt.Fprintf(w, "  %-*s  %s\n", width, r.spec, r.usage)
	}
}

// isZeroDefault reports whether a flag's default is not worth printing.
func isZeroDefault(f *flag.Flag) bool {
	switch f.DefValue {
	case "", "false", "0", "0s":
		return true
	}
	return false
}

// flagCollector is the stdout of a command run with --help to learn its flags
// (shell completion): newFlagSet hands it every flag set it makes, and the
// usage text written to it is dropped.
type flagCollector struct {
	sets []*flag.FlagSet
}

func (c *flagCollector) Write(p []byte) (int, error) { return len(p), nil }
