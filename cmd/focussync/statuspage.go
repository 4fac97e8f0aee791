package main

import (
	_ "embed"
	"net/http"
)

// statusPageHTML is the status page: one file with its style and script, so
// that it works offline and loads nothing from elsewhere. Its script fetches
// /status, /activity and /readyz every 2 seconds.
//
//go:embed statuspage/index.html
var statusPageHTML []byte

// statusPage serves the read-only status page.
func statusPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		// Nothing but this page's own script, style and same-origin fetches.
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		_, _ = w.Write(statusPageHTML)
	})
}
