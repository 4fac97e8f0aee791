package main

import (
	"testing"
	"time"
)

func TestPercentileAndMedian(t *testing.T) {
	var d []time.Duration
	for i := 20; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if got := median(d); got != 11*time.Millisecond {
		t.Errorf("median = %s, want 11ms", got)
	}
	if got := percentile(d, 0.95); got != 19*time.Millisecond {
		t.Errorf("p95 = %s, want 19ms (nearest rank)", got)
	}
	if got := percentile(d[:1], 0.95); got != 20*time.Millisecond {
		t.Errorf("p95 of one = %s", got)
	}
	if d[0] != 20*time.Millisecond {
		t.Error("median or percentile sorted the caller's slice")
	}
}

func TestShort(t *testing.T) {
	for d, want := range map[time.Duration]string{
		10 * time.Minute: "10m",
		2 * time.Second:  "2s",
		time.Hour:        "1h",
		90 * time.Second: "1m30s",
	} {
		if got := short(d); got != want {
			t.Errorf("short(%v) = %q, want %q", d, got, want)
		}
	}
}
