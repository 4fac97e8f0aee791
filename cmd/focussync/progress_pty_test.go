//go:build linux || darwin

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/creack/pty"
)

var (
	sgrCode   = regexp.MustCompile("\x1b\\[[0-9;]*m")
	logStart  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}`)
	timestamp = regexp.MustCompile(`\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}`)
	levelWord = regexp.MustCompile(` (DBG|INF|WRN|ERR) `)
	barText   = regexp.MustCompile(`\[[#.]+\] \d+/\d+ files`)
	// a log line written while the bar was on screen: the bar is erased first.
	logOverBar = regexp.MustCompile(`\] \d+/\d+ files[^\n]*\r\x1b\[K\d{4}-\d{2}-\d{2}`)
)

// screenLines replays terminal output as a terminal shows it: carriage return,
// erase to the end of the line, newline. Colours are dropped. The last element is
// what is left on the cursor's line.
func screenLines(raw string) []string {
	s := sgrCode.ReplaceAllString(raw, "")
	var lines []string
	var line []rune
	col := 0
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "\x1b[K"):
			line = line[:col]
			i += 3
		case s[i] == '\r':
			col = 0
			i++
		case s[i] == '\n':
			lines = append(lines, string(line))
			line, col = nil, 0
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if col < len(line) {
				line[col] = r
			} else {
				line = append(line, r)
			}
			col++
			i += n
		}
	}
	return append(lines, string(line))
}

// TestSync_ProgressAndLogsOnATerminal runs `focussync sync` on a terminal (a
// pty) over two folders synced at once, with log lines printed while the
// progress bar is up, and checks the screen: no line holds both the bar and a
// log line, every log line is whole, and the bar is gone at the end.
func TestSync_ProgressAndLogsOnATerminal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	second := filepath.Join(e.dir, "second")
	if err := os.MkdirAll(second, 0o755); err != nil {
		t.Fatal(err)
	}
	e.extra += fmt.Sprintf("\n[[folder]]\npath = %q\ntask_id = 102\n", second)
	e.writeConfig()
	e.writeN(45, "a")
	for i := range 45 {
		if err := os.WriteFile(filepath.Join(second, fmt.Sprintf("b%03d.txt", i)), bytes.Repeat([]byte{'b'}, 100+i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.srv.SetLatency(20 * time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := e.command(ctx, "sync")
	var env []string
	for _, kv := range cmd.Env {
		if !strings.HasPrefix(kv, "NO_COLOR=") && !strings.HasPrefix(kv, "TERM=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "TERM=xterm-256color")
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	var raw bytes.Buffer
	_, err = io.Copy(&raw, tty)
	if err != nil && !errors.Is(err, syscall.EIO) { // EIO: the other side closed
		t.Fatalf("read the terminal: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sync: %v\n%s", err, raw.String())
	}

	out := raw.String()
	lines := screenLines(out)
	uploaded := 0
	for i, l := range lines {
		if barText.MatchString(l) {
			t.Errorf("line %d holds the progress bar, which should have been erased: %q", i+1, l)
		}
		if !levelWord.MatchString(l) && !timestamp.MatchString(l) {
			continue // the summary on stdout
		}
		if !logStart.MatchString(l) {
			t.Errorf("line %d: a log line that does not start with its time: %q", i+1, l)
		}
		if n := len(timestamp.FindAllString(l, -1)); n != 1 {
			t.Errorf("line %d holds %d log lines: %q", i+1, n, l)
		}
		if strings.Contains(l, " INF uploaded ") {
			uploaded++
		}
	}
	if uploaded != 90 {
		t.Errorf("%d lines say uploaded, want 90 (one per file):\n%s", uploaded, strings.Join(lines, "\n"))
	}
	// The test means something only if the bar was drawn and log lines came
	// while it was up.
	if !barText.MatchString(sgrCode.ReplaceAllString(out, "")) {
		t.Fatalf("the progress bar was never drawn:\n%q", out)
	}
	if !logOverBar.MatchString(sgrCode.ReplaceAllString(out, "")) {
		t.Errorf("no log line was printed while the bar was up, so nothing was tested:\n%q", out)
	}
	if last := lines[len(lines)-1]; strings.TrimSpace(last) != "" {
		t.Errorf("the last line is not empty after the sync: %q", last)
	}
}

func TestConsole_StatusLineFitsTheTerminal(t *testing.T) {
	ptm, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptm.Close()
	if err := pty.Setsize(tty, &pty.Winsize{Rows: 10, Cols: 20}); err != nil {
		t.Fatal(err)
	}
	got := make(chan string)
	go func() {
		var b bytes.Buffer
		_, _ = io.Copy(&b, ptm)
		got <- b.String()
	}()
	c := newConsole(tty)
	if !c.tty {
		t.Fatal("a pty is not seen as a terminal")
	}
	c.SetStatus("[####....] 12/40 files, 1.2 MiB/9.9 MiB, quota left 17")
	fmt.Fprintf(c, "first log line\n")
	fmt.Fprintf(c, "half a line, ")
	c.SetStatus("[######..] 30/40 files") // waits for the end of the line
	fmt.Fprintf(c, "and its end\n")
	c.SetStatus("")
	tty.Close()
	raw := <-got
	if !strings.Contains(raw, "\r\x1b[K[####....] 12/40 fi") || strings.Contains(raw, "quota left") {
		t.Errorf("the status line is not cut to the terminal's 20 columns: %q", raw)
	}
	lines := screenLines(raw)
	want := []string{"first log line", "half a line, and its end", ""}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("screen = %q, want %q", lines, want)
	}

	var buf bytes.Buffer
	c = newConsole(&buf)
	c.SetStatus("[#] 1/2 files")
	fmt.Fprintf(c, "a log line\n")
	if buf.String() != "a log line\n" {
		t.Errorf("not a terminal: wrote %q, want only the log line", buf.String())
	}
}

func TestColorWanted(t *testing.T) {
	ptm, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptm.Close()
	defer tty.Close()
	for _, tc := range []struct {
		noColor, term string
		want          bool
	}{
		{"", "xterm-256color", true},
		{"1", "xterm-256color", false},
		{"", "dumb", false},
	} {
		t.Setenv("NO_COLOR", tc.noColor) // set but empty counts as not set
		t.Setenv("TERM", tc.term)
		if got := colorWanted(tty); got != tc.want {
			t.Errorf("NO_COLOR=%q TERM=%q: colour %t, want %t", tc.noColor, tc.term, got, tc.want)
		}
		if got := newConsole(tty).draws; got != (tc.term != "dumb") {
			t.Errorf("TERM=%q: the progress line is drawn: %t", tc.term, got)
		}
	}
	if colorWanted(&bytes.Buffer{}) {
		t.Errorf("colour on a writer that is not a terminal")
	}
}
