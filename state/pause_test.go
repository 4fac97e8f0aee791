package state

import (
	"path/filepath"
	"testing"
	"time"
)

func TestStore_Pause(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := Open(path, Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	k := FolderKey{Path: "/srv/acme", TaskID: 101}
	other := FolderKey{Path: "/srv/acme", TaskID: 102}
	if p, err := st.Paused(k); err != nil || p != nil {
		t.Fatalf("Paused of a new folder = %v, %v; want nil", p, err)
	}
	since := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	if err := st.SetPause(k, &Pause{Reason: "paused by root", Since: since}); err != nil {
		t.Fatal(err)
	}
	// A pass writes the meta back whole: the pause must survive it.
	if err := st.Commit(k, Change{Meta: &Meta{Listed: true, LastPass: since}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	st, err = Open(path, Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := st.Paused(k)
	if err != nil || p == nil || p.Reason != "paused by root" || !p.Since.Equal(since) {
		t.Errorf("Paused after a commit and a reopen = %+v, %v", p, err)
	}
	if p, _ := st.Paused(other); p != nil {
		t.Errorf("the pause leaked to task 102: %+v", p)
	}
	if err := st.SetPause(k, nil); err != nil {
		t.Fatal(err)
	}
	if p, err := st.Paused(k); err != nil || p != nil {
		t.Errorf("Paused after resume = %+v, %v", p, err)
	}
	if err := st.SetPause(other, nil); err != nil {
		t.Errorf("resume of a folder never seen: %v", err)
	}
}
