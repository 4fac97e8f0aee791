package focustest

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path"
	"slices"
	"time"

	"github.com/focussync/focussync/focus"
)

// Faults makes requests fail at random. Each rate is a probability in [0, 1];
// one draw per request decides between a 500, a 429 and a dropped connection
// (in that order of the rates), so their sum should not exceed 1.
type Faults struct {
	ServerErrorRate     float64 // answer 500, write not applied
	RateLimitRate       float64 // answer 429 with Retry-After, write not applied
	DropAfterCommitRate float64 // apply the write, then close the connection unanswered
	RetryAfter          time.Duration
	Endpoints           []focus.Endpoint // the endpoints concerned; nil means all
	Seed                int64            // seeds the draws, so a run can be repeated
}

type faultKind int

const (
	faultFail faultKind = iota
	faultRateLimit
	faultDrop
)

// queuedFault applies to the next n requests to ep ("" = any endpoint).
type queuedFault struct {
	ep         focus.Endpoint
	n          int
	kind       faultKind
	status     int
	retryAfter time.Duration
}

// FailNext makes the next n requests to ep ("" = any endpoint) answer status
// (e.g. 500, 503, 400, 403) with a JSON error body, without applying any write.
// Knobs queue up: a request takes the first queued one that matches it. A
// status outside 400..599 panics.
func (e *Emulator) FailNext(ep focus.Endpoint, n int, status int) {
	if status < 400 || status > 599 {
		panic(fmt.Sprintf("focustest: FailNext: status %d is not an error status", status))
	}
	e.queue(queuedFault{ep: ep, n: n, kind: faultFail, status: status})
}

// RateLimitNext makes the next n requests to ep ("" = any endpoint) answer 429
// with a Retry-After header of retryAfter (in whole seconds, rounded up),
// without applying any write.
func (e *Emulator) RateLimitNext(ep focus.Endpoint, n int, retryAfter time.Duration) {
	e.queue(queuedFault{ep: ep, n: n, kind: faultRateLimit, retryAfter: retryAfter})
}

// DropAfterCommit makes the next n requests to ep ("" = any endpoint) apply
// their write and then close the connection without any answer: the client
// sees a transport error though the server did the work.
func (e *Emulator) DropAfterCommit(ep focus.Endpoint, n int) {
	e.queue(queuedFault{ep: ep, n: n, kind: faultDrop})
}

func (e *Emulator) queue(f queuedFault) {
	if f.n <= 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.queued = append(e.queued, f)
}

// SetFaults sets random faults; the zero Faults turns them off. Queued faults
// (FailNext and the like) take precedence.
func (e *Emulator) SetFaults(f Faults) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f.Endpoints = slices.Clone(f.Endpoints)
	e.faults = f
	e.rng = rand.New(rand.NewPCG(uint64(f.Seed), 0x666f637573))
}

// nextFaultLocked returns the fault to apply to a request to ep, if any.
func (e *Emulator) nextFaultLocked(ep focus.Endpoint) (queuedFault, bool) {
	for i := range e.queued {
		q := &e.queued[i]
		if q.ep != "" && q.ep != ep {
			continue
		}
		f := *q
		q.n--
		if q.n == 0 {
			e.queued = slices.Delete(e.queued, i, i+1)
		}
		return f, true
	}
	f := e.faults
	if e.rng == nil || (f.Endpoints != nil && !slices.Contains(f.Endpoints, ep)) {
		return queuedFault{}, false
	}
	if f.ServerErrorRate <= 0 && f.RateLimitRate <= 0 && f.DropAfterCommitRate <= 0 {
		return queuedFault{}, false
	}
	x := e.rng.Float64()
	switch {
	case x < f.ServerErrorRate:
		return queuedFault{kind: faultFail, status: 500}, true
	case x < f.ServerErrorRate+f.RateLimitRate:
		return queuedFault{kind: faultRateLimit, retryAfter: f.RetryAfter}, true
	case x < f.ServerErrorRate+f.RateLimitRate+f.DropAfterCommitRate:
		return queuedFault{kind: faultDrop}, true
	}
	return queuedFault{}, false
}

// SetLatency delays every answer by d. The request is handled first (a write is
// applied), then the answer waits; a client that gives up meanwhile gets no
// answer, the ambiguous case of a timeout after the body was sent.
func (e *Emulator) SetLatency(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.latency = d
}

// SetEmptyCreatedBody makes create and bulk create answer 201 with an empty body.
func (e *Emulator) SetEmptyCreatedBody(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.empty201 = on
}

// SetListDeleted makes list return soft-deleted items too, with deleted_at set.
func (e *Emulator) SetListDeleted(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.listDel = on
}

// RejectNames refuses uploads whose attachment name matches glob (path.Match):
// 400 with a message naming the file. A bulk create with such a file fails as a
// whole. Calls add up; an empty glob removes every pattern. A malformed pattern
// panics.
func (e *Emulator) RejectNames(glob string) {
	if _, err := path.Match(glob, ""); err != nil {
		panic(fmt.Sprintf("focustest: RejectNames(%q): %v", glob, err))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if glob == "" {
		e.rejects = nil
		return
	}
	e.rejects = append(e.rejects, glob)
}

// RejectLarger refuses uploaded files of more than size bytes: 400 with a
// message naming the file. size <= 0 removes the limit.
func (e *Emulator) RejectLarger(size int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.maxSize = max(size, 0)
}

// refusalLocked says why an upload is refused, or "".
func (e *Emulator) refusalLocked(name string, size int64) string {
	for _, g := range e.rejects {
		if ok, _ := path.Match(g, name); ok {
			return fmt.Sprintf("file %s refused: its name matches %q", name, g)
		}
	}
	if e.maxSize > 0 && size > e.maxSize {
		return fmt.Sprintf("file %s refused: %d bytes is larger than the limit of %d bytes", name, size, e.maxSize)
	}
	return ""
}

// SetReadRate makes the emulator read request bodies at no more than
// bytesPerSecond (a slow link), so that a test can act while an upload streams.
// 0 or less removes the limit. It applies to requests that arrive afterwards.
func (e *Emulator) SetReadRate(bytesPerSecond int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.readRate = max(bytesPerSecond, 0)
}

// SetBodyTap calls newTap once for every request that carries a body, then
// writes the body's bytes to the writer it returned, in order, as the emulator
// reads them; bodies of requests that fail or are cut short included. A test can
// so assert that some bytes never reached the server at all, not only that they
// were never stored (see SecretWatch). Requests run in parallel: newTap must be
// safe for concurrent use; each writer gets one body. nil removes the tap; a nil
// writer skips that body.
func (e *Emulator) SetBodyTap(newTap func(ep focus.Endpoint) io.Writer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tap = newTap
}

// wrapBody applies the read rate and the body tap to a request.
func (e *Emulator) wrapBody(r *http.Request, ep focus.Endpoint) {
	e.mu.Lock()
	rate, newTap := e.readRate, e.tap
	e.mu.Unlock()
	if r.Body == nil || r.Body == http.NoBody || rate == 0 && newTap == nil {
		return
	}
	var tap io.Writer
	if newTap != nil {
		tap = newTap(ep)
	}
	r.Body = &slowBody{ReadCloser: r.Body, ctx: r.Context(), rate: rate, tap: tap, start: time.Now()}
}

// slowBody reads a request body at a bounded rate and copies it to a tap.
type slowBody struct {
	io.ReadCloser
	ctx   context.Context
	rate  int64
	tap   io.Writer
	start time.Time
	read  int64
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.rate > 0 {
		// Small reads keep the pace even: about ten a second.
		p = p[:min(int64(len(p)), max(b.rate/10, 1))]
	}
	n, err := b.ReadCloser.Read(p)
	if n > 0 && b.tap != nil {
		_, _ = b.tap.Write(p[:n])
	}
	b.read += int64(n)
	if b.rate > 0 && n > 0 {
		due := b.start.Add(time.Duration(float64(b.read) / float64(b.rate) * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-b.ctx.Done():
				t.Stop()
				return n, b.ctx.Err()
			}
		}
	}
	return n, err
}
