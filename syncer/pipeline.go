package syncer

import (
	"context"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/state"
)

// uploadsInFlight is how many of a folder's upload requests are on the wire at
// once: while one batch travels, the answer of the other is journaled.
const uploadsInFlight = 2

// journalAhead is how many batches are journaled before their turn, so that the
// intents of the next batches ride in the transaction that records the answers
// of the last ones. An intent journaled but never sent costs nothing: the
// listing that settles open intents finds no attachment for it.
const journalAhead = 2 * uploadsInFlight

// sentBatch is the outcome of one batch's request.
type sentBatch struct {
	in      *state.Intent
	created []focus.Attachment
	out     Outcome
}

// uploadBatches sends the batches with up to uploadsInFlight requests at once.
// Every batch is journaled before it is sent, as with upload. The answers that
// are in are recorded together, with the intents of the next batches, in one
// transaction: a folder's uploads pay one commit for several batches, and that
// commit overlaps the requests still on the wire. A batch whose answer is not a
// plain success is settled on its own, as upload does. The old versions that
// new ones replace are deleted once every batch is up (their deletes are
// journaled with the answers). done is called once per batch settled. On an
// error, the requests in flight are waited for and their answers recorded
// before it is returned.
func (p *pass) uploadBatches(ctx context.Context, batches []Batch, done func()) error {
	if len(batches) == 0 {
		return nil
	}
	results := make(chan sentBatch, uploadsInFlight)
	next := 0                 // the next batch to journal
	var ready []*state.Intent // journaled, not yet sent
	inflight := 0
	var answers []sentBatch      // answers in, not yet recorded
	var replaced []*state.Intent // journaled deletes of old versions, sent after the uploads
	var stopErr error

	// record commits the successful answers and the intents of the next
	// batches in one transaction, then settles the other answers one by one.
	record := func(journal bool) error {
		var c state.Change
		var odd []sentBatch
		for _, a := range answers {
			if !a.out.OK() || !p.uploadedChange(&c, a.in, a.created) {
				odd = append(odd, a)
			}
		}
		settled := len(answers) - len(odd)
		answers = answers[:0]
		var begun []*state.Intent
		if journal {
			for ; next < len(batches) && len(ready)+inflight+len(begun) < journalAhead; next++ {
				begun = append(begun, p.uploadIntent(batches[next].Files))
			}
			c.Begin = append(c.Begin, begun...)
		}
		deletes := c.Begin[:len(c.Begin)-len(begun)]
		if err := p.commit(c); err != nil {
			return err
		}
		for range settled {
			done()
		}
		ready = append(ready, begun...)
		replaced = append(replaced, deletes...)
		for _, a := range odd {
			if err := p.settleUpload(ctx, a.in, a.created, a.out); err != nil {
				return err
			}
			done()
		}
		return nil
	}

	for {
		if stopErr == nil {
			// Each write is allowed before it is journaled and again before it
			// is sent (PassOptions.MayWrite).
			journal := next < len(batches) && len(ready)+inflight < journalAhead
			if journal {
				stopErr = p.mayWrite(ctx)
			}
			if err := record(journal && stopErr == nil); err != nil && stopErr == nil {
				stopErr = err
			}
		}
		for stopErr == nil && len(ready) > 0 && inflight < uploadsInFlight {
			if stopErr = p.mayWrite(ctx); stopErr != nil {
				break
			}
			in := ready[0]
			ready = ready[1:]
			inflight++
			p.sentUpload(in.Files)
			go func() {
				created, out := p.send(ctx, in)
				results <- sentBatch{in: in, created: created, out: out}
			}()
		}
		if inflight == 0 {
			break
		}
		// Wait for one answer, then take every other one already in.
		answers = append(answers, <-results)
		inflight--
	collect:
		for inflight > 0 {
			select {
			case a := <-results:
				answers = append(answers, a)
				inflight--
			default:
				break collect
			}
		}
		if stopErr != nil {
			// Stopping: record what came back, keep the first error.
			_ = record(false)
		}
	}
	if len(ready) > 0 {
		// Journaled but never sent: close them, so the next start has nothing to
		// look up (if this fails, that listing settles them).
		c := state.Change{}
		for _, in := range ready {
			c.EndIntents = append(c.EndIntents, in.ID)
		}
		if err := p.commit(c); err != nil && stopErr == nil {
			stopErr = err
		}
	}
	if stopErr != nil {
		// The old versions' deletes stay journaled: the next pass sends them.
		return stopErr
	}
	return p.deleteReplaced(ctx, replaced)
}
