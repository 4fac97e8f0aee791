package main

import (
	"context"
	"log/slog"
	"strings"
	"time"
)

// The log's field conventions, the same in every format (tint, text, JSON) and
// in every command (sync, run, demo):
//
//   - A duration is a string in Go's duration syntax, which time.ParseDuration
//     and most log tools read: "took":"17ms", "rescan":"10m", "resets_in":"41m3s".
//     Keys name what is measured, without a unit.
//   - A size is logged under "size" (or a key ending in "_size") as a number
//     of bytes by the code; the log shows it twice: readable under that key
//     ("size":"3.4 KiB", the same notation as the summaries) and exact under
//     "bytes" (or the key with "_size" replaced by "_bytes"): "bytes":3481.
//
// logFields applies them to every record, so that the packages that log need
// only pass time.Duration and int64 values.
type logFields struct{ h slog.Handler }

func (l logFields) Enabled(ctx context.Context, level slog.Level) bool {
	return l.h.Enabled(ctx, level)
}

func (l logFields) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(convertAttr(a)...)
		return true
	})
	return l.h.Handle(ctx, out)
}

func (l logFields) WithAttrs(attrs []slog.Attr) slog.Handler {
	var out []slog.Attr
	for _, a := range attrs {
		out = append(out, convertAttr(a)...)
	}
	return logFields{l.h.WithAttrs(out)}
}

func (l logFields) WithGroup(name string) slog.Handler { return logFields{l.h.WithGroup(name)} }

// convertAttr applies the conventions to one attribute.
func convertAttr(a slog.Attr) []slog.Attr {
	a.Value = a.Value.Resolve()
	switch a.Value.Kind() {
	case slog.KindDuration:
		return []slog.Attr{slog.String(a.Key, logDuration(a.Value.Duration()))}
	case slog.KindInt64, slog.KindUint64:
		if a.Key != "size" && !strings.HasSuffix(a.Key, "_size") {
			break
		}
		var n int64
		if a.Value.Kind() == slog.KindInt64 {
			n = a.Value.Int64()
		} else {
			n = int64(min(a.Value.Uint64(), 1<<63-1))
		}
		return []slog.Attr{slog.String(a.Key, humanBytes(n)), slog.Int64(strings.TrimSuffix(a.Key, "size")+"bytes", n)}
	case slog.KindGroup:
		var out []slog.Attr
		for _, g := range a.Value.Group() {
			out = append(out, convertAttr(g)...)
		}
		return []slog.Attr{slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}}
	}
	return []slog.Attr{a}
}

// logDuration writes d for the log: to the millisecond under a minute (to the
// microsecond under a millisecond), to the second above, without trailing zero
// units ("10m", not "10m0s").
func logDuration(d time.Duration) string {
	switch a := d.Abs(); {
	case a < time.Millisecond:
		d = d.Round(time.Microsecond)
	case a < time.Minute:
		d = d.Round(time.Millisecond)
	default:
		d = d.Round(time.Second)
	}
	return shortDuration(d)
}
