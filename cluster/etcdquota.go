package cluster

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/syncer"
)

// EtcdQuota is one organization's hourly request quota kept in etcd as a single
// budget that every host sharing the API token's user and the organization draws
// from, so that together they stay within the plan and see at most one 402 per
// quota window. It is the syncer.SharedQuota of coordinator = "etcd"; each
// organization's syncer.Budget asks it before every request.
//
// The budget is one key, <etcd_prefix>quota/<organization>, holding how many
// requests are left in the current window (JSON: window id, remaining, the last
// writer). How it is kept:
//
//   - Spent before it is sent. A request is sent only after a transaction that
//     compares the key's mod revision with the one just read has lowered the count
//     by one, so two hosts can never both spend the last request; a host that
//     loses the race reads again.
//   - Corrected by the headers, never raised within a window. After each response,
//     X-Toggl-Quota-Remaining lowers the count when it is lower (someone else spent
//     from the quota, or a request failed after the server counted it); a larger
//     value is ignored, because the count already excludes the requests that other
//     hosts have in flight and the server has not counted yet. Only the headers of
//     responses received after this host first saw the window are used, so a late
//     answer from an older window cannot lower a new one.
//   - The window ends with the key. The key carries an etcd lease whose TTL is the
//     X-Toggl-Quota-Resets-In of the response that seeded it plus one second: etcd
//     measures it, so hosts' clocks never need to agree, and the key disappears
//     only after the server's window has turned. etcd restarts its leases' TTLs when
//     its leader changes; a budget whose count is used up then lives longer than the
//     window, so a host whose own headers show that the window has reset (measured
//     on its own clock, from a header received in the current window) may probe the
//     new one before the key lapses.
//   - While the window is unknown, one request at a time across all hosts. With no
//     key (the first request ever, or a window that has ended) a host sends a
//     request only after claiming the probe key, <key>/probe, which is bound to a
//     short etcd lease that the host keeps alive while its request is out: a host
//     that crashes with the claim blocks the others for at most ProbeTTL. The probe's
//     response seeds the new window (its remaining count and, by its Resets-In, the
//     key's lease); a probe answered by a 402 seeds a budget of zero that lasts until
//     the reset, which is the one 402 of that window.
//   - No request without a decision. Every etcd call has a deadline (CallTimeout).
//     When etcd cannot be reached this host does not fall back on its own view of
//     the headers: it sends nothing and asks again every second, and after Patience
//     Spend fails, which fails the request instead of waiting without end. A
//     host cut off from etcd cannot be sure of its task leases either, so it would
//     not send writes anyway; and a share of the quota guessed on one host could
//     not stop the others from spending the same requests.
//
// With coordinator = "share" or "none" there is no EtcdQuota: each host follows the
// headers of its own responses, as a single host does.
type EtcdQuota struct {
	cli      *clientv3.Client
	connect  func(context.Context) (*clientv3.Client, error)
	key      string
	probeKey string
	node     string
	log      *slog.Logger
	timeout  time.Duration
	patience time.Duration
	probeTTL time.Duration
	now      func() time.Time

	mu        sync.Mutex
	window    uint64    // the window last read from etcd; 0: none yet
	windowAt  time.Time // when this host first read it
	left      int       // what the budget had left when last read; -1: unknown
	probe     *probeClaim
	downSince time.Time // when etcd stopped answering; zero while it answers
	badRecord bool      // a record that does not parse was reported
}

// probeClaim is this host's claim of the probe of an unknown window.
type probeClaim struct {
	lease clientv3.LeaseID
	stop  context.CancelFunc // ends the lease's keep-alive
	at    time.Time          // when it was claimed
	rev   int64              // the budget key's mod revision when claimed; 0: no key
}

// EtcdQuotaOptions configures an EtcdQuota.
type EtcdQuotaOptions struct {
	// Client is the process's etcd client; the EtcdQuota does not close it.
	Client *clientv3.Client
	// Connect, used when Client is nil, returns the process's etcd client once it
	// is connected, or an error when ctx ends first (cluster.Etcd's Client: the
	// coordinator's connection, shared).
	Connect func(ctx context.Context) (*clientv3.Client, error)
	// Prefix is [cluster] etcd_prefix, ending in "/".
	Prefix string
	// Organization is the organization whose quota the budget holds.
	Organization int64
	// Node is this host's node name, recorded with each write of the budget.
	Node string
	// Log receives the budget's warnings; nil discards them.
	Log *slog.Logger
	// CallTimeout bounds each etcd call; 0 means 3 s.
	CallTimeout time.Duration
	// Patience is how long Spend keeps answering "wait" while etcd cannot be
	// reached before it fails; 0 means one minute.
	Patience time.Duration
	// ProbeTTL is the TTL of the lease of a probe's claim: a host that crashes
	// while it probes holds the others up at most this long; 0 means 5 s.
	ProbeTTL time.Duration
}

// ErrQuotaUnreachable is wrapped by Spend's error when etcd could not be reached
// for longer than the patience: the request is not sent.
var ErrQuotaUnreachable = errors.New("the shared quota budget in etcd cannot be reached")

// How long a host waits before it looks at the budget again.
const (
	probeWait    = 250 * time.Millisecond // while another host probes an unknown window
	downWait     = time.Second            // while etcd does not answer
	maxSpentWait = 30 * time.Second       // at most, while the budget is used up
	// windowMargin is added to a Resets-In for the key's lease, and to this host's
	// own reset time before it probes a window whose budget is used up: the
	// server's window has surely turned by then.
	windowMargin = time.Second
	// maxConflicts bounds the compare-and-swap retries of one call.
	maxConflicts = 8
)

var _ syncer.SharedQuota = (*EtcdQuota)(nil)

// NewEtcdQuota returns the shared budget of o.Organization kept under o.Prefix.
func NewEtcdQuota(o EtcdQuotaOptions) (*EtcdQuota, error) {
	if o.Client == nil && o.Connect == nil {
		return nil, errors.New("shared quota: no etcd client")
	}
	if o.Organization <= 0 {
		return nil, fmt.Errorf("shared quota: invalid organization %d", o.Organization)
	}
	q := &EtcdQuota{
		cli:      o.Client,
		connect:  o.Connect,
		key:      o.Prefix + "quota/" + strconv.FormatInt(o.Organization, 10),
		node:     o.Node,
		log:      o.Log,
		timeout:  o.CallTimeout,
		patience: o.Patience,
		probeTTL: o.ProbeTTL,
		now:      time.Now,
		left:     -1,
	}
	q.probeKey = q.key + "/probe"
	if q.log == nil {
		q.log = slog.New(slog.DiscardHandler)
	}
	q.log = q.log.With("organization", o.Organization)
	if q.timeout <= 0 {
		q.timeout = 3 * time.Second
	}
	if q.patience <= 0 {
		q.patience = time.Minute
	}
	if q.probeTTL <= 0 {
		q.probeTTL = 5 * time.Second
	}
	return q, nil
}

// Key returns the etcd key that holds the budget.
func (q *EtcdQuota) Key() string { return q.key }

// quotaRecord is the value of the budget key.
type quotaRecord struct {
	Window    uint64 `json:"window"`    // a random id of the window, fresh at each seeding
	Remaining int    `json:"remaining"` // requests left to spend in the window
	Node      string `json:"node"`      // the host that wrote it last
}

// Spend takes one request from the budget: see syncer.SharedQuota.
func (q *EtcdQuota) Spend(ctx context.Context, local focus.QuotaState) (bool, time.Duration, error) {
	for range maxConflicts {
		kv, rec, probed, err := q.read(ctx)
		if err != nil {
			return q.unreachable(ctx, err)
		}
		switch {
		case kv == nil || rec == nil:
			// No window known (or a value that is not ours): one probe at a time.
			q.setLeft(-1)
			if probed {
				return false, probeWait, nil
			}
			var rev int64
			if kv != nil {
				rev = kv.ModRevision
			}
			ok, err := q.claim(ctx, rev)
			if err != nil {
				return q.unreachable(ctx, err)
			}
			if !ok {
				return false, probeWait, nil
			}
			return true, 0, nil
		case rec.Remaining > 0:
			next := *rec
			next.Remaining--
			next.Node = q.node
			ok, err := q.swap(ctx, kv.ModRevision, next)
			if err != nil {
				return q.unreachable(ctx, err)
			}
			if ok {
				q.setLeft(next.Remaining)
				return false, 0, nil
			}
			// Another host spent or corrected it meanwhile: read again.
		default:
			q.setLeft(0)
			if !probed && q.turned(local) {
				ok, err := q.claim(ctx, kv.ModRevision)
				if err != nil {
					return q.unreachable(ctx, err)
				}
				if ok {
					return true, 0, nil
				}
			}
			return false, q.spentWait(ctx, kv.Lease, local), nil
		}
	}
	return false, probeWait, nil
}

// Settle ends a request that Spend allowed: see syncer.SharedQuota. A probe's
// fresh headers seed the window; any other headers may lower the count.
func (q *EtcdQuota) Settle(probe bool, seen focus.QuotaState) {
	ctx := context.Background()
	if probe {
		q.mu.Lock()
		pc := q.probe
		q.probe = nil
		q.mu.Unlock()
		if pc != nil {
			defer q.unclaim(pc)
			if seen.Known && !seen.Updated.Before(pc.at) && q.now().Before(seen.ResetAt) && q.seed(ctx, pc, seen) {
				return
			}
		}
	}
	q.lower(ctx, seen)
}

// Left returns what the budget had left when last read: see syncer.SharedQuota.
func (q *EtcdQuota) Left() (int, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.left, q.left >= 0
}

// Close ends a probe claim still held (none is, once every request is settled).
func (q *EtcdQuota) Close() {
	q.mu.Lock()
	pc := q.probe
	q.probe = nil
	q.mu.Unlock()
	if pc != nil {
		q.unclaim(pc)
	}
}

// call returns the client and a context for one etcd call, bounded by
// CallTimeout; waiting for a connection counts against the same deadline.
func (q *EtcdQuota) call(ctx context.Context) (*clientv3.Client, context.Context, context.CancelFunc, error) {
	cctx, cancel := context.WithTimeout(ctx, q.timeout)
	if q.cli != nil {
		return q.cli, cctx, cancel, nil
	}
	cli, err := q.connect(cctx)
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return cli, cctx, cancel, nil
}

// read returns the budget key and its record (nil when the key is absent; rec nil
// when its value does not parse), and whether a probe is claimed, in one round trip.
func (q *EtcdQuota) read(ctx context.Context) (kv *kvView, rec *quotaRecord, probed bool, err error) {
	cli, cctx, cancel, err := q.call(ctx)
	if err != nil {
		return nil, nil, false, err
	}
	defer cancel()
	resp, err := cli.Txn(cctx).Then(clientv3.OpGet(q.key), clientv3.OpGet(q.probeKey)).Commit()
	if err != nil {
		return nil, nil, false, err
	}
	q.reached()
	probed = len(resp.Responses[1].GetResponseRange().Kvs) > 0
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return nil, nil, probed, nil
	}
	kv = &kvView{ModRevision: kvs[0].ModRevision, Lease: clientv3.LeaseID(kvs[0].Lease)}
	var r quotaRecord
	if err := json.Unmarshal(kvs[0].Value, &r); err != nil || r.Window == 0 {
		q.mu.Lock()
		report := !q.badRecord
		q.badRecord = true
		q.mu.Unlock()
		if report {
			q.log.Warn("the shared quota budget in etcd holds a value that is not a budget; the next request's headers replace it", "key", q.key)
		}
		return kv, nil, probed, nil
	}
	q.saw(r)
	return kv, &r, probed, nil
}

// kvView is what the budget needs of the key's etcd metadata.
type kvView struct {
	ModRevision int64
	Lease       clientv3.LeaseID
}

// swap writes rec if the key's mod revision is still rev, keeping the key's lease.
func (q *EtcdQuota) swap(ctx context.Context, rev int64, rec quotaRecord) (bool, error) {
	val, err := json.Marshal(rec)
	if err != nil {
		return false, err
	}
	cli, cctx, cancel, err := q.call(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	resp, err := cli.Txn(cctx).
		If(q.unchanged(rev)).
		Then(clientv3.OpPut(q.key, string(val), clientv3.WithIgnoreLease())).
		Commit()
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}

// saw notes the window of a record read: the time this host first saw it decides
// which of its headers belong to it.
func (q *EtcdQuota) saw(r quotaRecord) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if r.Window != q.window {
		q.window, q.windowAt = r.Window, q.now()
	}
}

func (q *EtcdQuota) setLeft(n int) {
	q.mu.Lock()
	q.left = n
	q.mu.Unlock()
}

// turned reports whether this host's own headers, received in the window now in
// etcd, show that the window has reset (by this host's clock).
func (q *EtcdQuota) turned(local focus.QuotaState) bool {
	q.mu.Lock()
	at := q.windowAt
	q.mu.Unlock()
	return local.Known && !local.ResetAt.IsZero() && !local.Updated.Before(at) &&
		!q.now().Before(local.ResetAt.Add(windowMargin))
}

// spentWait is how long to wait on a used-up budget: until its key lapses, or
// until this host's own view says the window turned, within [probeWait, maxSpentWait].
func (q *EtcdQuota) spentWait(ctx context.Context, lease clientv3.LeaseID, local focus.QuotaState) time.Duration {
	wait := maxSpentWait
	if lease != clientv3.NoLease {
		if cli, cctx, cancel, err := q.call(ctx); err == nil {
			resp, err := cli.TimeToLive(cctx, lease)
			cancel()
			if err == nil && resp.TTL >= 0 {
				wait = min(wait, time.Duration(resp.TTL)*time.Second+probeWait)
			}
		}
	}
	if local.Known && !local.ResetAt.IsZero() {
		if d := local.ResetAt.Add(windowMargin).Sub(q.now()); d > 0 {
			wait = min(wait, d+probeWait)
		}
	}
	return max(wait, probeWait)
}

// claim claims the probe of an unknown window, provided the budget key's mod
// revision is still rev (0: the key is absent). The claim's lease is kept alive
// until unclaim; a host that crashes lets it lapse after ProbeTTL.
func (q *EtcdQuota) claim(ctx context.Context, rev int64) (bool, error) {
	cli, cctx, cancel, err := q.call(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	lease, err := cli.Grant(cctx, ttlSeconds(q.probeTTL))
	if err != nil {
		return false, err
	}
	resp, err := cli.Txn(cctx).
		If(q.unchanged(rev), clientv3.Compare(clientv3.CreateRevision(q.probeKey), "=", 0)).
		Then(clientv3.OpPut(q.probeKey, q.node, clientv3.WithLease(lease.ID))).
		Commit()
	if err != nil || !resp.Succeeded {
		q.revoke(lease.ID)
		return false, err
	}
	kctx, stop := context.WithCancel(context.Background())
	alive, err := cli.KeepAlive(kctx, lease.ID)
	if err != nil {
		stop()
		q.revoke(lease.ID)
		return false, err
	}
	go func() {
		for range alive {
		}
	}()
	q.mu.Lock()
	q.probe = &probeClaim{lease: lease.ID, stop: stop, at: q.now(), rev: rev}
	q.mu.Unlock()
	return true, nil
}

// unchanged compares the budget key's mod revision with rev; rev 0 means that the
// key is absent.
func (q *EtcdQuota) unchanged(rev int64) clientv3.Cmp {
	if rev == 0 {
		return clientv3.Compare(clientv3.CreateRevision(q.key), "=", 0)
	}
	return clientv3.Compare(clientv3.ModRevision(q.key), "=", rev)
}

// unclaim ends a probe claim: its lease, and with it the probe key, goes.
func (q *EtcdQuota) unclaim(pc *probeClaim) {
	pc.stop()
	q.revoke(pc.lease)
}

// revoke revokes a lease, within CallTimeout; a lease that cannot be revoked
// lapses by itself.
func (q *EtcdQuota) revoke(id clientv3.LeaseID) {
	cli, cctx, cancel, err := q.call(context.Background())
	if err != nil {
		return
	}
	defer cancel()
	_, _ = cli.Revoke(cctx, id)
}

const seedFailed = "cannot start the window of the shared quota budget in etcd; the next request probes again"

// seed starts a window from a probe's response: the count its headers give, under
// a lease that ends one margin after its reset. It reports false when the budget
// changed since the claim (the caller lowers it instead) or etcd failed.
func (q *EtcdQuota) seed(ctx context.Context, pc *probeClaim, seen focus.QuotaState) bool {
	ttl := seen.ResetAt.Sub(q.now()) + windowMargin
	rec := quotaRecord{Window: newWindowID(), Remaining: max(seen.Remaining, 0), Node: q.node}
	val, err := json.Marshal(rec)
	if err != nil {
		return false
	}
	cli, cctx, cancel, err := q.call(ctx)
	if err != nil {
		q.log.Warn(seedFailed, "err", err)
		return false
	}
	defer cancel()
	lease, err := cli.Grant(cctx, ttlSeconds(ttl))
	if err != nil {
		q.log.Warn(seedFailed, "err", err)
		return false
	}
	resp, err := cli.Txn(cctx).If(q.unchanged(pc.rev)).Then(clientv3.OpPut(q.key, string(val), clientv3.WithLease(lease.ID))).Commit()
	if err != nil || !resp.Succeeded {
		q.revoke(lease.ID)
		if err != nil {
			q.log.Warn(seedFailed, "err", err)
		}
		return false
	}
	q.saw(rec)
	q.setLeft(rec.Remaining)
	q.log.Debug("shared quota window started", "quota_remaining", rec.Remaining, "resets_in", ttl.Round(time.Second))
	return true
}

// lower brings the count down to what a response's headers say is left, when
// they say less and were received in the window now in etcd.
func (q *EtcdQuota) lower(ctx context.Context, seen focus.QuotaState) {
	if !seen.Known {
		return
	}
	q.mu.Lock()
	window, at := q.window, q.windowAt
	q.mu.Unlock()
	if window == 0 || seen.Updated.Before(at) {
		return
	}
	for range maxConflicts {
		kv, rec, _, err := q.read(ctx)
		if err != nil || kv == nil || rec == nil || rec.Window != window {
			return
		}
		if rec.Remaining <= seen.Remaining {
			q.setLeft(rec.Remaining)
			return
		}
		next := *rec
		next.Remaining = max(seen.Remaining, 0)
		next.Node = q.node
		ok, err := q.swap(ctx, kv.ModRevision, next)
		if err != nil {
			return
		}
		if ok {
			q.setLeft(next.Remaining)
			return
		}
	}
}

// unreachable turns a failed etcd call into Spend's answer: wait and ask again,
// or fail once etcd has been out of reach for longer than the patience.
func (q *EtcdQuota) unreachable(ctx context.Context, err error) (bool, time.Duration, error) {
	if ctx.Err() != nil {
		return false, 0, ctx.Err()
	}
	now := q.now()
	q.mu.Lock()
	first := q.downSince.IsZero()
	if first {
		q.downSince = now
	}
	since := q.downSince
	q.mu.Unlock()
	if first {
		q.log.Warn("the shared quota budget in etcd cannot be reached; no request is sent until it can", "err", err)
	}
	if d := now.Sub(since); d >= q.patience {
		return false, 0, fmt.Errorf("%w (for %s): %w", ErrQuotaUnreachable, d.Round(time.Second), err)
	}
	return false, downWait, nil
}

// reached notes that etcd answered.
func (q *EtcdQuota) reached() {
	q.mu.Lock()
	was := !q.downSince.IsZero()
	q.downSince = time.Time{}
	q.mu.Unlock()
	if was {
		q.log.Info("the shared quota budget in etcd is reachable again")
	}
}

// ttlSeconds is an etcd lease TTL of at least d, in whole seconds.
func ttlSeconds(d time.Duration) int64 {
	return max(int64((d+time.Second-1)/time.Second), 1)
}

// newWindowID returns a random non-zero window id.
func newWindowID() uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:])
		if id := binary.LittleEndian.Uint64(b[:]); id != 0 {
			return id
		}
	}
}
