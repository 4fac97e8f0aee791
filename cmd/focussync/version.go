package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
var (
	version = "dev"
	commit  = ""
	date    = ""
)

func init() {
	register(&command{name: "version", summary: "print the version, commit and build date", run: runVersion})
}

// buildInfo returns the version, commit and date, falling back to what the Go
// toolchain recorded when they were not set at build time.
func buildInfo() (v, c, d string) {
	v, c, d = version, commit, date
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && c == "":
				c = s.Value
			case s.Key == "vcs.time" && d == "":
				d = s.Value
			}
		}
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	if c == "" {
		c = "unknown"
	}
	if d == "" {
		d = "unknown"
	}
	return v, c, d
}

// userAgent is sent with every API request.
func userAgent() string {
	v, _, _ := buildInfo()
	return "focussync/" + v + " (" + runtime.GOOS + "/" + runtime.GOARCH + "; instance " + instanceID + ")"
}

func runVersion(ctx context.Context, a *app, args []string) error {
	fs := newFlagSet(a, "version", "version")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	v, c, d := buildInfo()
	fmt.Fprintf(a.stdout, "focussync %s\ncommit: %s\nbuilt:  %s\ngo:     %s %s/%s\n", v, c, d, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
