package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/focussync/focussync/config"
	"github.com/focussync/focussync/state"
)

// checkStateDB looks at the state db the way status does, read-only: a damaged db
// is a warning (sync and run move it aside and rebuild), a file of another program
// is an error (sync and run refuse to touch it).
func checkStateDB(stderr io.Writer, cfg *config.Config) error {
	st, err := state.Open(cfg.State.Path, state.Options{ReadOnly: true, Timeout: 200 * time.Millisecond})
	switch {
	case err == nil:
		return st.Close()
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, state.ErrLocked):
		return nil // not created yet, or in use by the running daemon
	case errors.Is(err, state.ErrForeign):
		return err
	default:
		fmt.Fprintf(stderr, "warning: %v\n", err)
		return nil
	}
}
