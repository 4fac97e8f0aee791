package main

import (
	"log/slog"

	"github.com/focussync/focussync/state"
)

// logRecovery says, in plain words, that the state db was found damaged and moved
// aside, and what happens next.
func logRecovery(log *slog.Logger, st *state.Store) {
	rec := st.Recovered()
	if rec == nil {
		return
	}
	log.Warn("the state db was damaged; it was moved aside (nothing was deleted) and a new one was started. "+
		"Each task is listed once and the files already in Focus are adopted, not uploaded again",
		"path", st.Path(), "moved_to", rec.MovedTo, "damage", rec.Reason.Error())
}
