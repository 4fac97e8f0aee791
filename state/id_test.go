package state

import (
	"path/filepath"
	"testing"
)

func TestStore_IDIsKeptAndDistinct(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.db")
	s, err := Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.ID()
	if err != nil || len(id) != 32 {
		t.Fatalf("ID() = %q, %v; want 32 hex digits", id, err)
	}
	if again, _ := s.ID(); again != id {
		t.Errorf("second ID() = %q, want %q", again, id)
	}
	s.Close()
	s, err = Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ID(); got != id {
		t.Errorf("ID after reopening = %q, want %q", got, id)
	}
	s.Close()
	o, err := Open(filepath.Join(dir, "b.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if other, _ := o.ID(); other == id {
		t.Error("two stores share an id")
	}
}
