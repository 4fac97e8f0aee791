package syncer

import (
	"context"
	"fmt"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/state"
)

// uploadsInFlight is how many of a folder's upload requests are on the wire at
// once: while one batch travels, the answer of the other is journaled.
const uploadsInFlight = 2

// journalAhead is how many batches are journaled before their turn, so that the
// intents of the next batches ride in the transaction that records the answers
// of the last ones, and requests keep going out while that transaction is being
// written. An intent journaled but never sent costs nothing: the listing that
// settles open intents finds no attachment for it.
const journalAhead = 4 * uploadsInFlight

// sentBatch is the outcome of one batch's request.
type sentBatch struct {
	in      *state.Intent
	created []focus.Attachment
	out     Outcome
}

// groupCommit is one transaction of uploadBatches: the answers in and the
// intents of the next batches, and what follows once it is durable.
type groupCommit struct {
	c       state.Change
	settled int             // answers c records
	begun   []*state.Intent // intents c journals: sent once it is durable
	deletes []*state.Intent // the journaled deletes of the versions replaced
	odd     []sentBatch     // answers that are not a plain success: settled after c
}

// uploadBatches sends the plan's upload batches with up to uploadsInFlight
// requests at once, and takes each batch's files from the plan as it journals
// it. Every batch is journaled before it is sent, as with upload. The answers that
// are in are recorded together, with the intents of the next batches, in one
// transaction, written while the requests go on: a folder's uploads pay one
// commit for several batches, and its fsync overlaps the requests instead of
// holding back the next one. One transaction is written at a time, and a batch
// is sent only once the transaction that journals it is durable. A batch whose
// answer is not a plain success is settled on its own, as upload does. The old
// versions that new ones replace are deleted once every batch is up (their
// deletes are journaled with the answers). done is called once per batch
// settled. On an error, the requests in flight are waited for and their answers
// recorded before it is returned.
func (p *pass) uploadBatches(ctx context.Context, plan *Plan, done func()) error {
	batches := plan.Uploads
	if len(batches) == 0 {
		return nil
	}
	results := make(chan sentBatch, journalAhead)
	committed := make(chan error, 1)
	next := 0                 // the next batch to journal
	var ready []*state.Intent // journaled, not yet sent
	inflight := 0
	var answers []sentBatch      // answers in, not yet recorded
	var replaced []*state.Intent // journaled deletes of old versions, sent after the uploads
	var writing *groupCommit     // the transaction being written, if any
	var stopErr error

	// group takes the answers in, and with journal the intents of the next
	// batches, into a transaction.
	group := func(journal bool) *groupCommit {
		g := &groupCommit{}
		for _, a := range answers {
			if !a.out.OK() || !p.uploadedChange(&g.c, a.in, a.created) {
				g.odd = append(g.odd, a)
			}
		}
		g.settled = len(answers) - len(g.odd)
		answers = answers[:0]
		g.deletes = g.c.Begin
		if journal {
			for ; next < len(batches) && len(ready)+inflight+len(g.begun) < journalAhead; next++ {
				g.begun = append(g.begun, p.uploadIntent(plan.takeUpload(next)))
			}
			g.c.Begin = append(g.c.Begin[:len(g.deletes):len(g.deletes)], g.begun...)
		}
		return g
	}
	// written takes in a transaction once written: its records, its intents to
	// send, then the answers to settle one by one.
	written := func(g *groupCommit, err error) error {
		if err != nil {
			return fmt.Errorf("%w: write state: %w", ErrFatal, err)
		}
		p.apply(g.c)
		for range g.settled {
			done()
		}
		ready = append(ready, g.begun...)
		replaced = append(replaced, g.deletes...)
		for _, a := range g.odd {
			if err := p.settleUpload(ctx, a.in, a.created, a.out); err != nil {
				return err
			}
			done()
		}
		return nil
	}
	// launch sends journaled batches while fewer than uploadsInFlight are on
	// the wire. Each write is allowed before it is journaled and again before
	// it is sent (PassOptions.MayWrite).
	launch := func() {
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
	}

	for {
		launch()
		if writing == nil && stopErr == nil {
			journal := next < len(batches) && len(ready)+inflight < journalAhead
			if journal {
				stopErr = p.mayWrite(ctx)
			}
			if stopErr == nil && (journal || len(answers) > 0) {
				g := group(journal)
				writing = g
				go func() { committed <- p.e.Store.Commit(p.key, g.c) }()
			}
		}
		if inflight == 0 && writing == nil {
			break
		}
		select {
		case a := <-results:
			answers = append(answers, a)
			inflight--
		case err := <-committed:
			g := writing
			writing = nil
			if err := written(g, err); err != nil && stopErr == nil {
				stopErr = err
			}
		}
	}
	if len(answers) > 0 {
		// Stopping: record what came back, keep the first error.
		g := group(false)
		if err := written(g, p.e.Store.Commit(p.key, g.c)); err != nil && stopErr == nil {
			stopErr = err
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
