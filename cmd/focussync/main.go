// Command focussync mirrors local folders into Toggl Focus task attachments.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand. run gets the arguments after the subcommand's name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, app *app, args []string) error
	// actions are the words the command takes as its first argument
	// ("service install"), for shell completion; nil for most commands.
	actions []string
}

// app carries the process's outputs so that commands can be run in tests.
type app struct {
	stdout io.Writer
	stderr io.Writer
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// usageError is a mistake in the command line: the message is printed with a hint
// and the process exits 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitError ends the process with a code, after its message (if any) was printed.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e exitError) Unwrap() error { return e.err }

func main() {
	ctx, release := stopContext(os.Stderr)
	code := runMain(ctx, &app{stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:])
	release()
	os.Exit(code)
}

func runMain(ctx context.Context, a *app, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) == 0 {
			printUsage(a.stderr)
			return 2
		}
		printUsage(a.stdout)
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" {
		args = []string{"version"}
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(a.stderr, "focussync: unknown command %q\nRun 'focussync --help' for the list of commands.\n", args[0])
		return 2
	}
	err := c.run(ctx, a, args[1:])
	var ue usageError
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(a.stderr, "focussync %s: %s\nRun 'focussync %s -h' for usage.\n", c.name, ue.msg, c.name)
		return 2
	case errors.As(err, &ee):
		if ee.err != nil {
			fmt.Fprintf(a.stderr, "focussync %s: %v\n", c.name, ee.err)
		}
		return ee.code
	default:
		fmt.Fprintf(a.stderr, "focussync %s: %v\n", c.name, err)
		return 1
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "focussync mirrors local folders into Toggl Focus task attachments.\n\nUsage:\n  focussync <command> [flags]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'focussync <command> -h' for a command's flags.\n")
}
