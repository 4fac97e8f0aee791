package focustest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/focussync/focussync/focus"
)

func TestEmulator_BodyTapFindsSecretPieces(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	secret := "0123456789abcdefSECRET-PIECE-fedcba9876543210"
	w := NewSecretWatch([]byte(secret), 12)
	s.SetBodyTap(w.Tap)
	clean := postForm(t, s, taskPath(s, testTask), filePart("file", "a.txt", "nothing to see"), valuePart("display_order", "1"))
	wantStatus(t, "clean upload", clean, http.StatusCreated)
	if w.Seen() != 0 {
		t.Fatalf("Seen = %d after a clean upload, want 0", w.Seen())
	}
	// A 12-byte piece from the middle of the secret, in a refused request.
	s.FailNext(focus.EndpointCreate, 1, http.StatusServiceUnavailable)
	leak := postForm(t, s, taskPath(s, testTask), filePart("file", "b.txt", "xx"+secret[10:22]+"yy"), valuePart("display_order", "2"))
	wantStatus(t, "refused upload", leak, http.StatusServiceUnavailable)
	if w.Seen() != 1 || len(w.Endpoints()) != 1 || w.Endpoints()[0] != focus.EndpointCreate {
		t.Errorf("Seen = %d (%v), want 1 create", w.Seen(), w.Endpoints())
	}
	// Eleven bytes are not a piece.
	short := postForm(t, s, taskPath(s, testTask), filePart("file", "c.txt", secret[3:14]), valuePart("display_order", "3"))
	wantStatus(t, "short piece", short, http.StatusCreated)
	if w.Seen() != 1 {
		t.Errorf("Seen = %d after 11 bytes of the secret, want still 1", w.Seen())
	}
}

func TestSecretWatch_AcrossChunks(t *testing.T) {
	t.Parallel()
	w := NewSecretWatch([]byte("abcdefghijklmnop"), 8)
	tap := w.Tap(focus.EndpointBulk)
	for _, c := range []string{"zzzzcde", "fg", "hij", "zz"} {
		tap.Write([]byte(c))
	}
	if w.Seen() != 1 {
		t.Errorf("Seen = %d for a piece split over three writes, want 1", w.Seen())
	}
}

func TestEmulator_SetReadRate(t *testing.T) {
	t.Parallel()
	s := newServer(t, Options{})
	s.SetReadRate(20 << 10) // 20 KiB/s
	start := time.Now()
	r := postForm(t, s, taskPath(s, testTask), filePart("file", "a.bin", strings.Repeat("a", 30<<10)), valuePart("display_order", "1"))
	wantStatus(t, "throttled upload", r, http.StatusCreated)
	if d := time.Since(start); d < time.Second {
		t.Errorf("30 KiB at 20 KiB/s took %s, want at least 1s", d)
	}
	s.SetReadRate(0)
	start = time.Now()
	r = postForm(t, s, taskPath(s, testTask), filePart("file", "b.bin", strings.Repeat("b", 30<<10)), valuePart("display_order", "2"))
	wantStatus(t, "unthrottled upload", r, http.StatusCreated)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("an unthrottled upload took %s", d)
	}
}
