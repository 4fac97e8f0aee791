// Package focustest is an in-process emulator of the Focus task-attachments API,
// shaped like net/http/httptest. It serves the six endpoints under /api with the
// same paths, status codes, JSON and quota headers as Focus, and adds knobs that
// make the server misbehave on purpose: injected errors, rate limits, connections
// dropped after a write was committed, latency, an empty 201 body, soft-deleted
// items in lists, refused files. Every request is recorded so that tests can
// assert what a client sent and how many requests it spent.
//
// Uploaded files are streamed: only their SHA-256 and size are kept, and their
// content too when Options.DataDir is set, so large uploads never sit in memory.
//
// What the emulator does where the API reference is silent:
//
//   - Tasks exist implicitly; a task belongs to the organization and workspace
//     it was first used with, and is not found (404) under any other.
//   - Attachment ids are global and increasing; an id of another task is 404.
//   - Every answer carries X-Toggl-Quota-Remaining and X-Toggl-Quota-Resets-In.
//     The quota window of an organization starts with its first request; every
//     request counts except a 401; an exhausted quota answers 402 and applies
//     nothing.
//   - Create and bulk create answer 201 with the new attachment, or
//     {"items": [...]} in part order. Bulk create validates and receives every
//     part before storing all of them or none.
//   - Delete is a soft delete: the item keeps its deleted_at and leaves lists.
//   - Errors are JSON objects with a "message".
//
// A Server also serves, at its PageURL, an HTML page listing every task's
// attachments, refreshed every two seconds.
package focustest

import (
	"crypto/subtle"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/focussync/focussync/focus"
)

// Options configures an Emulator.
type Options struct {
	// Token is the bearer token every request must carry
	// ("Authorization: Bearer <Token>"); "" accepts any non-empty bearer token.
	Token string
	// Quota is the number of requests per Window per organization; 0 is unlimited.
	Quota int
	// Window is the quota window; 0 means one hour.
	Window time.Duration
	// DataDir keeps uploaded content on disk under this directory; "" keeps only
	// each file's SHA-256 and size.
	DataDir string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// LogLimit keeps at most this many requests in the log, dropping the oldest;
	// 0 keeps them all.
	LogLimit int
}

// UnlimitedRemaining is what X-Toggl-Quota-Remaining and QuotaState report when
// Options.Quota is 0.
const UnlimitedRemaining = 1<<31 - 1

// Emulator is an http.Handler that emulates the Focus task-attachments API. All
// its state sits behind one mutex; it is safe for concurrent use.
type Emulator struct {
	opts Options
	mux  *http.ServeMux

	mu       sync.Mutex
	nextID   int64
	items    map[int64]item     // by attachment id
	names    textArena          // the names of items
	mimes    []string           // the MIME types of items
	mimeIdx  map[string]int32   // index of each of mimes
	tasks    map[int64]taskHome // where each task lives
	quotas   map[int64]*window  // by organization
	windows  map[int64]int      // quota windows started, by organization
	log      []logged
	queued   []queuedFault
	faults   Faults
	rng      *rand.Rand
	latency  time.Duration
	empty201 bool
	listDel  bool
	rejects  []string // name globs
	maxSize  int64    // 0 = no limit
	readRate int64    // request body bytes per second; 0 = no limit
	tap      func(ep focus.Endpoint) io.Writer
}

// taskHome is the organization and workspace a task was first seen in.
type taskHome struct{ org, ws int64 }

// attachmentsPath is the collection every endpoint lives under.
const attachmentsPath = "/api/organizations/{org}/workspaces/{ws}/tasks/{task}/attachments"

// NewHandler returns an Emulator configured by opts, to be served by any
// http.Server (NewServer does that on loopback).
func NewHandler(opts Options) *Emulator {
	if opts.Window <= 0 {
		opts.Window = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Emulator{
		opts:    opts,
		mux:     http.NewServeMux(),
		items:   map[int64]item{},
		mimeIdx: map[string]int32{},
		tasks:   map[int64]taskHome{},
		quotas:  map[int64]*window{},
		windows: map[int64]int{},
	}
	e.mux.HandleFunc("GET "+attachmentsPath, e.endpoint(focus.EndpointList, e.list))
	e.mux.HandleFunc("POST "+attachmentsPath, e.endpoint(focus.EndpointCreate, e.create))
	e.mux.HandleFunc("POST "+attachmentsPath+"/bulk", e.endpoint(focus.EndpointBulk, e.bulk))
	e.mux.HandleFunc("PUT "+attachmentsPath+"/{id}", e.endpoint(focus.EndpointUpdate, e.update))
	e.mux.HandleFunc("DELETE "+attachmentsPath+"/{id}", e.endpoint(focus.EndpointDelete, e.delete))
	e.mux.HandleFunc("GET "+attachmentsPath+"/{id}/view", e.endpoint(focus.EndpointView, e.view))
	e.mux.HandleFunc("/api/", e.endpoint("", e.noRoute))
	e.mux.HandleFunc("GET /{$}", e.page)
	return e
}

// ServeHTTP answers one request.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mux.ServeHTTP(w, r)
}

// route is what the path of a request names.
type route struct {
	ep                focus.Endpoint
	org, ws, task, id int64
	orgOK             bool // org parsed: the quota headers can name it
}

// parseRoute reads the integer ids of the path.
func parseRoute(r *http.Request, ep focus.Endpoint) (route, error) {
	rt := route{ep: ep}
	if ep == "" {
		return rt, nil
	}
	var err error
	if rt.org, err = pathInt(r, "org", "organization id"); err != nil {
		return rt, err
	}
	rt.orgOK = true
	if rt.ws, err = pathInt(r, "ws", "workspace id"); err != nil {
		return rt, err
	}
	if rt.task, err = pathInt(r, "task", "task id"); err != nil {
		return rt, err
	}
	if ep == focus.EndpointUpdate || ep == focus.EndpointDelete || ep == focus.EndpointView {
		if rt.id, err = pathInt(r, "id", "attachment id"); err != nil {
			return rt, err
		}
	}
	return rt, nil
}

func pathInt(r *http.Request, key, what string) (int64, error) {
	s := r.PathValue(key)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not an integer", what, s)
	}
	return n, nil
}

// reply is an answer computed by a handler, written by endpoint.
type reply struct {
	status     int
	body       []byte // JSON, or nil
	retryAfter time.Duration
	allow      string
	fault      string
	drop       bool // commit, then close the connection without answering
}

func errorReply(status int, format string, args ...any) reply {
	return reply{status: status, body: jsonBody(map[string]string{"message": fmt.Sprintf(format, args...)})}
}

// endpoint wraps a handler with what every request goes through: the route ids,
// authentication, quota, faults, the request log, latency and the headers.
func (e *Emulator) endpoint(ep focus.Endpoint, h func(*http.Request, route, *Request) reply) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := newRequest(r, ep, e.opts.Now())
		e.wrapBody(r, ep)
		rt, perr := parseRoute(r, ep)
		rec.TaskID = rt.task
		var rep reply
		switch {
		case !e.authorized(r):
			rep = errorReply(http.StatusUnauthorized, "missing or invalid bearer token")
		case perr != nil:
			rep = errorReply(http.StatusBadRequest, "%v", perr)
		case ep == "":
			rep = h(r, rt, &rec)
		default:
			pre, refused := e.admit(rt, rec.Time)
			if refused {
				rep = pre
			} else {
				rep = h(r, rt, &rec)
				rep.drop = pre.drop
				if pre.drop {
					rep.fault = "drop"
				}
			}
		}
		e.answer(w, r, rt, rep, &rec)
	}
}

// authorized checks the bearer token.
func (e *Emulator) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return false
	}
	if e.opts.Token == "" {
		return true
	}
	return subtle.ConstantTimeCompare([]byte(token), []byte(e.opts.Token)) == 1
}

// admit spends one request of the organization's quota and applies the faults
// that act before the handler. refused reports that pre is the answer.
func (e *Emulator) admit(rt route, now time.Time) (pre reply, refused bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.spendLocked(rt.org, now) {
		_, resetIn := e.quotaLocked(rt.org, now)
		rep := errorReply(http.StatusPaymentRequired, "request quota exhausted for organization %d; it resets in %d seconds", rt.org, ceilSeconds(resetIn))
		rep.fault = "quota"
		return rep, true
	}
	if f, ok := e.nextFaultLocked(rt.ep); ok {
		switch f.kind {
		case faultFail:
			rep := errorReply(f.status, "%s (injected by the emulator)", http.StatusText(f.status))
			rep.fault = "fail"
			return rep, true
		case faultRateLimit:
			rep := errorReply(http.StatusTooManyRequests, "too many requests (injected by the emulator)")
			rep.retryAfter = f.retryAfter
			rep.fault = "ratelimit"
			return rep, true
		case faultDrop:
			pre.drop = true
		}
	}
	if home, ok := e.tasks[rt.task]; !ok {
		e.tasks[rt.task] = taskHome{rt.org, rt.ws}
	} else if home.org != rt.org || home.ws != rt.ws {
		return errorReply(http.StatusNotFound, "task %d not found in organization %d, workspace %d", rt.task, rt.org, rt.ws), true
	}
	return pre, false
}

// answer records the request, waits the latency and writes the reply (or drops
// the connection).
func (e *Emulator) answer(w http.ResponseWriter, r *http.Request, rt route, rep reply, rec *Request) {
	rec.Handled = e.opts.Now()
	// Read what the handler left of the body, so that the client sees the answer
	// rather than a reset, and so that a client that goes away is noticed.
	drain(r)
	if !rep.drop && !e.wait(r) {
		rep.drop, rep.fault = true, "canceled"
	}
	now := e.opts.Now()
	remaining, resetIn := e.headerQuota(rt, now)
	rec.Fault = rep.fault
	if !rep.drop {
		rec.Status = rep.status
	}
	e.record(*rec)
	if rep.drop {
		abort(w)
		return
	}
	h := w.Header()
	h.Set("X-Toggl-Quota-Remaining", strconv.Itoa(remaining))
	h.Set("X-Toggl-Quota-Resets-In", strconv.FormatInt(ceilSeconds(resetIn), 10))
	if rep.retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(ceilSeconds(rep.retryAfter), 10))
	}
	if rep.allow != "" {
		h.Set("Allow", rep.allow)
	}
	if len(rep.body) > 0 {
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(rep.body)))
	}
	w.WriteHeader(rep.status)
	if len(rep.body) > 0 && r.Method != http.MethodHead {
		_, _ = w.Write(rep.body)
	}
}

// wait sleeps the configured latency; it reports false when the request's
// context ended first.
func (e *Emulator) wait(r *http.Request) bool {
	e.mu.Lock()
	d := e.latency
	e.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// abort closes the connection without an answer.
func abort(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// noRoute answers paths under /api that name no endpoint: 405 when the path
// exists with another method, else 404.
func (e *Emulator) noRoute(r *http.Request, _ route, _ *Request) reply {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := e.mux.Handler(probe); pattern != "/api/" && strings.HasPrefix(pattern, m+" ") {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		rep := errorReply(http.StatusMethodNotAllowed, "method %s not allowed on %s", r.Method, r.URL.Path)
		rep.allow = strings.Join(allow, ", ")
		return rep
	}
	return errorReply(http.StatusNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path)
}

// discardLogger silences the http.Server's own log of closed connections.
var discardLogger = log.New(discardWriter{}, "", 0)

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
