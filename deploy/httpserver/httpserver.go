// Package httpserver runs an HTTP(S) server as an ifrit.Runner, so each
// daemon's API starts in its process group like everything else: ready only
// once the listener is bound, and drained gracefully on a signal.
package httpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// DefaultShutdownTimeout bounds how long a signalled server waits for
// in-flight requests before closing their connections.
const DefaultShutdownTimeout = 10 * time.Second

// readHeaderTimeout stops idle clients holding connections open forever
// without limiting how long a handler (e.g. an event stream) may run.
const readHeaderTimeout = 30 * time.Second

// Runner serves handler on one listener. Create it with New, NewTLS or
// NewUnix; set the exported fields before Run if needed.
type Runner struct {
	ShutdownTimeout time.Duration

	// ErrorLog receives the server's own errors (TLS handshake failures,
	// handler panics); nil means package log. A daemon can pass
	// slog.NewLogLogger to keep them in its JSON log.
	ErrorLog *log.Logger

	network   string
	addr      string
	handler   http.Handler
	tlsConfig *tls.Config

	mu        sync.Mutex
	boundAddr string
}

// New serves plain HTTP on a TCP address such as "127.0.0.1:8889"; port 0
// picks a free port, which Addr reports.
func New(addr string, handler http.Handler) *Runner {
	return &Runner{ShutdownTimeout: DefaultShutdownTimeout, network: "tcp", addr: addr, handler: handler}
}

// NewTLS serves HTTPS on a TCP address with cfg, which must hold a
// certificate. It speaks HTTP/1.1, and HTTP/2 only if cfg.NextProtos offers
// "h2".
func NewTLS(addr string, handler http.Handler, cfg *tls.Config) *Runner {
	r := New(addr, handler)
	r.tlsConfig = cfg
	return r
}

// NewUnix serves plain HTTP on a unix socket. A socket file left at the path
// by a process that did not shut down cleanly is removed first.
func NewUnix(socketPath string, handler http.Handler) *Runner {
	r := New(socketPath, handler)
	r.network = "unix"
	return r
}

// Addr is the address actually bound (for unix, the socket path), or ""
// before the runner is ready.
func (r *Runner) Addr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.boundAddr
}

// Run binds the listener, closes ready, and serves until a signal arrives.
// A bind failure is returned without closing ready. On a signal it shuts
// down gracefully, closing connections still busy after ShutdownTimeout,
// and returns nil.
func (r *Runner) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	ln, err := r.listen()
	if err != nil {
		return err
	}

	r.mu.Lock()
	r.boundAddr = ln.Addr().String()
	r.mu.Unlock()

	server := &http.Server{
		Handler:           r.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          r.ErrorLog,
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- server.Serve(ln) }()
	close(ready)

	select {
	case err := <-serveErr:
		return fmt.Errorf("serving on %s: %w", r.boundAddr, err)
	case <-signals:
	}

	ctx, cancel := context.WithTimeout(context.Background(), r.ShutdownTimeout)
	defer cancel()
	if err := server.Shutdown(ctx); err != nil {
		// The timeout passed: drop the stragglers rather than hang the exit.
		_ = server.Close()
	}
	<-serveErr
	return nil
}

func (r *Runner) listen() (net.Listener, error) {
	if r.tlsConfig != nil && len(r.tlsConfig.Certificates) == 0 &&
		r.tlsConfig.GetCertificate == nil && r.tlsConfig.GetConfigForClient == nil {
		return nil, errors.New("TLS config has no certificate")
	}
	if r.network == "unix" {
		if err := removeStaleSocket(r.addr); err != nil {
			return nil, err
		}
	}

	ln, err := net.Listen(r.network, r.addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", r.addr, err)
	}
	if r.tlsConfig != nil {
		ln = tls.NewListener(ln, r.tlsConfig.Clone())
	}
	return ln, nil
}

// removeStaleSocket removes path only if it is a socket, so that a mistyped
// path can never delete a regular file.
func removeStaleSocket(path string) error {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking for a stale socket: %w", err)
	}
	if info.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("listening on %s: file exists and is not a socket", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("removing stale socket: %w", err)
	}
	return nil
}
