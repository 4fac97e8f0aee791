package focus

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// observeQuota records the quota headers of resp, and a 402, in the
// organization's Quota.
func (c *Client) observeQuota(org int64, resp *http.Response) {
	remaining := -1
	if v, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("X-Toggl-Quota-Remaining"))); err == nil && v >= 0 {
		remaining = v
	}
	resetIn := parseSeconds(resp.Header.Get("X-Toggl-Quota-Resets-In"))
	q := c.Quota(org)
	now := c.now()
	switch {
	case resp.StatusCode == http.StatusPaymentRequired:
		q.Exhausted(now, resetIn)
	case remaining >= 0 || resetIn >= 0:
		q.Observe(now, remaining, resetIn)
	}
}

// parseSeconds parses a non-negative number of seconds, or returns -1.
func parseSeconds(v string) time.Duration {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || !(f >= 0 && f <= 1e9) { // also refuses NaN
		return -1
	}
	return time.Duration(f * float64(time.Second))
}

// parseRetryAfter parses a Retry-After value in seconds or as an HTTP date, or
// returns -1.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	if d := parseSeconds(v); d >= 0 {
		return d
	}
	when, err := http.ParseTime(v)
	if err != nil {
		return -1
	}
	return max(when.Sub(now), 0)
}

// classify turns a failed exchange into an *Error: resp is the non-2xx answer
// with its body data, or err is the transport failure (resp is nil). tok is
// scrubbed from anything the server sent back.
func (c *Client) classify(rq *request, resp *http.Response, data []byte, err error, tok string) *Error {
	e := &Error{Op: rq.op, Endpoint: rq.ep}
	creating := rq.ep == EndpointCreate || rq.ep == EndpointBulk
	if resp == nil {
		e.Kind = KindTransport
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if c.stall > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			err = fmt.Errorf("connection stalled (no bytes moved for %s): %w", c.stall, err)
		}
		e.Err = err
		// Once body bytes went out, the server may have received the whole
		// request and acted on it; before that (a refused dial, a failed TLS
		// handshake) it cannot have.
		e.Ambiguous = creating && rq.state.sent.Load() > 0
		return e
	}
	e.Status = resp.StatusCode
	e.Message = parseMessage(data)
	if tok != "" {
		e.Message = strings.ReplaceAll(e.Message, tok, "[token]")
	}
	switch s := resp.StatusCode; {
	case s == http.StatusUnauthorized:
		e.Kind = KindAuth
	case s == http.StatusForbidden:
		e.Kind = KindForbidden
	case s == http.StatusPaymentRequired:
		e.Kind = KindQuota
		e.ResetIn = parseSeconds(resp.Header.Get("X-Toggl-Quota-Resets-In"))
		if e.ResetIn < 0 {
			e.ResetIn = parseRetryAfter(resp.Header.Get("Retry-After"), c.now())
		}
		e.ResetIn = max(e.ResetIn, 0)
	case s == http.StatusTooManyRequests:
		e.Kind = KindRateLimited
		e.RetryAfter = max(parseRetryAfter(resp.Header.Get("Retry-After"), c.now()), 0)
	case s == http.StatusNotFound:
		e.Kind = KindNotFound
	case s == http.StatusBadRequest, s == http.StatusConflict, s == http.StatusRequestEntityTooLarge,
		s == http.StatusUnsupportedMediaType, s == http.StatusUnprocessableEntity:
		e.Kind = KindInvalid
	case s >= 500:
		e.Kind = KindServer
		e.Ambiguous = creating
	default:
		e.Kind = KindUnknown
	}
	return e
}
