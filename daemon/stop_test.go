package daemon

import (
	"fmt"
	"testing"
	"time"

	"github.com/focussync/focussync/focus/focustest"
	"github.com/focussync/focussync/internal/testutil"
)

// A daemon told to stop in the middle of a pass over a big tree stops within
// seconds: the scan, the plan and the uploads all give way to the context.
func TestDaemon_StopsDuringAPassOverABigTree(t *testing.T) {
	e := newEnv(t, focustest.Options{})
	e.noQuiesce = true
	f := e.folder(1)
	f.Recursive = true
	for d := range 20 {
		for i := range 1000 {
			testutil.WriteFile(t, f.Path, fmt.Sprintf("dir%02d/file%04d.txt", d, i), "x")
		}
	}
	e.start(f)
	testutil.WaitUntil(t, wait, "the first pass to be under way", func() bool {
		return e.status(f.Path).State == "syncing"
	})
	e.cancel()
	stopped := make(chan struct{})
	go func() {
		e.d.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(time.Minute): // generous: the machine may be busy
		t.Fatal("the daemon did not stop within a minute of its context's end")
	}
	if n := len(e.srv.Attachments(1)); n >= 20_000 {
		t.Errorf("the pass sent all %d files before it stopped: it was not stopped in the middle", n)
	}
}
