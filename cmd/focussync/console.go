package main

import (
	"io"
	"os"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/term"
)

// console is the one writer of a terminal that shows a status line (the
// progress bar) below the log. Everything else written to the terminal while
// the status line is up goes through Write: the status line is cleared, the
// text is written, and the status line is drawn again below it, so that a log
// line and the status line never share a line. On a writer that is not a
// terminal, the status line is never drawn and Write passes text through.
type console struct {
	mu      sync.Mutex
	w       io.Writer
	fd      int  // the terminal's descriptor, for its width
	tty     bool // w is a terminal
	draws   bool // a terminal that can erase a line (not TERM=dumb)
	status  string
	shown   bool // the status line is on screen
	midLine bool // the last text written did not end a line
}

// newConsole returns the console writing to w.
func newConsole(w io.Writer) *console {
	c := &console{w: w, fd: -1}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		c.tty, c.fd = true, int(f.Fd())
		c.draws = os.Getenv("TERM") != "dumb"
	}
	return c
}

// clearLine moves to the start of the line and erases it.
const clearLine = "\r\033[K"

// Write writes p (log text) above the status line.
func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shown {
		if _, err := io.WriteString(c.w, clearLine); err != nil {
			return 0, err
		}
		c.shown = false
	}
	n, err := c.w.Write(p)
	if n > 0 {
		c.midLine = p[n-1] != '\n'
	}
	if err == nil {
		c.draw()
	}
	return n, err
}

// SetStatus shows s as the status line, in place of the one shown; "" removes
// it. It does nothing unless the console is a terminal that can erase a line.
func (c *console) SetStatus(s string) {
	if !c.draws {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status = strings.ReplaceAll(s, "\n", " ")
	if c.status == "" {
		if c.shown {
			_, _ = io.WriteString(c.w, clearLine)
			c.shown = false
		}
		return
	}
	c.draw()
}

// draw puts the status line on screen, cut to the terminal's width so that it
// never wraps (a wrapped line could not be erased with one clearLine). It
// waits while a log line is unfinished.
func (c *console) draw() {
	if c.status == "" || c.midLine || !c.draws {
		return
	}
	s := c.status
	if w, _, err := term.GetSize(c.fd); err == nil && w > 1 {
		s = truncateRunes(s, w-1)
	}
	if _, err := io.WriteString(c.w, clearLine+s); err == nil {
		c.shown = true
	}
}

// truncateRunes cuts s to at most n runes.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
