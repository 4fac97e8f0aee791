package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// activitySize is how many recent events the status page shows.
const activitySize = 50

// activityEvent is one log record at info level or above, as the status page
// lists it under "Recent activity".
type activityEvent struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
	Folder  string    `json:"folder,omitempty"`
	File    string    `json:"file,omitempty"`
	Detail  string    `json:"detail,omitempty"` // the other attributes, key=value
}

// activityLog keeps the most recent events in a ring. It is safe for concurrent
// use.
type activityLog struct {
	mu   sync.Mutex
	ring []activityEvent
	next int // where the next event goes once the ring is full
}

func newActivityLog(n int) *activityLog {
	return &activityLog{ring: make([]activityEvent, 0, n)}
}

func (a *activityLog) add(e activityEvent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.ring) < cap(a.ring) {
		a.ring = append(a.ring, e)
		return
	}
	a.ring[a.next] = e
	a.next = (a.next + 1) % len(a.ring)
}

// Recent returns the events kept, newest first.
func (a *activityLog) Recent() []activityEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]activityEvent, 0, len(a.ring))
	for i := range a.ring {
		out = append(out, a.ring[(a.next+len(a.ring)-1-i)%len(a.ring)])
	}
	return out
}

// activityHandler passes records on to the log's handler and keeps those at info
// level or above in an activityLog, whatever the log's level.
type activityHandler struct {
	next   slog.Handler
	log    *activityLog
	attrs  []slog.Attr
	prefix string // groups opened with WithGroup, as "a.b."
}

var _ slog.Handler = (*activityHandler)(nil)

// withActivity returns a logger that also records into a.
func withActivity(l *slog.Logger, a *activityLog) *slog.Logger {
	return slog.New(&activityHandler{next: l.Handler(), log: a})
}

func (h *activityHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h *activityHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo {
		e := activityEvent{Time: r.Time, Level: strings.ToLower(r.Level.String()), Message: r.Message}
		var detail []string
		add := func(a slog.Attr) {
			key, v := a.Key, a.Value.Resolve()
			switch key {
			case "folder":
				e.Folder = v.String()
			case "file":
				e.File = v.String()
			case "task":
				// the folder names it
			default:
				detail = append(detail, fmt.Sprintf("%s=%s", key, v))
			}
		}
		for _, a := range h.attrs {
			add(a)
		}
		r.Attrs(func(a slog.Attr) bool {
			add(slog.Attr{Key: h.prefix + a.Key, Value: a.Value})
			return true
		})
		e.Detail = strings.Join(detail, " ")
		h.log.add(e)
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *activityHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(attrs)
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), prefixed(h.prefix, attrs)...)
	return &c
}

func (h *activityHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.next = h.next.WithGroup(name)
	c.prefix = h.prefix + name + "."
	return &c
}

// prefixed returns attrs with their keys in the groups of prefix.
func prefixed(prefix string, attrs []slog.Attr) []slog.Attr {
	if prefix == "" {
		return attrs
	}
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = slog.Attr{Key: prefix + a.Key, Value: a.Value}
	}
	return out
}
