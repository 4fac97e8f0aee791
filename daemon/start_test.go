package daemon

import (
	"testing"

	"github.com/focussync/focussync/focus/focustest"
	"github.com/focussync/focussync/internal/testutil"
)

// The watcher's first signal, sent once its watches are set, is what starts
// the first pass: one full pass at start, not a second one right after it.
func TestWorker_OnePassAtStart(t *testing.T) {
	for _, mode := range []string{"events", "poll"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, focustest.Options{})
			f := e.folder(1)
			f.Watch = mode
			f.Recursive = true
			for _, name := range []string{"a.txt", "sub/b.txt", "sub/deeper/c.txt"} {
				testutil.WriteFile(t, f.Path, name, name)
			}
			e.start(f) // waits until the watcher's signal was taken and the worker is idle
			if got := e.passes(f.Path); got != 1 {
				t.Errorf("passes at start = %d, want 1", got)
			}
			if got := e.names(1); len(got) != 3 {
				t.Errorf("attachments after the first pass = %v, want the 3 files", got)
			}
		})
	}
}
