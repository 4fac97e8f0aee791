package focustest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is an Emulator listening on a loopback port, like httptest.Server.
type Server struct {
	*Emulator

	// URL is the base URL of the API, including "/api", e.g.
	// http://127.0.0.1:41234/api. It is set by Start.
	URL string
	// PageURL is the address of the HTML page listing the attachments. It is
	// set by Start.
	PageURL string
	// Listener is where the server accepts connections; it may be replaced
	// before Start.
	Listener net.Listener

	srv       *http.Server
	cancel    context.CancelFunc
	client    *http.Client
	closeOnce sync.Once
}

// NewServer starts an emulator configured by opts on 127.0.0.1 and a free port.
// The caller must Close it.
func NewServer(opts Options) *Server {
	s := NewUnstartedServer(opts)
	s.Start()
	return s
}

// NewUnstartedServer returns an emulator listening on 127.0.0.1 and a free port
// that does not serve until Start. It panics when it cannot listen.
func NewUnstartedServer(opts Options) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("focustest: listen on a loopback port: %v", err))
	}
	return &Server{Emulator: NewHandler(opts), Listener: ln}
}

// Start serves requests. It panics when the server was already started.
func (s *Server) Start() {
	if s.srv != nil {
		panic("focustest: Server started twice")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.srv = &http.Server{
		Handler:           s.Emulator,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          discardLogger,
	}
	base := "http://" + s.Listener.Addr().String()
	s.URL = base + "/api"
	s.PageURL = base + "/"
	tr := http.DefaultTransport.(*http.Transport).Clone()
	s.client = &http.Client{Transport: tr}
	go func() { _ = s.srv.Serve(s.Listener) }()
}

// Client returns an HTTP client for the server. Close closes its idle
// connections.
func (s *Server) Client() *http.Client { return s.client }

// Close stops accepting connections, ends the latency waits of requests in
// flight and waits for their handlers to return.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		if s.srv == nil {
			_ = s.Listener.Close()
			return
		}
		s.cancel()
		_ = s.srv.Shutdown(context.Background())
		s.client.CloseIdleConnections()
	})
}
