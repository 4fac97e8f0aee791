package focus

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies a failed request so that callers can decide what to do next.
type Kind int

// The kinds of failure. KindTransport covers everything that is not an HTTP answer:
// refused or dropped connections, timeouts, truncated bodies.
const (
	KindUnknown     Kind = iota
	KindAuth             // 401: the token is missing, wrong or expired
	KindForbidden        // 403
	KindQuota            // 402: the hourly quota is spent; wait for ResetIn
	KindRateLimited      // 429: wait for RetryAfter
	KindNotFound         // 404
	KindInvalid          // 400: the server refused the request; Message says why
	KindServer           // 5xx
	KindTransport        // no HTTP answer
)

var kindNames = [...]string{"unknown", "auth", "forbidden", "quota", "rate limited", "not found", "invalid", "server", "transport"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is the error every Client method returns for a failed request.
type Error struct {
	Op       string   // what was attempted, e.g. "bulk create task 101 (3 files)"
	Endpoint Endpoint // which endpoint
	Kind     Kind
	Status   int    // HTTP status, 0 for transport failures
	Message  string // the server's message, if it sent one

	// RetryAfter is the server's Retry-After on a 429.
	RetryAfter time.Duration
	// ResetIn is how long until the quota resets, on a 402.
	ResetIn time.Duration
	// Ambiguous is set on a create or bulk create that failed after its body may have
	// reached the server (timeout or dropped connection after sending, a 5xx): the
	// attachments may exist. List the task before retrying.
	Ambiguous bool
	// Err is the underlying transport error, if any.
	Err error
}

func (e *Error) Error() string {
	msg := e.Op + ": "
	switch {
	case e.Kind == KindTransport && e.Err != nil:
		msg += e.Err.Error()
	case e.Status != 0:
		msg += fmt.Sprintf("%s (HTTP %d)", e.Kind, e.Status)
		if e.Message != "" {
			msg += ": " + e.Message
		}
	default:
		msg += e.Kind.String()
	}
	switch e.Kind {
	case KindQuota:
		msg += fmt.Sprintf("; quota resets in %s", e.ResetIn.Round(time.Second))
	case KindRateLimited:
		msg += fmt.Sprintf("; retry after %s", e.RetryAfter.Round(time.Second))
	}
	if e.Ambiguous {
		msg += " (the server may have stored it)"
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of a failed request, or KindUnknown when err is not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindUnknown
}

// IsAmbiguous reports whether err is a write that may have taken effect on the server.
func IsAmbiguous(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Ambiguous
}

// Retryable reports whether the same request may be sent again later: quota,
// rate limits, server errors and transport failures. An ambiguous create must be
// reconciled (list the task) before it is retried.
func Retryable(err error) bool {
	switch KindOf(err) {
	case KindQuota, KindRateLimited, KindServer, KindTransport:
		return true
	}
	return false
}

// ErrFileChanged is returned (wrapped) when a file being uploaded no longer has the
// size it had when the upload began.
var ErrFileChanged = errors.New("file changed during upload")

// ErrNotScanned is returned (wrapped) when a file to upload is not the one that was
// scanned: a symlink or a directory swapped for one on its path, a FIFO, socket or
// device, another inode, or content whose SHA-256 differs from Upload.Hash. The
// request was cut short before its body ended: the server stored nothing.
var ErrNotScanned = errors.New("not the file that was scanned")

// ErrIDsUnknown is returned (wrapped, with no *Error) by Create and BulkCreate when the
// server answered 201 with a body that holds no attachments: the upload succeeded
// but the new ids must be learned with a list call.
var ErrIDsUnknown = errors.New("created, but the response did not say the new attachment ids")
