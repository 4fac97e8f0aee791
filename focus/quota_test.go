package focus

import (
	"testing"
	"time"
)

func TestQuota_StaleResponseDoesNotRaiseRemaining(t *testing.T) {
	var q Quota
	now := time.Now()
	q.Observe(now, 5, 30*time.Second)
	q.Observe(now.Add(10*time.Millisecond), 7, 30*time.Second) // an older answer arriving late
	if got := q.State().Remaining; got != 5 {
		t.Errorf("remaining = %d after a stale answer, want 5", got)
	}
	q.Observe(now.Add(20*time.Millisecond), 4, 30*time.Second)
	if got := q.State().Remaining; got != 4 {
		t.Errorf("remaining = %d, want 4", got)
	}
	// A new window starts over.
	later := now.Add(31 * time.Second)
	q.Observe(later, 29, time.Hour)
	if got := q.State().Remaining; got != 29 {
		t.Errorf("remaining in a new window = %d, want 29", got)
	}
}
