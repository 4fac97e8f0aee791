package syncer

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/focussync/focussync/focus"
)

// clock is a settable time source for budget tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestBudget_UnknownQuotaAllowsOneProbe(t *testing.T) {
	b := NewBudget(&focus.Quota{}, nil)
	ctx := context.Background()
	if err := b.Acquire(ctx, PriorityUpload); err != nil {
		t.Fatal(err)
	}
	// A second request waits until the first one tells us the quota.
	ctx2, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := b.Acquire(ctx2, PriorityUpload); err == nil {
		t.Fatalf("a second request went out before the quota was known")
	}
	b.quota.Observe(time.Now(), 10, time.Hour)
	b.Release()
	if err := b.Acquire(ctx, PriorityUpload); err != nil {
		t.Fatalf("after the quota is known: %v", err)
	}
}

func TestBudget_WaitsForResetWhenSpent(t *testing.T) {
	q := &focus.Quota{}
	clk := &clock{now: time.Now()}
	b := NewBudget(q, clk.Now)
	q.Exhausted(clk.Now(), time.Hour)

	got := make(chan error, 1)
	go func() { got <- b.Acquire(context.Background(), PriorityUpload) }()
	select {
	case err := <-got:
		t.Fatalf("Acquire returned (%v) with no quota left", err)
	case <-time.After(100 * time.Millisecond):
	}
	// The window resets: the view is stale, one probe may go.
	clk.Add(time.Hour + time.Second)
	q.Observe(clk.Now(), 30, time.Hour) // a response from elsewhere wakes the waiter
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Acquire did not return after the reset")
	}
}

func TestBudget_VerifyOnlyFromSpareQuota(t *testing.T) {
	q := &focus.Quota{}
	b := NewBudget(q, nil)
	q.Observe(time.Now(), 5, time.Hour)
	b.Announce("folder", 4)
	if b.Spare() {
		t.Errorf("Spare() with 5 left and 4 announced: want false")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := b.Acquire(ctx, PriorityVerify); err == nil {
		t.Errorf("a verification went out while announced work needs the quota")
	}
	b.Announce("folder", 0)
	if !b.Spare() {
		t.Errorf("Spare() with 5 left and nothing announced: want true")
	}
	if err := b.Acquire(context.Background(), PriorityVerify); err != nil {
		t.Errorf("verification with spare quota: %v", err)
	}
}

func TestBudget_UrgentWorkGoesFirstWhenScarce(t *testing.T) {
	q := &focus.Quota{}
	b := NewBudget(q, nil)
	q.Observe(time.Now(), 1, time.Hour)

	b.mu.Lock()
	b.waiting[PriorityUpload]++ // an upload is waiting for the last request
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := b.Acquire(ctx, PriorityReorder); err == nil {
		t.Errorf("a reorder took the last request while an upload waited")
	}
	b.mu.Lock()
	b.waiting[PriorityUpload]--
	b.mu.Unlock()
	if err := b.Acquire(context.Background(), PriorityReorder); err != nil {
		t.Errorf("reorder with no upload waiting: %v", err)
	}
}
