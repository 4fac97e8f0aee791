package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/focussync/focussync/daemon"
)

// aliveTimeout bounds one liveness check: a daemon whose loops do not answer
// within it is taken as hung (by /healthz and by the systemd watchdog).
const aliveTimeout = 5 * time.Second

// livenessCheck is one loop's answer to "are you alive?": nil when it answered.
type livenessCheck struct {
	name  string
	check func(ctx context.Context) error
}

// checkAlive runs every check, each in its own goroutine so that a hung one
// cannot hang the caller, and returns the first failure, naming its loop; nil
// when all answered within timeout.
func checkAlive(ctx context.Context, checks []livenessCheck, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type answer struct {
		i   int
		err error
	}
	answers := make(chan answer, len(checks))
	for i, c := range checks {
		go func() { answers <- answer{i, c.check(ctx)} }()
	}
	// The checks end with ctx; a little grace lets them say so themselves.
	grace := time.NewTimer(timeout + time.Second)
	defer grace.Stop()
	answered := make([]bool, len(checks))
	for range checks {
		select {
		case a := <-answers:
			answered[a.i] = true
			if a.err != nil {
				return fmt.Errorf("%s: %w", checks[a.i].name, a.err)
			}
		case <-grace.C:
			for i, ok := range answered {
				if !ok {
					return fmt.Errorf("%s: no answer within %s", checks[i].name, timeout)
				}
			}
		}
	}
	return nil
}

// statusAnswers is a liveness check that the daemon hands out its status: that
// takes the daemon's lock and every worker's, so a deadlock there shows.
func statusAnswers(src func() daemon.Status) livenessCheck {
	return livenessCheck{name: "daemon status", check: func(ctx context.Context) error {
		done := make(chan struct{})
		go func() {
			src()
			close(done)
		}()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("the daemon did not hand out its status within the time: %w", ctx.Err())
		}
	}}
}

// loopPing is a liveness check of a loop that serves ping: the loop receives
// a channel and closes it.
func loopPing(name string, ping chan<- chan struct{}) livenessCheck {
	return livenessCheck{name: name, check: func(ctx context.Context) error {
		reply := make(chan struct{})
		select {
		case ping <- reply:
		case <-ctx.Done():
			return fmt.Errorf("the loop did not take the ping: %w", ctx.Err())
		}
		select {
		case <-reply:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("the loop did not answer the ping: %w", ctx.Err())
		}
	}}
}

// answerPing answers a ping received by a loop.
func answerPing(reply chan struct{}) { close(reply) }

// readiness is /readyz's answer.
type readiness struct {
	Ready   bool              `json:"ready"`
	Folders []folderReadyJSON `json:"folders"`
}

type folderReadyJSON struct {
	Path   string `json:"path"`
	Task   int64  `json:"task_id"`
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"` // why it is not ready, or what it waits for
}

// daemonReadiness says whether every folder is in sync or waiting only on the
// API quota, with each folder's reason when it is not.
func daemonReadiness(st daemon.Status) readiness {
	r := readiness{Ready: st.Paused == "", Folders: []folderReadyJSON{}}
	for _, f := range st.Folders {
		reason := folderReadiness(f, st.Quota)
		if st.Paused != "" && reason == "" {
			reason = "all work paused: " + st.Paused
		}
		fr := folderReadyJSON{Path: validUTF8(f.Path), Task: f.Task, Ready: reason == "", Reason: reason}
		if fr.Ready && quotaUsedUp(f, st.Quota) {
			fr.Reason = "waiting for the API quota to reset"
		}
		r.Ready = r.Ready && fr.Ready
		r.Folders = append(r.Folders, fr)
	}
	return r
}

// folderReadiness returns why a folder is not ready, or "" when it is in sync or
// its work waits only on the API quota.
func folderReadiness(f daemon.FolderStatus, quota []daemon.QuotaStatus) string {
	quotaWait := quotaUsedUp(f, quota)
	switch {
	case f.Paused != "":
		return "paused: " + f.Paused
	case f.Held != "":
		return "deletes held: " + f.Held
	case f.LastPass.IsZero() && !quotaWait:
		return "first pass not finished"
	case f.State == "error":
		return "last pass failed: " + f.LastError
	case len(f.Failures) == 1:
		return fmt.Sprintf("1 file not synced: %s: %s", f.Failures[0].Path, f.Failures[0].Reason)
	case len(f.Failures) > 1:
		return fmt.Sprintf("%d files not synced, e.g. %s: %s", len(f.Failures), f.Failures[0].Path, f.Failures[0].Reason)
	case f.State == "standby":
		return "standby: another host writes to this task"
	case f.Pending > 0 && !quotaWait:
		return fmt.Sprintf("%d operations pending", f.Pending)
	}
	return ""
}

// quotaUsedUp reports whether the API quota of the folder's organization is
// used up.
func quotaUsedUp(f daemon.FolderStatus, quota []daemon.QuotaStatus) bool {
	for _, q := range quota {
		if q.Organization == f.Organization {
			return q.Known && q.Remaining <= 0
		}
	}
	return false
}

// healthHandler serves GET /healthz: 200 "ok" while the daemon's loops answer
// within timeout, 503 naming the loop that did not.
func healthHandler(checks []livenessCheck, timeout time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := checkAlive(r.Context(), checks, timeout); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not alive: %v\n", err)
			return
		}
		fmt.Fprint(w, "ok\n")
	}
}

// readyHandler serves GET /readyz: 200 when every folder is in sync or waits only
// on the quota, 503 otherwise; the body is JSON with a reason per folder.
func readyHandler(src func() daemon.Status) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rd := daemonReadiness(src())
		b, err := json.MarshalIndent(rd, "", "  ")
		if err != nil {
			http.Error(w, "encode readiness: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !rd.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write(append(b, '\n'))
	}
}
