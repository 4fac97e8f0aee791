// Package soak runs focussync's daemon for minutes against the emulator with
// every fault on at once, while a workload changes two folders, then checks
// that each task mirrors its folder exactly: no duplicate, no loss, no
// hand-made attachment touched, every refused file reported.
package soak

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/focussync/focussync/bench/internal/benchenv"
	"github.com/focussync/focussync/daemon"
	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
)

// Options configures a soak run.
type Options struct {
	Bin      string        // the focussync binary
	Dir      string        // an empty scratch directory
	Duration time.Duration // how long the workload and the faults go on
	// Converge bounds the wait for convergence once the faults are off.
	Converge time.Duration
	Seed     int64
	// Harsh multiplies the fault rates by 2.5 and kills the daemon every 5-20 s
	// instead of every 15-45 s.
	Harsh bool
	// TwoHosts runs a second daemon on the same folders, with its own state db,
	// as a second machine that mounts the same share: the two share each task's
	// lease on the share (lease_ttl 5 s), and each SIGKILL hits the holder. At the
	// end the second host stops cleanly and the first converges.
	TwoHosts bool
	Log      io.Writer // progress lines; nil discards them
}

// twoHostTTL is the lease_ttl of the two-host soak.
const twoHostTTL = "5s"

// The scene: folder a (recursive) mirrors into task 101, folder b into 102.
const (
	taskA = 101
	taskB = 102
	// quota is the emulator's request quota per window, per organization.
	quota       = 30
	quotaWindow = 20 * time.Second
)

// refused are files the emulator refuses (RejectNames "*.refused"); the
// workload never touches them.
var refused = []string{"a/blocked.refused", "b/doc.refused"}

// handmade are attachments a person added in Focus; focussync must leave them be.
var handmade = []struct {
	task  int64
	name  string
	order int64
}{
	{taskA, "handmade-notes.txt", 5},
	{taskA, "handmade-photo.png", 1 << 40},
	{taskB, "handmade-invoice.pdf", 77},
}

// run is one soak in progress.
type run struct {
	opt    Options
	env    *benchenv.Env
	wl     *workload
	rng    *rand.Rand
	d      *benchenv.Daemon
	twin   *benchenv.Env    // the second host (TwoHosts)
	d2     *benchenv.Daemon // its daemon
	fig    *Figures
	settle bool // the current config's settle toggle, flipped by reloads
	hand   []focustest.Stored
	// secret is the content of a file outside the folders that the hostile
	// actor links to; watch looks for pieces of it in every request body.
	secret  []byte
	watch   *focustest.SecretWatch
	counted *benchenv.Daemon // the last daemon whose cut uploads were counted
	// probeFails counts the status probes in a row that got no answer.
	probeFails int
	logs       []string // the tails of the daemons' logs
}

func (r *run) logf(format string, args ...any) {
	if r.opt.Log != nil {
		fmt.Fprintf(r.opt.Log, "%s soak: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
}

// Run runs the soak and returns its figures. An error means the soak could not
// run; failed checks are in Figures.Failures.
func Run(ctx context.Context, opt Options) (*Figures, error) {
	if opt.Converge <= 0 {
		opt.Converge = 5 * time.Minute
	}
	env, err := benchenv.NewEnv(opt.Bin, opt.Dir, focustest.Options{Quota: quota, Window: quotaWindow})
	if err != nil {
		return nil, err
	}
	defer env.Close()
	r := &run{
		opt: opt,
		env: env,
		wl:  newWorkload(opt.Dir, opt.Seed),
		rng: rand.New(rand.NewPCG(uint64(opt.Seed), 0x63686173)),
		fig: &Figures{MinQuotaLeft: quota, Harsh: opt.Harsh, TwoHosts: opt.TwoHosts, Seed: opt.Seed, Duration: opt.Duration, Ops: map[string]int{}, Faults: map[string]int{}, Requests: map[focus.Endpoint]int{}},
	}
	if err := r.setup(); err != nil {
		return nil, err
	}
	defer r.checkSecret() // also when the soak ends early
	if err := r.chaos(ctx); err != nil {
		return r.fig, err
	}
	if err := r.converge(ctx); err != nil {
		return r.fig, err
	}
	r.tally()
	return r.fig, nil
}

// setup writes the folders, the config and the hand-made attachments, and turns
// the faults on.
func (r *run) setup() error {
	e := r.env
	e.Folders = []benchenv.Folder{
		{Path: filepath.Join(r.opt.Dir, "a"), Task: taskA, Extra: "recursive = true"},
		{Path: filepath.Join(r.opt.Dir, "b"), Task: taskB},
	}
	addr, err := benchenv.FreePort()
	if err != nil {
		return err
	}
	e.StatusListen = addr
	e.ExtraEnv = []string{"FOCUSSYNC_RETRY_INITIAL=200ms"}
	if r.opt.TwoHosts {
		e.Tables = fmt.Sprintf("[cluster]\nlease_ttl = %q\nnode_name = \"host-a\"\n", twoHostTTL)
		if r.twin, err = e.Twin("host-b"); err != nil {
			return err
		}
		r.twin.Tables = fmt.Sprintf("[cluster]\nlease_ttl = %q\nnode_name = \"host-b\"\n", twoHostTTL)
	}
	if err := r.writeConfig(); err != nil {
		return err
	}
	for _, p := range places {
		if err := os.MkdirAll(filepath.Join(r.opt.Dir, filepath.FromSlash(p)), 0o755); err != nil {
			return fmt.Errorf("soak setup: %w", err)
		}
	}
	if err := r.wl.seed(); err != nil {
		return fmt.Errorf("soak setup: %w", err)
	}
	for _, p := range refused {
		if err := os.WriteFile(filepath.Join(r.opt.Dir, filepath.FromSlash(p)), []byte("the server refuses this file\n"), 0o644); err != nil {
			return fmt.Errorf("soak setup: %w", err)
		}
	}
	if err := r.plantSecret(); err != nil {
		return fmt.Errorf("soak setup: %w", err)
	}
	e.Srv.RejectNames("*.refused")
	for i, h := range handmade {
		content := []byte(strings.Repeat(fmt.Sprintf("hand-made attachment %d\n", i), 40+i))
		a := e.Srv.Put(benchenv.Org, benchenv.Workspace, h.task, h.name, content, h.order)
		r.hand = append(r.hand, r.storedByID(h.task, a.ID))
	}
	scale := 1.0
	if r.opt.Harsh {
		scale = 2.5
	}
	e.Srv.SetFaults(focustest.Faults{
		ServerErrorRate:     0.06 * scale,
		RateLimitRate:       0.04 * scale,
		DropAfterCommitRate: 0.06 * scale,
		RetryAfter:          time.Second,
		Seed:                r.opt.Seed,
	})
	e.Srv.SetLatency(20 * time.Millisecond)
	return nil
}

// writeConfig writes the config; settle alternates between two values at each
// reload so that a SIGHUP really changes the running folders.
func (r *run) writeConfig() error {
	settle := "1s"
	if r.settle {
		settle = "1500ms"
	}
	r.env.Defaults = fmt.Sprintf("settle = %q\nrescan = \"15s\"\nverify = \"45s\"\n", settle)
	if r.twin != nil {
		r.twin.Defaults = r.env.Defaults
		if err := r.twin.WriteConfig(); err != nil {
			return err
		}
	}
	return r.env.WriteConfig()
}

// startTwin starts the second host's daemon.
func (r *run) startTwin(ctx context.Context) error {
	d, err := r.twin.StartDaemon(ctx)
	if err != nil {
		return err
	}
	r.d2 = d
	return nil
}

// killHolder kills the daemon that holds folder a's lease (the first host when
// neither says so) and restarts it.
func (r *run) killHolder(ctx context.Context) error {
	victim, second := r.d, false
	if st, err := r.d2.Status(ctx); err == nil && holds(st) {
		victim, second = r.d2, true
	}
	victim.Kill()
	if second {
		r.logs = append(r.logs, lastLines(victim.Log(), 30))
	} else {
		r.keepLog()
	}
	r.fig.Kills++
	time.Sleep(r.jitter(0, 1500*time.Millisecond))
	if second {
		return r.startTwin(ctx)
	}
	return r.startDaemon(ctx)
}

// holds reports whether st shows this host holding folder a's task lease.
func holds(st daemon.Status) bool {
	for _, f := range st.Folders {
		if f.Task == taskA && f.Lease != nil && f.Lease.Role == "holder" {
			return true
		}
	}
	return false
}

func (r *run) storedByID(task, id int64) focustest.Stored {
	for _, s := range r.env.Srv.AllAttachments(task) {
		if s.ID == id {
			return s
		}
	}
	return focustest.Stored{}
}

func (r *run) startDaemon(ctx context.Context) error {
	r.countCuts()
	d, err := r.env.StartDaemon(ctx)
	if err != nil {
		return err
	}
	r.d = d
	return nil
}

// keepLog saves the tail of the current daemon's log.
func (r *run) keepLog() {
	if r.d != nil {
		r.logs = append(r.logs, lastLines(r.d.Log(), 30))
	}
}

// chaos runs the workload for the soak's duration while it kills, restarts and
// reloads the daemon and varies the latency.
func (r *run) chaos(ctx context.Context) error {
	if err := r.startDaemon(ctx); err != nil {
		return err
	}
	if r.twin != nil {
		if err := r.startTwin(ctx); err != nil {
			return err
		}
	}
	start := time.Now()
	end := start.Add(r.opt.Duration)
	wctx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	killLo, killHi := 15*time.Second, 45*time.Second
	if r.opt.Harsh {
		killLo, killHi = 5*time.Second, 20*time.Second
	}
	nextKill := start.Add(r.jitter(killLo, killHi))
	nextHUP := start.Add(r.jitter(10*time.Second, 30*time.Second))
	nextLatency := start.Add(10 * time.Second)
	nextOp := start
	nextProbe := start.Add(probeEvery)
	lastReport := start
	for now := time.Now(); now.Before(end); now = time.Now() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if r.d.Exited() {
			r.fig.UnexpectedExits++
			r.keepLog()
			r.fig.Failures = append(r.fig.Failures, fmt.Sprintf("the daemon exited on its own at %s: %s",
				now.Sub(start).Round(time.Second), lastLines(r.d.Log(), 5)))
			if err := r.startDaemon(ctx); err != nil {
				return err
			}
		}
		if r.d2 != nil && r.d2.Exited() {
			r.fig.UnexpectedExits++
			r.logs = append(r.logs, lastLines(r.d2.Log(), 30))
			r.fig.Failures = append(r.fig.Failures, fmt.Sprintf("the second host's daemon exited on its own at %s: %s",
				now.Sub(start).Round(time.Second), lastLines(r.d2.Log(), 5)))
			if err := r.startTwin(ctx); err != nil {
				return err
			}
		}
		if !now.Before(nextProbe) {
			nextProbe = now.Add(probeEvery)
			if err := r.probe(ctx, now.Sub(start)); err != nil {
				return err
			}
		}
		switch {
		case !now.Before(nextOp):
			r.wl.step(wctx)
			nextOp = now.Add(r.jitter(400*time.Millisecond, 1400*time.Millisecond))
		case !now.Before(nextKill) && r.twin != nil:
			if err := r.killHolder(ctx); err != nil {
				return err
			}
			nextKill = now.Add(r.jitter(killLo, killHi))
		case !now.Before(nextKill):
			r.d.Kill()
			r.keepLog()
			r.fig.Kills++
			time.Sleep(r.jitter(0, 1500*time.Millisecond))
			if err := r.startDaemon(ctx); err != nil {
				return err
			}
			nextKill = now.Add(r.jitter(killLo, killHi))
		case !now.Before(nextHUP):
			// A SIGHUP before the daemon has set up its handlers would end it
			// (the default action): reload only a daemon that answers /status.
			if _, err := r.d.Status(ctx); err != nil {
				nextHUP = now.Add(time.Second)
				continue
			}
			r.settle = !r.settle
			if err := r.writeConfig(); err != nil {
				return err
			}
			_ = r.d.Signal(syscall.SIGHUP)
			if r.d2 != nil {
				if _, err := r.d2.Status(ctx); err == nil {
					_ = r.d2.Signal(syscall.SIGHUP)
				}
			}
			r.fig.Reloads++
			nextHUP = now.Add(r.jitter(15*time.Second, 40*time.Second))
		case !now.Before(nextLatency):
			r.env.Srv.SetLatency(r.jitter(0, 120*time.Millisecond))
			nextLatency = now.Add(r.jitter(5*time.Second, 15*time.Second))
		default:
			time.Sleep(20 * time.Millisecond)
		}
		if now.Sub(lastReport) >= 30*time.Second {
			lastReport = now
			r.logf("%s: %d ops, %d kills, %d reloads, %d requests", now.Sub(start).Round(time.Second),
				sum(r.wl.opsCopy()), r.fig.Kills, r.fig.Reloads, len(r.env.Srv.Requests()))
		}
	}
	stopWork()
	r.wl.wait()
	return nil
}

// probeEvery is how often the soak checks that the daemon answers /status.
const probeEvery = 5 * time.Second

// hungAfter is how many probes in a row may fail before the daemon is taken
// for hung.
const hungAfter = 3

// probe asks the daemon for its status. After hungAfter failures in a row it
// records a hang, makes the daemon dump its goroutines (SIGQUIT), keeps the
// dump and starts a new daemon.
func (r *run) probe(ctx context.Context, at time.Duration) error {
	if rem, _ := r.env.Srv.QuotaState(benchenv.Org); rem < r.fig.MinQuotaLeft {
		r.fig.MinQuotaLeft = rem
	}
	if r.d.Exited() {
		return nil
	}
	if _, err := r.d.Status(ctx); err == nil {
		r.probeFails = 0
		return nil
	}
	r.probeFails++
	if r.probeFails < hungAfter {
		return nil
	}
	r.probeFails = 0
	r.fig.Hangs++
	_ = r.d.Signal(syscall.SIGQUIT)
	deadline := time.Now().Add(15 * time.Second)
	for !r.d.Exited() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !r.d.Exited() {
		r.d.Kill()
	}
	dump := r.d.Log()
	if i := strings.Index(dump, "SIGQUIT"); i >= 0 {
		dump = dump[i:]
	}
	r.logs = append(r.logs, dump)
	if len(r.fig.Failures) < 20 {
		r.fig.Failures = append(r.fig.Failures, fmt.Sprintf("the daemon stopped answering /status at %s (no answer for %d probes %s apart); goroutine dump (SIGQUIT) kept with the daemon logs",
			at.Round(time.Second), hungAfter, probeEvery))
	}
	r.logf("daemon hung at %s; dumped its goroutines and restarted it", at.Round(time.Second))
	return r.startDaemon(ctx)
}

func (r *run) jitter(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.rng.Int64N(int64(hi-lo)+1))
}

func (w *workload) opsCopy() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := make(map[string]int, len(w.ops))
	for k, v := range w.ops {
		m[k] = v
	}
	return m
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// plantSecret writes a secret file beside the folders (as a token file sits beside
// a share the service can read), hands its path to the workload's hostile actor
// and watches every request body for any 16-byte piece of it.
func (r *run) plantSecret() error {
	r.secret = []byte(fmt.Sprintf("toggl_sk_soak_secret_%016x%016x\n", r.rng.Uint64(), r.rng.Uint64()))
	p := filepath.Join(r.opt.Dir, "secret-token")
	if err := os.WriteFile(p, r.secret, 0o600); err != nil {
		return err
	}
	r.wl.secret, r.wl.secretSize = p, int64(len(r.secret))
	r.watch = focustest.NewSecretWatch(r.secret, 16)
	r.env.Srv.SetBodyTap(r.watch.Tap)
	return nil
}

// checkSecret records whether any request body carried a piece of the secret or
// any attachment, deleted ones included, ever held it.
func (r *run) checkSecret() {
	r.countCuts()
	r.fig.SecretInBodies = r.watch.Seen()
	sum := sha256.Sum256(r.secret)
	h := hex.EncodeToString(sum[:])
	for _, task := range []int64{taskA, taskB} {
		for _, a := range r.env.Srv.AllAttachments(task) {
			if a.SHA256 == h {
				r.fig.SecretStored++
			}
		}
	}
	if r.fig.SecretInBodies > 0 || r.fig.SecretStored > 0 {
		r.fig.Failures = append(r.fig.Failures, fmt.Sprintf("the secret outside the folders reached the server: pieces of it in %d request bodies, whole in %d attachments",
			r.fig.SecretInBodies, r.fig.SecretStored))
	}
}

// countCuts adds the uploads that the current daemon cut short because a file was
// swapped after its scan (the hostile actor's swaps that hit that window), once
// per daemon.
func (r *run) countCuts() {
	if r.d != nil && r.d != r.counted {
		r.fig.UploadsCut += strings.Count(r.d.Log(), "upload cut short")
		r.counted = r.d
	}
}
