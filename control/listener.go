package control

import (
	"bufio"
	"net"
	"sync"
)

// Listener is a daemon's control endpoint, from Listen.
type Listener struct {
	net.Listener
	endpoint  string
	authorize func(net.Conn, *bufio.Reader) error // vets a caller before its request is read
	cleanup   func()                              // removes the endpoint's file
	closeOnce sync.Once
	closeErr  error
}

// Endpoint returns the path the listener was opened on.
func (l *Listener) Endpoint() string { return l.endpoint }

// Close stops listening and removes the endpoint's file.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		l.closeErr = l.Listener.Close()
		if l.cleanup != nil {
			l.cleanup()
		}
	})
	return l.closeErr
}
