package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// EtcdLeaseOptions configure NewEtcd.
type EtcdLeaseOptions struct {
	// Conn says how to reach etcd. The coordinator dials it in the background and
	// again after a failure, so that an etcd that is down when the daemon starts
	// pauses the folders rather than stopping the daemon.
	Conn EtcdOptions
	// Client, when set, is used instead of dialing Conn, and Close leaves it open.
	Client *clientv3.Client
	// Prefix is etcd_prefix, ending in "/": the leases are kept under
	// Prefix+"lease/" and their history under Prefix+"lease-last/".
	Prefix string
	// Node is the name other hosts see for this one (node_name); "" is the host name.
	Node string
	// Instance is this process's id as other contenders see it; "" picks a fresh
	// random one (NewInstanceID).
	Instance string
	// Writer identifies this process's state db (state.Store.ID): a process that
	// takes a lease whose last holder had another writer id adopts before writing.
	Writer string
	// TTL is lease_ttl, rounded up to whole seconds (etcd counts leases in seconds).
	TTL time.Duration
	// Log receives lease events; nil discards them.
	Log *slog.Logger
}

// Etcd is the coordinator for fleets: each task's lease is a key in etcd,
//
//	<prefix>lease/<organization>/<workspace>/<task>
//
// keyed by the task and never by a local path, so that hosts that mount one share
// at different paths, and two folders mapped to one task by mistake, still have
// one writer. Its value is the holder (Holder as JSON: node, instance, folder,
// since), and it is bound to an etcd lease of lease_ttl that the holder keeps
// alive: when the holder stops renewing it (a crash, a cut network, a frozen
// process), etcd deletes the key after lease_ttl and a standby takes it.
//
//   - Claims: a contender that finds the key missing grants itself an etcd lease
//     and creates the key in a transaction that succeeds only if the key is still
//     missing: etcd decides, exactly one contender wins. The same transaction
//     updates <prefix>lease-last/<org>/<ws>/<task>, the last holder's writer id
//     and the count of takeovers, from which a new holder learns whether it must
//     adopt what is in the task and whether the last holder left cleanly.
//   - Standbys watch the key (and read it every lease_ttl/6, which also tells them
//     whether etcd answers): a deletion makes them contend at once.
//   - Fencing: the holder renews its etcd lease every lease_ttl/6 with a single
//     keep-alive request, taking a local stamp (monotonic and boot-time clocks)
//     before sending it. etcd starts the granted TTL anew when it handles the
//     request, which is after the stamp, so the lease lives at least until
//     stamp + TTL by the server's clock. The holder writes only until stamp +
//     3/4 TTL: the quarter left is the time for requests already in flight and
//     for clock rates that differ. When renewals fail (a network cut, etcd without
//     a leader, a process frozen with SIGSTOP), Lease.Check fails before the TTL
//     could have run out at the server, the folder is paused with the reason, and
//     a renewal that succeeds again resumes it. A renewal that finds the lease
//     gone (it lapsed) makes the process a contender again, never a writer.
//   - Release (a clean stop, or a reload) deletes the key and revokes the lease:
//     a standby takes over at once.
//
// It uses its own lease and transaction rather than the concurrency package's
// Session and Election: a Session renews its lease from a background stream
// whose requests are not visible to the caller, so the time a renewal was sent,
// which fencing needs, cannot be known; and an Election keys its candidates by
// lease rather than naming the holder in one key that standbys can watch.
type Etcd struct {
	opt      EtcdLeaseOptions
	instance string
	ttl      int64 // seconds
	log      *slog.Logger
	clock    *clock
	where    string // "etcd at ...", for reasons

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	ready  chan struct{} // closed once cli is set
	cli    *clientv3.Client

	mu      sync.Mutex
	dialErr string // the last dial error while there is no client
	leases  map[Task]*etcdLease
	closed  bool
}

var _ Coordinator = (*Etcd)(nil)

// NewEtcd returns the etcd coordinator. It does not wait for etcd: the leases are
// contended once a client is connected.
func NewEtcd(opt EtcdLeaseOptions) (*Etcd, error) {
	if opt.TTL < time.Second {
		return nil, fmt.Errorf("etcd coordinator: lease ttl %s is shorter than 1s", opt.TTL)
	}
	if opt.Client == nil && len(opt.Conn.Endpoints) == 0 {
		return nil, errors.New("etcd coordinator: no endpoints")
	}
	if opt.Prefix == "" {
		opt.Prefix = "/focussync/"
	}
	if !strings.HasSuffix(opt.Prefix, "/") {
		opt.Prefix += "/"
	}
	if opt.Node == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("etcd coordinator: node name: %w", err)
		}
		opt.Node = h
	}
	if opt.Instance == "" {
		opt.Instance = NewInstanceID()
	}
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Etcd{opt: opt, instance: opt.Instance, ttl: int64((opt.TTL + time.Second - 1) / time.Second), log: log, clock: realClock(),
		ctx: ctx, cancel: cancel, ready: make(chan struct{}), leases: map[Task]*etcdLease{}}
	if opt.Client != nil {
		e.where = "etcd at " + strings.Join(opt.Client.Endpoints(), ", ")
		e.cli = opt.Client
		close(e.ready)
	} else {
		e.where = opt.Conn.Where()
		go e.dial()
	}
	return e, nil
}

// Instance returns this process's random id, as other contenders see it.
func (e *Etcd) Instance() string { return e.instance }

// Node returns the node name of this process.
func (e *Etcd) Node() string { return e.opt.Node }

// Client returns the coordinator's etcd client once it is connected, waiting for
// it until ctx ends. Other uses of etcd in the process (the shared quota budget)
// take this client rather than dialing their own; it stays open until Close.
func (e *Etcd) Client(ctx context.Context) (*clientv3.Client, error) {
	select {
	case <-e.ready:
		return e.cli, nil
	case <-e.ctx.Done():
		return nil, errors.New("etcd coordinator: closed")
	case <-ctx.Done():
		e.mu.Lock()
		why := e.dialErr
		e.mu.Unlock()
		if why == "" {
			why = ctx.Err().Error()
		}
		return nil, fmt.Errorf("etcd coordinator: not connected: %s", why)
	}
}

// dial connects to etcd, trying again until it succeeds or the coordinator closes.
func (e *Etcd) dial() {
	wait := time.Duration(0)
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-time.After(wait):
		}
		cli, err := DialEtcd(e.ctx, e.opt.Conn)
		if err == nil {
			e.mu.Lock()
			if e.closed {
				e.mu.Unlock()
				cli.Close()
				return
			}
			e.cli, e.dialErr = cli, ""
			close(e.ready)
			e.mu.Unlock()
			return
		}
		e.mu.Lock()
		if e.dialErr != err.Error() {
			e.log.Warn("cannot connect to etcd; folders paused until it answers", "err", err)
		}
		e.dialErr = err.Error()
		e.mu.Unlock()
		wait = min(e.renewEvery()*2, 5*time.Second)
	}
}

// The intervals (see Etcd).
func (e *Etcd) renewEvery() time.Duration { return time.Duration(e.ttl) * time.Second / 6 }

// callTimeout bounds every request to etcd: long enough for a busy member, and
// short enough that a holder tries twice before its fence lapses (the fence
// itself does not depend on it).
func (e *Etcd) callTimeout() time.Duration {
	return max(time.Duration(e.ttl)*time.Second/3, time.Second)
}

// fenceFor is how long after the stamp of a renewal granted for ttl seconds the
// holder may write.
func fenceFor(ttl int64) time.Duration {
	d := time.Duration(ttl) * time.Second
	return d - d/4
}

// Keys of a task.
func (e *Etcd) leaseKey(t Task) string {
	return fmt.Sprintf("%slease/%d/%d/%d", e.opt.Prefix, t.Organization, t.Workspace, t.Task)
}

func (e *Etcd) lastKey(t Task) string {
	return fmt.Sprintf("%slease-last/%d/%d/%d", e.opt.Prefix, t.Organization, t.Workspace, t.Task)
}

// Join implements Coordinator.
func (e *Etcd) Join(t Task, dir string) (*Lease, error) {
	if t.Task <= 0 || t.Organization <= 0 || t.Workspace <= 0 {
		return nil, fmt.Errorf("etcd coordinator: invalid task %s", t)
	}
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("etcd coordinator: folder %q is not an absolute path", dir)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errors.New("etcd coordinator: closed")
	}
	if other, ok := e.leases[t]; ok {
		return nil, fmt.Errorf("etcd coordinator: task %s is already joined for %s", t, other.dir)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	el := &etcdLease{e: e, dir: dir, key: e.leaseKey(t), last: e.lastKey(t), cancel: cancel, done: make(chan struct{}),
		log: e.log.With("folder", dir, "task", t.Task)}
	el.lease = newLease(t, e.clock)
	el.lease.release = el.release
	el.lease.decideWithin = 2*e.callTimeout() + time.Second
	el.lease.abandon = func() {
		el.crashed = true
		_ = el.lease.Release(context.Background())
	}
	e.leases[t] = el
	go func() {
		defer close(el.done)
		el.run(ctx)
	}()
	return el.lease, nil
}

// Close implements Coordinator: the leases are released together, each within
// ctx, and the client is closed unless it was handed in.
func (e *Etcd) Close(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	var all []*etcdLease
	for _, el := range e.leases {
		all = append(all, el)
	}
	e.mu.Unlock()
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	for i, el := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = el.lease.Release(ctx)
		}()
	}
	wg.Wait()
	e.cancel()
	e.mu.Lock()
	cli := e.cli
	e.mu.Unlock()
	if cli != nil && e.opt.Client == nil {
		cli.Close()
	}
	return errors.Join(errs...)
}

// lastHolder is the value of a task's lease-last key: who held the lease last,
// and how it ended.
type lastHolder struct {
	Instance  string `json:"instance"`
	Node      string `json:"node"`
	Writer    string `json:"writer,omitempty"`
	Lease     int64  `json:"lease"` // the etcd lease the holder bound the key to
	Released  bool   `json:"released,omitempty"`
	Takeovers int    `json:"takeovers"`
}

// etcdLease is the contender of one task's lease; its run loop alone touches
// the fields below lease (release reads them after the loop has ended).
type etcdLease struct {
	e      *Etcd
	lease  *Lease
	dir    string
	key    string
	last   string
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	held    clientv3.LeaseID // the etcd lease of the key while holding; 0 otherwise
	me      Holder           // this process as the holder, while holding
	granted int64            // the TTL etcd granted, in seconds
	take    int              // takeovers so far
	failing string           // the last error, for the log
	noted   string           // the last conflict logged
	crashed bool             // tests: stop without releasing
}

func (el *etcdLease) run(ctx context.Context) {
	cli := el.waitClient(ctx)
	if cli == nil {
		return
	}
	wait := time.Duration(0)
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if el.held != 0 {
			wait = el.renew(ctx, cli)
		} else {
			wait = el.contend(ctx, cli)
		}
	}
}

// waitClient waits for the coordinator's client, pausing the lease with the
// dial's error meanwhile; nil when ctx ends first.
func (el *etcdLease) waitClient(ctx context.Context) *clientv3.Client {
	tick := time.NewTicker(el.e.renewEvery())
	defer tick.Stop()
	for {
		select {
		case <-el.e.ready:
			return el.e.cli
		case <-ctx.Done():
			return nil
		case <-tick.C:
			el.e.mu.Lock()
			why := el.e.dialErr
			el.e.mu.Unlock()
			if why != "" {
				el.lease.setPaused("cannot connect to " + why)
			}
		}
	}
}

// unreachable pauses the lease after a failed request to etcd (a holder whose
// fence still runs only notes it: it retries before the fence lapses) and says
// when to try again.
func (el *etcdLease) unreachable(err error) time.Duration {
	reason := fmt.Sprintf("%s does not answer (%v): nothing is written to the task until it does", el.e.where, err)
	if el.held != 0 && el.lease.Check() == nil {
		if el.failing != reason {
			el.log.Warn("lease renewal failed; retrying before the lease could lapse", "err", err)
		}
		el.failing = reason
		return el.e.renewEvery() / 2
	}
	if el.failing != reason {
		el.log.Warn("folder paused: its lease cannot be used", "reason", reason)
	}
	el.failing = reason
	el.lease.setPaused(reason)
	return el.e.renewEvery() / 2
}

func (el *etcdLease) recovered() {
	if el.failing != "" {
		el.log.Info("etcd answers again")
		el.failing = ""
	}
}

func (el *etcdLease) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, el.e.callTimeout())
}

// renew keeps the holder's etcd lease alive and moves the fence on; a lease that
// lapsed, or a key that is no longer this process's, makes it a contender again.
func (el *etcdLease) renew(ctx context.Context, cli *clientv3.Client) time.Duration {
	at := el.e.clock.stamp()
	cctx, cancel := el.call(ctx)
	resp, err := cli.KeepAliveOnce(cctx, el.held)
	cancel()
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return el.lost("its etcd lease lapsed (renewals failed for lease_ttl)")
	}
	if err != nil {
		if ctx.Err() != nil {
			return 0
		}
		return el.unreachable(err)
	}
	cctx, cancel = el.call(ctx)
	got, err := cli.Get(cctx, el.key)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return 0
		}
		return el.unreachable(err)
	}
	if len(got.Kvs) == 0 || clientv3.LeaseID(got.Kvs[0].Lease) != el.held {
		el.revoke(ctx, cli, el.held)
		return el.lost("its key was deleted or replaced in etcd")
	}
	el.recovered()
	el.granted = resp.TTL
	if st := el.lease.Status(); st.Role != RoleHolder {
		// Paused while etcd did not answer: the lease never lapsed, so nobody
		// else could have written; no adoption is needed.
		el.log.Info("lease renewed again after etcd did not answer; writing resumes", "node", el.me.Node)
		el.lease.setHolding(el.me, at, fenceFor(resp.TTL), el.take, false)
	} else {
		el.lease.renewed(at)
	}
	return el.e.renewEvery()
}

// lost makes the holder a contender again.
func (el *etcdLease) lost(why string) time.Duration {
	el.log.Warn("lease lost: "+why, "node", el.me.Node)
	el.held, el.me = 0, Holder{}
	el.lease.setStandby(Holder{}, el.take, "")
	return 0
}

// revoke revokes an etcd lease of this process, best effort.
func (el *etcdLease) revoke(ctx context.Context, cli *clientv3.Client, id clientv3.LeaseID) {
	cctx, cancel := el.call(ctx)
	defer cancel()
	if _, err := cli.Revoke(cctx, id); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		el.log.Debug("cannot revoke an etcd lease; it lapses by itself", "err", err)
	}
}

// contend reads the key as a contender: it claims the lease when nobody holds
// it, and otherwise reports the holder and waits for the key to change (or for
// the next look).
func (el *etcdLease) contend(ctx context.Context, cli *clientv3.Client) time.Duration {
	cctx, cancel := el.call(ctx)
	resp, err := cli.Txn(cctx).Then(clientv3.OpGet(el.key), clientv3.OpGet(el.last)).Commit()
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return 0
		}
		return el.unreachable(err)
	}
	el.recovered()
	var last lastHolder
	var lastRev int64
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) == 1 {
		_ = json.Unmarshal(kvs[0].Value, &last)
		lastRev = kvs[0].ModRevision
	}
	el.take = last.Takeovers
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		if !hasEntries(el.dir) {
			// An empty folder may be the mount point of a share that is not
			// mounted: its holder would delete every attachment of the task.
			el.lease.setStandby(Holder{}, el.take, "the folder is empty (is the share mounted?): the lease is claimed once it holds a file")
			return el.e.renewEvery()
		}
		return el.claim(ctx, cli, last, lastRev)
	}
	var h Holder
	if err := json.Unmarshal(kvs[0].Value, &h); err != nil {
		h = Holder{Node: "?", Instance: "?"}
	}
	if h.Instance == el.e.instance || (el.e.opt.Writer != "" && last.Writer == el.e.opt.Writer && last.Instance == h.Instance && h.Node == el.e.opt.Node) {
		// Left by this process (a coordinator before a reload) or by an earlier
		// process on this host and state db, which this one holds locked: that
		// process has ended, its lease can go at once. (The node name too must
		// match: a state db copied to another host keeps its id.)
		el.log.Info("revoking the lease left by an earlier process on this state db", "instance", h.Instance)
		el.revoke(ctx, cli, clientv3.LeaseID(kvs[0].Lease))
		return 0
	}
	el.lease.setStandby(h, el.take, el.conflict(h))
	return el.watch(ctx, cli, resp.Header.Revision)
}

// watch waits until the key changes after rev, or for the next look.
func (el *etcdLease) watch(ctx context.Context, cli *clientv3.Client, rev int64) time.Duration {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	ch := cli.Watch(wctx, el.key, clientv3.WithRev(rev+1))
	t := time.NewTimer(el.e.renewEvery())
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case wr, ok := <-ch:
		if !ok || wr.Err() != nil {
			// The watch failed (no leader, a member gone): look again at the
			// next tick rather than at once.
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
	}
	return 0
}

// conflict is the reason a standby shows when the holder's folder is not this
// one: on this host that is two folders mapped to one task; from another host it
// may be the same share mounted at another path, or such a mistake.
func (el *etcdLease) conflict(h Holder) string {
	if h.Folder == "" || h.Folder == el.dir {
		return ""
	}
	var reason string
	if h.Node == el.e.opt.Node {
		if sameDir(h.Folder, el.dir) {
			return ""
		}
		reason = fmt.Sprintf("conflict: task %s is mapped to two folders on %s: %s holds its lease, so %s is not synced (map each folder to its own task)",
			el.lease.task, h.Node, h.Folder, el.dir)
	} else {
		reason = fmt.Sprintf("task %s is held by %s for its folder %s: unless that is this folder mounted at another path, two folders are mapped to one task and only the holder's is synced",
			el.lease.task, h.Node, h.Folder)
	}
	if el.noted != reason {
		el.log.Warn("the task's lease is held for another folder", "holder", h.Node, "holder_folder", h.Folder)
		el.noted = reason
	}
	return reason
}

func sameDir(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

// claim grants an etcd lease and creates the key bound to it, if the key is still
// missing and the last holder's record unchanged since lastRev.
func (el *etcdLease) claim(ctx context.Context, cli *clientv3.Client, prev lastHolder, lastRev int64) time.Duration {
	at := el.e.clock.stamp()
	cctx, cancel := el.call(ctx)
	defer cancel()
	g, err := cli.Grant(cctx, el.e.ttl)
	if err != nil {
		if ctx.Err() != nil {
			return 0
		}
		return el.unreachable(err)
	}
	me := Holder{Node: el.e.opt.Node, Instance: el.e.instance, Folder: el.dir, Since: time.Now().UTC().Round(time.Millisecond)}
	val, _ := json.Marshal(me)
	takeover := prev.Instance != "" && !prev.Released && prev.Instance != el.e.instance
	next := lastHolder{Instance: me.Instance, Node: me.Node, Writer: el.e.opt.Writer, Lease: int64(g.ID), Takeovers: prev.Takeovers}
	if takeover {
		next.Takeovers++
	}
	nextVal, _ := json.Marshal(next)
	resp, err := cli.Txn(cctx).
		If(clientv3.Compare(clientv3.CreateRevision(el.key), "=", 0), clientv3.Compare(clientv3.ModRevision(el.last), "=", lastRev)).
		Then(clientv3.OpPut(el.key, string(val), clientv3.WithLease(g.ID)), clientv3.OpPut(el.last, string(nextVal))).
		Commit()
	if err != nil {
		// The key may have been created: then it is bound to a lease that is
		// revoked here, or lapses by itself, and the lease is contended again.
		el.revoke(ctx, cli, g.ID)
		if ctx.Err() != nil {
			return 0
		}
		return el.unreachable(err)
	}
	if !resp.Succeeded {
		el.revoke(ctx, cli, g.ID)
		return 0 // another contender was faster: look again
	}
	el.recovered()
	el.held, el.me, el.granted, el.take = g.ID, me, g.TTL, next.Takeovers
	adopt := prev.Writer == "" || prev.Writer != el.e.opt.Writer
	if takeover {
		el.log.Warn("took over the task's lease from a silent holder", "previous", prev.Node, "takeovers", next.Takeovers)
	} else {
		el.log.Info("holding the task's lease", "node", me.Node)
	}
	el.lease.setHolding(me, at, fenceFor(g.TTL), next.Takeovers, adopt)
	return el.e.renewEvery()
}

// release stops the run loop and, when this process holds the lease, marks it
// released and deletes the key, so that a standby takes over at once.
func (el *etcdLease) release(ctx context.Context) error {
	el.cancel()
	select {
	case <-el.done:
	case <-ctx.Done():
		return fmt.Errorf("release lease %s: %w", el.key, ctx.Err())
	}
	el.e.mu.Lock()
	if el.e.leases[el.lease.task] == el {
		delete(el.e.leases, el.lease.task)
	}
	el.e.mu.Unlock()
	held, reachable := el.held, el.lease.Check() == nil
	el.held = 0
	el.lease.setStandby(Holder{}, el.take, "released")
	if held == 0 || el.crashed {
		return nil
	}
	if !reachable {
		// etcd did not answer the last renewals: do not hold up a stop for it;
		// the lease lapses by itself.
		return nil
	}
	cli := el.e.cli
	rel, _ := json.Marshal(lastHolder{Instance: el.me.Instance, Node: el.me.Node, Writer: el.e.opt.Writer, Lease: int64(held), Released: true, Takeovers: el.take})
	cctx, cancel := context.WithTimeout(ctx, el.e.callTimeout())
	defer cancel()
	_, err := cli.Txn(cctx).
		If(clientv3.Compare(clientv3.LeaseValue(el.key), "=", held)).
		Then(clientv3.OpPut(el.last, string(rel)), clientv3.OpDelete(el.key)).
		Commit()
	if err != nil {
		return fmt.Errorf("release lease %s: %w", el.key, err)
	}
	if _, err := cli.Revoke(cctx, held); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return fmt.Errorf("release lease %s: %w", el.key, err)
	}
	el.log.Info("lease released")
	return nil
}
