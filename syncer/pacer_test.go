package syncer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/focussync/focussync/focus"
	"github.com/focussync/focussync/focus/focustest"
	"github.com/focussync/focussync/internal/testutil"
)

// pacerEnv is a Pacer over a real client and budget, talking to the emulator. Its
// pauses are recorded, not taken, unless realSleep is set.
type pacerEnv struct {
	srv    *focustest.Server
	client *focus.Client
	pacer  *Pacer
	task   focus.Task
	id     int64 // an attachment a case put there

	mu     sync.Mutex
	pauses []time.Duration
	sent   []error
}

func newPacerEnv(t *testing.T, opts focustest.Options, realSleep bool) *pacerEnv {
	t.Helper()
	opts.Token = "tok"
	if opts.Quota == 0 {
		opts.Quota = 100 // a known, countable quota: see checkReleased
	}
	srv := focustest.NewServer(opts)
	t.Cleanup(srv.Close)
	c, err := focus.New(focus.Options{BaseURL: srv.URL, Token: "tok", Now: opts.Now})
	if err != nil {
		t.Fatal(err)
	}
	env := &pacerEnv{srv: srv, client: c, task: focus.Task{OrganizationID: 1, WorkspaceID: 2, TaskID: 3}}
	env.pacer = &Pacer{
		Budget:       NewBudget(c.Quota(1), opts.Now),
		RetryInitial: time.Millisecond,
		RetryMax:     10 * time.Millisecond,
		MaxRetries:   3,
		Sent: func(_ focus.Endpoint, err error) {
			env.mu.Lock()
			env.sent = append(env.sent, err)
			env.mu.Unlock()
		},
	}
	if !realSleep {
		env.pacer.sleep = func(ctx context.Context, d time.Duration) error {
			env.mu.Lock()
			env.pauses = append(env.pauses, d)
			env.mu.Unlock()
			return ctx.Err()
		}
	}
	return env
}

func (env *pacerEnv) recorded() (pauses []time.Duration, sent int) {
	env.mu.Lock()
	defer env.mu.Unlock()
	return slices.Clone(env.pauses), len(env.sent)
}

// upload is a file to create, written under t.TempDir.
func (env *pacerEnv) upload(t *testing.T, name string) focus.Upload {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte("content of "+name), 0o644); err != nil {
		t.Fatal(err)
	}
	return focus.Upload{Path: p, Size: int64(len("content of " + name)), Name: name, DisplayOrder: 1024}
}

// statuses returns the statuses the emulator answered, in order (0: no answer).
func (env *pacerEnv) statuses() []int {
	var out []int
	for _, r := range env.srv.Requests() {
		out = append(out, r.Status)
	}
	return out
}

// checkReleased fails unless the budget holds no reservation: as many requests
// may be acquired at once as its quota view says are left (one while the quota is
// unknown), and not one more.
func checkReleased(t *testing.T, b *Budget) {
	t.Helper()
	st := b.Quota().State()
	want := 1
	if st.Known {
		want = st.Remaining
	}
	got := 0
	for ; got <= want; got++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := b.Acquire(ctx, PriorityUpload)
		cancel()
		if err != nil {
			break
		}
	}
	for range got {
		b.Release()
	}
	if got != want {
		t.Errorf("the budget lets %d requests go at once, want %d (quota %+v): a reservation was not released", got, want, st)
	}
}

func TestPacer_Classes(t *testing.T) {
	type result struct {
		class    Class
		statuses []int // what the emulator answered, in order; nil: one request, any answer
		pauses   int   // pauses taken before retries
	}
	cases := []struct {
		name  string
		setup func(env *pacerEnv)
		token string // the client's token; "" is the right one
		call  func(ctx context.Context, env *pacerEnv, t *testing.T) error
		want  result
	}{
		{
			name: "success",
			call: list,
			want: result{ClassDone, []int{200}, 0},
		},
		{
			name:  "5xx is retried after a backoff",
			setup: func(env *pacerEnv) { env.srv.FailNext(focus.EndpointList, 2, 503) },
			call:  list,
			want:  result{ClassDone, []int{503, 503, 200}, 2},
		},
		{
			name:  "5xx past MaxRetries is transient",
			setup: func(env *pacerEnv) { env.srv.FailNext(focus.EndpointList, 10, 500) },
			call:  list,
			want:  result{ClassTransient, []int{500, 500, 500, 500}, 3},
		},
		{
			name:  "429 is retried",
			setup: func(env *pacerEnv) { env.srv.RateLimitNext(focus.EndpointList, 1, 2*time.Second) },
			call:  list,
			want:  result{ClassDone, []int{429, 200}, 1},
		},
		{
			name: "a delete whose connection dropped after the write is sent again, and finds it gone",
			setup: func(env *pacerEnv) {
				env.id = env.srv.Put(1, 2, 3, "a.txt", []byte("a"), 1024).ID
				env.srv.DropAfterCommit(focus.EndpointDelete, 1)
			},
			call: func(ctx context.Context, env *pacerEnv, t *testing.T) error {
				return env.client.Delete(ctx, env.task, env.id)
			},
			want: result{ClassNotFound, []int{0, 404}, 1},
		},
		{
			name:  "a create whose connection dropped after the write is never sent again",
			setup: func(env *pacerEnv) { env.srv.DropAfterCommit(focus.EndpointCreate, 1) },
			call:  create("a.txt"),
			want:  result{ClassAmbiguous, []int{0}, 0},
		},
		{
			name:  "a create answered 5xx is never sent again",
			setup: func(env *pacerEnv) { env.srv.FailNext(focus.EndpointCreate, 1, 502) },
			call:  create("a.txt"),
			want:  result{ClassAmbiguous, []int{502}, 0},
		},
		{
			name:  "a create answered 201 without ids is never sent again",
			setup: func(env *pacerEnv) { env.srv.SetEmptyCreatedBody(true) },
			call:  create("a.txt"),
			want:  result{ClassAmbiguous, []int{201}, 0},
		},
		{
			name:  "401 stops",
			token: "wrong",
			call:  list,
			want:  result{ClassUnauthorized, []int{401}, 0},
		},
		{
			name:  "400 refuses the file",
			setup: func(env *pacerEnv) { env.srv.RejectNames("*.exe") },
			call:  create("a.exe"),
			want:  result{ClassRefused, []int{400}, 0},
		},
		{
			name:  "413 refuses the file",
			setup: func(env *pacerEnv) { env.srv.FailNext(focus.EndpointCreate, 1, 413) },
			call:  create("a.txt"),
			want:  result{ClassRefused, []int{413}, 0},
		},
		{
			name:  "415 refuses the file",
			setup: func(env *pacerEnv) { env.srv.FailNext(focus.EndpointCreate, 1, 415) },
			call:  create("a.txt"),
			want:  result{ClassRefused, []int{415}, 0},
		},
		{
			name: "404 is not found",
			call: func(ctx context.Context, env *pacerEnv, t *testing.T) error {
				return env.client.Update(ctx, env.task, 999, "x", 1)
			},
			want: result{ClassNotFound, []int{404}, 0},
		},
		{
			name:  "403 fails",
			setup: func(env *pacerEnv) { env.srv.FailNext(focus.EndpointList, 1, 403) },
			call:  list,
			want:  result{ClassFailed, []int{403}, 0},
		},
		{
			name: "a file that changed under its upload is local",
			call: func(ctx context.Context, env *pacerEnv, t *testing.T) error {
				u := env.upload(t, "a.txt")
				u.Size++ // the file is shorter than scanned
				_, err := env.client.Create(ctx, env.task, u)
				return err
			},
			want: result{ClassLocal, nil, 0},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newPacerEnv(t, focustest.Options{}, false)
			if tc.token != "" {
				env.client.SetToken(tc.token)
			}
			if tc.setup != nil {
				tc.setup(env)
			}
			env.srv.ResetRequests()
			// A reservation that is never released makes a later Acquire wait for
			// good: the deadline turns that into a failure.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out := env.pacer.Call(ctx, PriorityUpload, "", func(ctx context.Context) error { return tc.call(ctx, env, t) })
			pauses, sent := env.recorded()
			got := result{out.Class, env.statuses(), len(pauses)}
			if tc.want.statuses == nil && len(got.statuses) <= 1 {
				// The body was cut short: whether the server saw the request and
				// what it answered depends on timing; the client knows it failed.
				got.statuses = nil
			}
			if got.class != tc.want.class || !slices.Equal(got.statuses, tc.want.statuses) || got.pauses != tc.want.pauses {
				t.Errorf("got class %v, statuses %v, %d pauses; want %v, %v, %d (err %v)",
					got.class, got.statuses, got.pauses, tc.want.class, tc.want.statuses, tc.want.pauses, out.Err)
			}
			if (out.Class == ClassDone) != (out.Err == nil) {
				t.Errorf("class %v with error %v", out.Class, out.Err)
			}
			if want := max(len(tc.want.statuses), 1); sent != want {
				t.Errorf("Sent called %d times, want %d (one per request)", sent, want)
			}
			checkReleased(t, env.pacer.Budget)
		})
	}
}

func list(ctx context.Context, env *pacerEnv, _ *testing.T) error {
	_, err := env.client.List(ctx, env.task)
	return err
}

func create(name string) func(ctx context.Context, env *pacerEnv, t *testing.T) error {
	return func(ctx context.Context, env *pacerEnv, t *testing.T) error {
		_, err := env.client.Create(ctx, env.task, env.upload(t, name))
		return err
	}
}

func TestPacer_HonoursRetryAfter(t *testing.T) {
	env := newPacerEnv(t, focustest.Options{}, false)
	env.srv.RateLimitNext(focus.EndpointList, 2, 7*time.Second)
	out := env.pacer.Call(context.Background(), PriorityVerify, focus.EndpointList, func(ctx context.Context) error {
		return list(ctx, env, t)
	})
	if !out.OK() {
		t.Fatalf("Call: %v %v", out.Class, out.Err)
	}
	pauses, _ := env.recorded()
	if want := []time.Duration{7 * time.Second, 7 * time.Second}; !slices.Equal(pauses, want) {
		t.Errorf("pauses = %v, want %v (the server's Retry-After, not the backoff)", pauses, want)
	}
	checkReleased(t, env.pacer.Budget)
}

// spendQuota spends what is left of organization 1's quota from another client,
// so that the pacer's budget does not know it is gone.
func spendQuota(t *testing.T, env *pacerEnv) {
	t.Helper()
	other, err := focus.New(focus.Options{BaseURL: env.srv.URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	for {
		remaining, _ := env.srv.QuotaState(1)
		if remaining == 0 {
			return
		}
		if _, err := other.List(context.Background(), env.task); err != nil {
			t.Fatalf("spending the quota: %v", err)
		}
	}
}

func TestPacer_QuotaSpentWaitsForTheReset(t *testing.T) {
	clk := &clock{now: time.Now()}
	env := newPacerEnv(t, focustest.Options{Quota: 3, Window: time.Hour, Now: clk.Now}, true)
	spendQuota(t, env)
	env.srv.ResetRequests()
	got402 := make(chan struct{})
	sent := env.pacer.Sent
	env.pacer.Sent = func(ep focus.Endpoint, err error) {
		sent(ep, err)
		if focus.KindOf(err) == focus.KindQuota {
			close(got402) // the client has recorded the reset by now
		}
	}
	done := make(chan Outcome, 1)
	go func() {
		done <- env.pacer.Call(context.Background(), PriorityUpload, focus.EndpointList, func(ctx context.Context) error {
			return list(ctx, env, t)
		})
	}()
	select {
	case <-got402:
	case out := <-done:
		t.Fatalf("Call returned %v (%v) before any 402", out.Class, out.Err)
	case <-time.After(time.Minute):
		t.Fatal("no 402 within a minute")
	}
	select {
	case out := <-done:
		t.Fatalf("Call returned %v (%v) after a 402, before the quota reset", out.Class, out.Err)
	default:
	}
	clk.Add(time.Hour + time.Second)
	var out Outcome
	testutil.WaitUntil(t, 30*time.Second, "the call ends after the reset", func() bool {
		// A response elsewhere wakes the budget as the timer of a real hour would.
		env.client.Quota(1).Observe(clk.Now(), -1, -1)
		select {
		case out = <-done:
			return true
		default:
			return false
		}
	})
	if !out.OK() {
		t.Fatalf("after the reset: %v %v", out.Class, out.Err)
	}
	if got, want := env.statuses(), []int{402, 200}; !slices.Equal(got, want) {
		t.Errorf("statuses = %v, want %v (one 402, then one request after the reset)", got, want)
	}
	checkReleased(t, env.pacer.Budget)
}

func TestPacer_CancelEndsAWait(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, env *pacerEnv)
	}{
		{"Retry-After", func(t *testing.T, env *pacerEnv) { env.srv.RateLimitNext(focus.EndpointList, 1, time.Hour) }},
		{"5xx backoff", func(t *testing.T, env *pacerEnv) {
			env.pacer.RetryInitial, env.pacer.RetryMax = time.Hour, time.Hour
			env.srv.FailNext(focus.EndpointList, 1, 500)
		}},
		{"quota reset", func(t *testing.T, env *pacerEnv) { spendQuota(t, env) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newPacerEnv(t, focustest.Options{Quota: 5}, true)
			tc.setup(t, env)
			env.srv.ResetRequests()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan Outcome, 1)
			go func() {
				done <- env.pacer.Call(ctx, PriorityUpload, focus.EndpointList, func(ctx context.Context) error {
					return list(ctx, env, t)
				})
			}()
			testutil.WaitUntil(t, time.Minute, "the failed request is answered", func() bool {
				_, sent := env.recorded()
				return sent == 1
			})
			cancel()
			select {
			case out := <-done:
				if out.Class != ClassCanceled || !errors.Is(out.Err, context.Canceled) {
					t.Errorf("got %v (%v), want canceled", out.Class, out.Err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Call still waiting 30s after its context ended (the wait was an hour)")
			}
			if got := len(env.srv.Requests()); got != 1 {
				t.Errorf("%d requests, want 1: nothing is sent after the context ends", got)
			}
			checkReleased(t, env.pacer.Budget)
		})
	}
}
