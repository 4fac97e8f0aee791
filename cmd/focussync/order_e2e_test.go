package main

import (
	"slices"
	"testing"
)

func TestSync_NaturalNameOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, n := range []string{"doc10.txt", "doc2.txt", "Doc1.txt", "doc11.txt", "notes.txt", "Appendix.txt"} {
		e.write(n, "content of "+n)
	}
	e.sync()
	want := []string{"Appendix.txt", "Doc1.txt", "doc2.txt", "doc10.txt", "doc11.txt", "notes.txt"}
	if got := e.names(); !slices.Equal(got, want) {
		t.Errorf("display order = %q, want %q (natural, case-insensitive, as Explorer and Finder show)", got, want)
	}
}
