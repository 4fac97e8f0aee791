package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/focussync/focussync/config"
)

func TestLogFields_JSON(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(logFields{slog.NewJSONHandler(&buf, nil)})
	log.With("rescan", 10*time.Minute).Info("x",
		"took", 21*time.Millisecond+400*time.Microsecond, "size", int64(3481),
		"max_size", uint64(100<<10), "files", 3, slog.Group("g", "wait", 1500*time.Millisecond))
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	for k, want := range map[string]any{
		"rescan": "10m", "took": "21ms", "size": "3.4 KiB", "bytes": float64(3481),
		"max_size": "100 KiB", "max_bytes": float64(100 << 10), "files": float64(3),
	} {
		if got[k] != want {
			t.Errorf("%s = %#v, want %#v (line %s)", k, got[k], want, buf.String())
		}
	}
	if g, _ := got["g"].(map[string]any); g["wait"] != "1.5s" {
		t.Errorf("a duration in a group = %#v, want \"1.5s\"", got["g"])
	}
	for _, k := range []string{"rescan", "took"} {
		if _, err := time.ParseDuration(got[k].(string)); err != nil {
			t.Errorf("%s = %q does not parse as a duration: %v", k, got[k], err)
		}
	}
}

func TestLogDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 340 * time.Microsecond: "340µs", 21*time.Millisecond + 499*time.Microsecond: "21ms",
		1500 * time.Millisecond: "1.5s", 90*time.Second + 300*time.Millisecond: "1m30s",
		10 * time.Minute: "10m", 24 * time.Hour: "24h", 2*time.Hour + 5*time.Minute: "2h5m",
	} {
		if got := logDuration(d); got != want {
			t.Errorf("logDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestNewLogger_TextHasTheZone(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, config.Log{Format: "tint"}, new(slog.LevelVar), false)
	log.Info("hello", "took", time.Second)
	line := buf.String()
	if !regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{2}:\d{2} INF hello took=1s\n$`).MatchString(line) {
		t.Errorf("terminal log line = %q, want the date, the time with its zone offset, and took=1s", line)
	}
	if strings.Contains(line, "\x1b[") {
		t.Errorf("colour on a writer that is not a terminal: %q", line)
	}
}
