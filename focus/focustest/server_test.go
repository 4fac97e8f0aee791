package focustest

import (
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestServer_Unstarted(t *testing.T) {
	t.Parallel()
	s := NewUnstartedServer(Options{Token: testToken})
	if s.URL != "" {
		t.Errorf("URL %q before Start, want empty", s.URL)
	}
	// A listener may be swapped before Start, as with httptest.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Listener.Close()
	s.Listener = ln
	s.Start()
	defer s.Close()
	if want := "http://" + ln.Addr().String() + "/api"; s.URL != want {
		t.Errorf("URL %q, want %q", s.URL, want)
	}
	if !strings.HasSuffix(s.PageURL, "/") || strings.HasSuffix(s.PageURL, "/api/") {
		t.Errorf("PageURL %q", s.PageURL)
	}
	wantStatus(t, "list", send(t, s, http.MethodGet, taskPath(s, testTask), "", nil), http.StatusOK)
	s.Close()
	s.Close() // a second Close is harmless
	if _, err := http.Get(s.URL); err == nil {
		t.Error("server still answers after Close")
	}

	never := NewUnstartedServer(Options{})
	never.Close()
	if _, err := net.Dial("tcp", never.Listener.Addr().String()); err == nil {
		t.Error("Close of an unstarted server left its listener open")
	}
}
