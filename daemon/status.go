package daemon

import (
	"time"

	"github.com/focussync/focussync/syncer"
)

// Status is what the daemon reports about itself: GET /status serves it as JSON and
// `focussync status` prints it.
type Status struct {
	Version string                 `json:"version"`
	Started time.Time              `json:"started"`
	Uptime  string                 `json:"uptime"`
	Paused  string                 `json:"paused,omitempty"` // why all work is paused (a refused API token)
	Folders []FolderStatus         `json:"folders"`
	Quota   []QuotaStatus          `json:"quota"`
	Metrics syncer.MetricsSnapshot `json:"-"`
	// PassDurations counts the durations of every pass since the start, for /metrics.
	PassDurations Histogram `json:"-"`
}

// PassBuckets are the upper bounds, in seconds, of the pass duration histogram.
var PassBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// Histogram counts observations in buckets, cumulatively over the process's life
// (the Prometheus histogram: Counts[i] is the number of observations <= Bounds[i]).
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64
}

// NewHistogram returns an empty histogram over bounds.
func NewHistogram(bounds []float64) Histogram {
	return Histogram{Bounds: bounds, Counts: make([]uint64, len(bounds))}
}

// Observe adds one observation.
func (h *Histogram) Observe(v float64) {
	h.Count++
	h.Sum += v
	for i, le := range h.Bounds {
		if v <= le {
			h.Counts[i]++
		}
	}
}

// Clone returns a copy that does not share the counts.
func (h Histogram) Clone() Histogram {
	h.Counts = append([]uint64(nil), h.Counts...)
	return h
}

// FolderStatus is one folder's state, a snapshot taken by Daemon.Status.
type FolderStatus struct {
	Path string `json:"path"`
	Task int64  `json:"task_id"`
	// Organization is the organization of the task, whose API quota the folder's
	// requests draw on.
	Organization int64  `json:"organization_id"`
	State        string `json:"state"` // starting | idle | syncing | paused | error
	Watch        string `json:"watch"` // events | poll
	Files        int    `json:"files"` // files tracked (managed attachments)
	// Pending is the number of write requests the last pass left to send, the
	// held deletes included.
	Pending int `json:"pending"`
	// Unconfirmed counts the writes sent (or about to be) whose outcome is not
	// known yet (open intents in the state db); Refused the files the server
	// refused.
	Unconfirmed int              `json:"unconfirmed_writes"`
	Refused     int              `json:"refused"`
	Failures    []syncer.Failure `json:"failures,omitempty"`
	// Skipped are the files the last pass left alone (settling, too large,
	// unreadable, refused by the server), each with its reason.
	Skipped  []syncer.Skip `json:"skipped,omitempty"`
	LastPass time.Time     `json:"last_pass,omitzero"`
	// LastSuccess is when a pass last left the folder fully in sync (nothing
	// held, paused or failed).
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	// Paused says why the folder sends nothing: its root is unhealthy, or a person
	// paused it (Daemon.PauseFolder).
	Paused string `json:"paused,omitempty"`
	// Held says why deletes are held back, and HeldDeletes how many:
	// Daemon.ConfirmDeletes lets the next pass send them.
	Held        string `json:"held,omitempty"`
	HeldDeletes int    `json:"held_deletes,omitempty"`
	// Passes counts the passes run since the worker started.
	Passes int `json:"passes"`
	// Lease is the folder's lease when a coordinator decides who writes (nil
	// otherwise).
	Lease *LeaseStatus `json:"lease,omitempty"`
}

// QuotaStatus is one organization's quota view.
type QuotaStatus struct {
	Organization int64     `json:"organization_id"`
	Known        bool      `json:"known"`
	Remaining    int       `json:"remaining"`
	ResetAt      time.Time `json:"reset_at,omitzero"`
}
