package syncer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/focussync/focussync/focus"
)

// Pacer sends the requests of one pass. It is the one place that decides when a
// request may go (the organization's quota Budget, at the op's priority), whether
// it goes again (after a backoff or the server's Retry-After, or after the quota
// resets) and what a failure means for the pass (its Class). The executor only
// makes each request and acts on the Outcome; no op retries or classifies on its
// own.
//
// A write is sent again only when sending it again cannot duplicate it: a create
// whose outcome is unknown (ClassAmbiguous) is never retried here; the executor
// lists the task and adopts what reached Focus first. Deletes and updates are
// idempotent (a delete that finds nothing is ClassNotFound).
type Pacer struct {
	// Budget is the organization's quota budget: every request is sent between an
	// Acquire at its priority and a Release, whatever its outcome.
	Budget *Budget

	// RetryInitial is the first pause after a server or transport error; it doubles
	// (with jitter) up to RetryMax, for at most MaxRetries retries per request. A
	// 429 without Retry-After takes the same pauses; one with it waits that long,
	// and counts as a retry.
	RetryInitial time.Duration
	RetryMax     time.Duration
	MaxRetries   int

	Log     *slog.Logger
	Metrics *Metrics // counts requests and retries; may be nil

	// Sent, when set, is called once for every request sent, retries included,
	// with its endpoint and error (nil for a success).
	Sent func(ep focus.Endpoint, err error)
	// Waiting, when set, is told why the pacer waits before a retry
	// ("retrying in 4s"), and "" when the wait is over.
	Waiting func(why string)

	// sleep waits d or until ctx ends; nil means sleepCtx. Tests replace it to see
	// the pauses without taking them.
	sleep func(ctx context.Context, d time.Duration) error
}

// Class is what a request's outcome means for the op that sent it. Every failed
// request is sorted into exactly one class, once, by the Pacer.
type Class int

// The classes, in the order they are decided: a success, then a write whose
// outcome is unknown, then a cancelled pass (whatever the answer), then by the
// server's answer.
const (
	ClassDone Class = iota
	// ClassAmbiguous is a create whose outcome is unknown: a timeout or dropped
	// connection after its body went out, a 5xx, or a 201 that did not say the
	// new ids (focus.ErrIDsUnknown). The attachments may exist: list the task
	// before anything is sent again. Never retried by the Pacer.
	ClassAmbiguous
	// ClassCanceled: the pass's context ended, before, during or after the request.
	ClassCanceled
	// ClassNotSent: the budget could not grant the request (a SharedQuota out of
	// reach for too long), so it was not sent; the folder stops and is tried
	// again later.
	ClassNotSent
	// ClassUnauthorized is a 401: the token is refused; the folder stops.
	ClassUnauthorized
	// ClassRefused is a 400, 409, 413, 415 or 422: the server will not take this
	// request as it is. Sending it again unchanged would be refused again.
	ClassRefused
	// ClassNotFound is a 404: the attachment (or task) addressed is not there.
	ClassNotFound
	// ClassLocal: the request was cut short on this side, before the server could
	// store anything (a file changed, is not the one scanned, or cannot be read).
	ClassLocal
	// ClassTransient is a 429, a 5xx or a transport failure whose retries ran out;
	// a later pass tries again.
	ClassTransient
	// ClassFailed is any other answer (403, an unknown status).
	ClassFailed
)

var classNames = [...]string{"done", "ambiguous", "canceled", "not sent", "unauthorized", "refused", "not found", "local", "transient", "failed"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// Outcome is the result of one Pacer.Call: its class and the last request's
// error (nil for ClassDone).
type Outcome struct {
	Class Class
	Err   error
}

// OK reports whether the request succeeded.
func (o Outcome) OK() bool { return o.Class == ClassDone }

// classify sorts the error of one request (nil is a success). ctx is the pass's.
func classify(ctx context.Context, err error) Class {
	switch {
	case err == nil:
		return ClassDone
	case errors.Is(err, focus.ErrIDsUnknown), focus.IsAmbiguous(err):
		return ClassAmbiguous
	case ctx.Err() != nil:
		return ClassCanceled
	}
	var fe *focus.Error
	if !errors.As(err, &fe) {
		// Not an answer from the API nor a failure to get one: a local file.
		return ClassLocal
	}
	switch fe.Kind {
	case focus.KindAuth:
		return ClassUnauthorized
	case focus.KindInvalid:
		return ClassRefused
	case focus.KindNotFound:
		return ClassNotFound
	case focus.KindQuota, focus.KindRateLimited, focus.KindServer, focus.KindTransport:
		return ClassTransient
	}
	return ClassFailed
}

// Call sends one request, fn, and again while the Pacer may retry it: a server or
// transport error after a jittered, doubling pause (at most MaxRetries times), a
// 429 after its Retry-After, and a 402 after the quota resets (which is waiting,
// not failing: it is retried until ctx ends). Each attempt is sent between
// Budget.Acquire at pri and Budget.Release. ep names the endpoint for counting.
func (pc *Pacer) Call(ctx context.Context, pri Priority, ep focus.Endpoint, fn func(context.Context) error) Outcome {
	bo := pc.newBackOff()
	quotaWaits := 0
	for {
		if err := pc.Budget.Acquire(ctx, pri); err != nil {
			if ctx.Err() != nil {
				return Outcome{Class: ClassCanceled, Err: err}
			}
			return Outcome{Class: ClassNotSent, Err: err}
		}
		err := fn(ctx)
		pc.Budget.Release()
		if pc.Sent != nil {
			pc.Sent(ep, err)
		}
		if pc.Metrics != nil {
			pc.Metrics.request(ep, err)
		}
		out := Outcome{Class: classify(ctx, err), Err: err}
		if out.Class != ClassTransient {
			return out
		}
		var fe *focus.Error
		errors.As(err, &fe)
		var wait time.Duration
		switch fe.Kind {
		case focus.KindQuota:
			// Not a failure: the budget now knows nothing is left and waits for the
			// reset. A server that keeps answering 402 at once is also slowed down.
			quotaWaits++
			if quotaWaits == 1 {
				pc.log().Info("quota used up; waiting for it to reset", "resets_in", fe.ResetIn.Round(time.Second))
			}
			if quotaWaits > 2 {
				wait = bo.NextBackOff()
				if wait == backoff.Stop {
					wait = pc.RetryMax
				}
			}
		case focus.KindRateLimited:
			wait = fe.RetryAfter
			if next := bo.NextBackOff(); next == backoff.Stop {
				return out
			} else if wait <= 0 {
				wait = next
			}
		default: // focus.KindServer, focus.KindTransport
			wait = bo.NextBackOff()
			if wait == backoff.Stop {
				return out
			}
		}
		if pc.Metrics != nil {
			pc.Metrics.retry()
		}
		if wait > 0 {
			pc.log().Debug("retrying", "op", string(ep), "in", wait.Round(time.Millisecond), "err", err)
			pc.waiting(fmt.Sprintf("retrying in %s", wait.Round(time.Second)))
			sleep := pc.sleep
			if sleep == nil {
				sleep = sleepCtx
			}
			if err := sleep(ctx, wait); err != nil {
				return Outcome{Class: ClassCanceled, Err: err}
			}
			pc.waiting("")
		}
	}
}

// Announce tells the budget that n more write requests of this pacer's pass are
// queued (0: none any more), so that verification, which only spends spare quota,
// leaves them room.
func (pc *Pacer) Announce(n int) { pc.Budget.Announce(pc, n) }

func (pc *Pacer) waiting(why string) {
	if pc.Waiting != nil {
		pc.Waiting(why)
	}
}

func (pc *Pacer) log() *slog.Logger {
	if pc.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return pc.Log
}

// newBackOff is the retry schedule of one request: jittered, doubling, bounded in
// count (never the 15-minute default of backoff/v4, which would spend a free plan's
// hour on one file).
func (pc *Pacer) newBackOff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = pc.RetryInitial
	if b.InitialInterval <= 0 {
		b.InitialInterval = time.Second
	}
	b.MaxInterval = pc.RetryMax
	if b.MaxInterval <= 0 {
		b.MaxInterval = time.Minute
	}
	b.Multiplier = 2
	b.RandomizationFactor = 0.5
	b.MaxElapsedTime = 0
	n := pc.MaxRetries
	if n < 0 {
		n = 0
	}
	r := backoff.WithMaxRetries(b, uint64(n))
	r.Reset()
	return r
}
