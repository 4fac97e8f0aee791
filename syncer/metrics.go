package syncer

import (
	"errors"
	"sort"
	"strconv"
	"sync"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/state"
)

// Metrics counts what the engine sends, for the status page and /metrics. It is
// safe for concurrent use; the zero value is ready.
type Metrics struct {
	mu       sync.Mutex
	requests map[requestKey]int64
	uploads  int64
	bytes    int64
	retries  int64
	ops      map[string]int64 // operations done, by kind
}

type requestKey struct {
	Endpoint focus.Endpoint
	Status   string
}

// RequestCount is the number of requests of one endpoint that ended with one status
// ("200"-style codes, or "transport").
type RequestCount struct {
	Endpoint focus.Endpoint
	Status   string
	Count    int64
}

// MetricsSnapshot is a copy of the counters.
type MetricsSnapshot struct {
	Requests []RequestCount
	Uploads  int64
	Bytes    int64
	Retries  int64
	// Operations counts the operations passes have done, by kind: upload,
	// replace (an old version deleted after its new one), rename, reorder, delete,
	// adopt.
	Operations map[string]int64
}

// OperationKinds are the kinds of MetricsSnapshot.Operations, in display order.
var OperationKinds = []string{"upload", "replace", "rename", "reorder", "delete", "adopt"}

// CountOperations adds the operations a pass did to the counts.
func (m *Metrics) CountOperations(res *Result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ops == nil {
		m.ops = map[string]int64{}
	}
	for kind, n := range map[string]int{"upload": res.Uploaded, "replace": res.Replaced, "rename": res.Renamed,
		"reorder": res.Reordered, "delete": res.Deleted, "adopt": res.Adopted} {
		m.ops[kind] += int64(n)
	}
}

func (m *Metrics) request(ep focus.Endpoint, err error) {
	status := "ok"
	if err != nil {
		status = "error"
		var fe *focus.Error
		if errors.As(err, &fe) {
			if fe.Status != 0 {
				status = strconv.Itoa(fe.Status)
			} else {
				status = "transport"
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.requests == nil {
		m.requests = map[requestKey]int64{}
	}
	m.requests[requestKey{ep, status}]++
}

func (m *Metrics) uploaded(n int, files []state.IntentFile) {
	var b int64
	for _, f := range files {
		b += f.Size
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.uploads += int64(n)
	m.bytes += b
}

func (m *Metrics) retry() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.retries++
}

// Snapshot returns a copy of the counters, requests sorted by endpoint and status.
func (m *Metrics) Snapshot() MetricsSnapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := MetricsSnapshot{Uploads: m.uploads, Bytes: m.bytes, Retries: m.retries, Operations: map[string]int64{}}
	for _, kind := range OperationKinds {
		s.Operations[kind] = m.ops[kind]
	}
	for k, v := range m.requests {
		s.Requests = append(s.Requests, RequestCount{k.Endpoint, k.Status, v})
	}
	sort.Slice(s.Requests, func(i, j int) bool {
		a, b := s.Requests[i], s.Requests[j]
		if a.Endpoint != b.Endpoint {
			return a.Endpoint < b.Endpoint
		}
		return a.Status < b.Status
	})
	return s
}
