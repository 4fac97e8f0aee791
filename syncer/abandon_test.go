package syncer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/focussync/focussync/focus/focustest"
	"github.com/focussync/focussync/syncer"
)

// lateStore passes requests on to the emulator, but the first multipart upload
// it receives whole reaches the emulator only a second later, after its sender
// gave up: a server still storing an upload whose client has gone away.
type lateStore struct {
	once     sync.Once
	received chan struct{} // closed once the delayed upload's body is in
	stored   chan struct{} // closed once the emulator has answered it
}

func (l *lateStore) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		return http.DefaultTransport.RoundTrip(r)
	}
	first := false
	l.once.Do(func() { first = true })
	if !first {
		return http.DefaultTransport.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	late := r.Clone(context.Background())
	late.Body, late.ContentLength, late.GetBody = io.NopCloser(bytes.NewReader(body)), int64(len(body)), nil
	close(l.received)
	go func() {
		defer close(l.stored)
		time.Sleep(time.Second) // the server's own pace, not a wait of the test
		if resp, err := http.DefaultTransport.RoundTrip(late); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	<-r.Context().Done()
	return nil, r.Context().Err()
}

// A pass stopped with an upload's whole body sent (a reload restarts the
// folder's worker) leaves the upload's outcome unknown; the next pass, at once,
// must not conclude from a listing made before the server has stored it that it
// never arrived: every file ends up in the task once.
func TestEngine_UploadAbandonedMidRequestIsNotSentTwice(t *testing.T) {
	t.Parallel()
	l := &lateStore{received: make(chan struct{}), stored: make(chan struct{})}
	e := newEngineEnvOver(t, focustest.Options{}, l)
	want := map[string]string{"a.txt": "a", "b.txt": "b", "c.txt": "c"}
	for name, content := range want {
		if err := os.WriteFile(filepath.Join(e.folder.Path, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-l.received
		cancel()
	}()
	if _, err := e.engine.Sync(ctx, e.folder, syncer.PassOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("the stopped pass: %v, want context.Canceled", err)
	}
	res, err := e.engine.Sync(context.Background(), e.folder, syncer.PassOptions{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.stored:
	case <-time.After(time.Minute):
		t.Fatal("the delayed upload never reached the emulator")
	}
	t.Logf("the next pass: uploaded %d, adopted %d", res.Uploaded, res.Adopted)
	e.expectFiles(t, want)
}
