package daemon

import (
	"testing"

	"github.com/focussync/focussync/focus/focustest"
	"github.com/focussync/focussync/syncer"
)

// TestDaemon_StatusForMonitoring checks what monitoring reads from a folder's
// status: its organization, when a pass last left it in sync, and the
// operations counted by kind.
func TestDaemon_StatusForMonitoring(t *testing.T) {
	e := newEnv(t, focustest.Options{})
	e.engine.Metrics = &syncer.Metrics{}
	f := e.folder(1)
	for _, n := range []string{"a", "b", "c"} {
		arrive(t, f.Path, n+".txt", n)
	}
	e.start(f)
	st := e.status(f.Path)
	if st.Organization != 1 {
		t.Errorf("organization = %d, want 1", st.Organization)
	}
	if st.LastSuccess.IsZero() || !st.LastSuccess.Equal(st.LastPass) {
		t.Errorf("last success = %v, last pass = %v: want the same time after a pass in sync", st.LastSuccess, st.LastPass)
	}
	ops := e.d.Status().Metrics.Operations
	if ops["upload"] != 3 || ops["delete"] != 0 || len(ops) != len(syncer.OperationKinds) {
		t.Errorf("operations = %v, want 3 uploads and every kind listed", ops)
	}
}
