package main

import (
	"fmt"
	"io"

	"github.com/focussync/focussync/config"
)

// printCheckWarnings prints what check finds questionable in a valid config:
// the config's own warnings (a folder that is a file system root, a duration far
// beyond any use, a base_url over plain http to another machine) and a status
// server that listens beyond this machine, as run warns when it starts.
func printCheckWarnings(w io.Writer, cfg *config.Config) {
	for _, s := range cfg.Warnings {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
	if cfg.Status.Listen != "" && statusExposed(cfg.Status.Listen) {
		fmt.Fprintf(w, "warning: [status] listen = %q is reachable from other machines, and the status page, "+
			"/status and /metrics name the synced folders and files; use a loopback address such as %s unless "+
			"that is intended\n", cfg.Status.Listen, config.DefaultListen)
	}
}
