package syncer

import "time"

// Status is what the daemon reports about itself: GET /status serves it as JSON and
// `focussync status` prints it.
type Status struct {
	Version string          `json:"version"`
	Started time.Time       `json:"started"`
	Uptime  string          `json:"uptime"`
	Paused  string          `json:"paused,omitempty"` // why all work is paused (a refused API token)
	Folders []FolderStatus  `json:"folders"`
	Quota   []QuotaStatus   `json:"quota"`
	Metrics MetricsSnapshot `json:"-"`
	// PassDurations are the durations of the last passes, for /metrics.
	PassSeconds []float64 `json:"-"`
}

// FolderStatus is one folder's state.
type FolderStatus struct {
	Path      string    `json:"path"`
	Task      int64     `json:"task_id"`
	State     string    `json:"state"` // idle | scanning | syncing | waiting | paused | error
	Watch     string    `json:"watch"` // events | poll
	Files     int       `json:"files"` // files tracked (managed attachments)
	Pending   int       `json:"pending"`
	Failures  []Failure `json:"failures,omitempty"`
	LastPass  time.Time `json:"last_pass,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	Paused    string    `json:"paused,omitempty"`
	Held      string    `json:"held,omitempty"`
}

// QuotaStatus is one organization's quota view.
type QuotaStatus struct {
	Organization int64     `json:"organization_id"`
	Known        bool      `json:"known"`
	Remaining    int       `json:"remaining"`
	ResetAt      time.Time `json:"reset_at,omitzero"`
}
