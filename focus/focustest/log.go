package focustest

import (
	"encoding/binary"
	"net/http"
	"slices"
	"time"

	"github.com/focussync/focussync/focus"
)

// Request is one request as the emulator received and answered it.
type Request struct {
	Time time.Time // when it arrived
	// Handled is when the handler was done: a write was applied by then.
	Handled time.Time
	// UserAgent is the client's User-Agent header: focussync names its process
	// in it, so tests tell which process sent each write.
	UserAgent string
	Method    string
	Path      string
	Endpoint  focus.Endpoint // "" for a path that names no endpoint
	TaskID    int64          // 0 when the path has no valid task id
	// Status is the status answered, 0 when the connection was closed without
	// an answer (Fault "drop" or "canceled").
	Status int
	// Fault is what the emulator did on purpose: "" (nothing), "fail",
	// "ratelimit", "drop", "quota" (402), or "canceled" (the request's context
	// ended during the latency; a write was already applied).
	Fault         string
	ContentLength int64 // -1 when unknown
	Chunked       bool  // the body used Transfer-Encoding: chunked
	ContentType   string
	// Fields are the multipart part names in the order they came (as far as
	// the body was read), and PartContentTypes their Content-Type headers.
	Fields           []string
	PartContentTypes []string
	Body             string // the JSON body of a PUT
	Files            int    // file parts received
}

func newRequest(r *http.Request, ep focus.Endpoint, now time.Time) Request {
	return Request{
		Time:          now,
		Method:        r.Method,
		Path:          r.URL.Path,
		Endpoint:      ep,
		ContentLength: r.ContentLength,
		Chunked:       slices.Contains(r.TransferEncoding, "chunked"),
		ContentType:   r.Header.Get("Content-Type"),
		UserAgent:     r.Header.Get("User-Agent"),
	}
}

// logged is a Request as the log keeps it: the names and Content-Types of its
// parts are packed in one string, so that a long log holds one object per
// request for them rather than two slices and two strings per part.
type logged struct {
	Request        // without Fields and PartContentTypes
	parts   string // packParts of Fields and PartContentTypes
}

// packParts writes each part's name and Content-Type, each as its length (a
// uvarint) and its bytes; names and types have the same length.
func packParts(names, types []string) string {
	if len(names) == 0 {
		return ""
	}
	n := 0
	for i := range names {
		n += len(names[i]) + len(types[i]) + 2*binary.MaxVarintLen64
	}
	b := make([]byte, 0, n)
	for i := range names {
		b = binary.AppendUvarint(b, uint64(len(names[i])))
		b = append(b, names[i]...)
		b = binary.AppendUvarint(b, uint64(len(types[i])))
		b = append(b, types[i]...)
	}
	return string(b)
}

// unpackParts reads what packParts wrote; nil slices when there are no parts.
func unpackParts(s string) (names, types []string) {
	next := func() string {
		n, k := binary.Uvarint([]byte(s[:min(len(s), binary.MaxVarintLen64)]))
		v := s[k : k+int(n)]
		s = s[k+int(n):]
		return v
	}
	for s != "" {
		names = append(names, next())
		types = append(types, next())
	}
	return names, types
}

func (e *Emulator) record(rec Request) {
	l := logged{Request: rec, parts: packParts(rec.Fields, rec.PartContentTypes)}
	l.Fields, l.PartContentTypes = nil, nil
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, l)
	if n := e.opts.LogLimit; n > 0 && len(e.log) > n {
		e.log = slices.Delete(e.log, 0, len(e.log)-n)
	}
}

// Requests returns a copy of the request log, oldest first. Requests made by
// Put and the other seeding and inspection methods are not in it.
func (e *Emulator) Requests() []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Request, len(e.log))
	for i, l := range e.log {
		r := l.Request
		r.Fields, r.PartContentTypes = unpackParts(l.parts)
		out[i] = r
	}
	return out
}

// ResetRequests empties the request log.
func (e *Emulator) ResetRequests() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = nil
}

// window is one organization's quota window.
type window struct {
	start time.Time
	used  int
}

// spendLocked counts one request against org's quota; false means the quota is
// exhausted and the request must be refused (it is not counted).
func (e *Emulator) spendLocked(org int64, now time.Time) bool {
	w := e.quotas[org]
	if w == nil || !now.Before(w.start.Add(e.opts.Window)) {
		w = &window{start: now}
		e.quotas[org] = w
		e.windows[org]++
	}
	if e.opts.Quota > 0 && w.used >= e.opts.Quota {
		return false
	}
	w.used++
	return true
}

// quotaLocked returns what is left of org's quota and when it resets. With no
// window running, the whole quota is left and resetIn is 0.
func (e *Emulator) quotaLocked(org int64, now time.Time) (remaining int, resetIn time.Duration) {
	remaining = e.opts.Quota
	if remaining == 0 {
		remaining = UnlimitedRemaining
	}
	w := e.quotas[org]
	if w == nil {
		return remaining, 0
	}
	end := w.start.Add(e.opts.Window)
	if !now.Before(end) {
		return remaining, 0
	}
	if e.opts.Quota > 0 {
		remaining = max(e.opts.Quota-w.used, 0)
	}
	return remaining, end.Sub(now)
}

// QuotaState returns what is left of org's quota and how long until its window
// resets (0 when no window is running). With an unlimited quota, remaining is
// UnlimitedRemaining.
func (e *Emulator) QuotaState(org int64) (remaining int, resetIn time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.quotaLocked(org, e.opts.Now())
}

// QuotaWindows returns how many quota windows of org have started: the windows
// that the requests so far were spent in.
func (e *Emulator) QuotaWindows(org int64) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.windows[org]
}

// headerQuota is what the quota headers of an answer say. A request whose
// organization is unknown reports a full quota and window.
func (e *Emulator) headerQuota(rt route, now time.Time) (remaining int, resetIn time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !rt.orgOK {
		remaining = e.opts.Quota
		if remaining == 0 {
			remaining = UnlimitedRemaining
		}
		return remaining, e.opts.Window
	}
	remaining, resetIn = e.quotaLocked(rt.org, now)
	if resetIn == 0 {
		resetIn = e.opts.Window
	}
	return remaining, resetIn
}

// ceilSeconds rounds d up to whole seconds.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
