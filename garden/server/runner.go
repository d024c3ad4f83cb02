package server

import (
	"fmt"
	"log/slog"
	"os"

	"diego/deploy/httpserver"
)

// Runner is the garden daemon's API as an ifrit.Runner: it starts the
// backend, arms the grace timers, listens on a TCP address or unix socket,
// and is ready once the listener is bound. On a signal it stops serving,
// detaches process connections (processes keep running) and stops the
// backend.
type Runner struct {
	server *Server
	http   *httpserver.Runner
}

// RunnerConfig is where the API listens.
type RunnerConfig struct {
	// Network is "tcp" or "unix"; Address a host:port or a socket path.
	Network, Address string
}

// RunnerDeps are what the runner serves.
type RunnerDeps struct {
	Server *Server
}

// NewRunner serves deps.Server at cfg's address.
func NewRunner(cfg RunnerConfig, deps RunnerDeps) (*Runner, error) {
	s, network, address := deps.Server, cfg.Network, cfg.Address
	var h *httpserver.Runner
	switch network {
	case "tcp":
		h = httpserver.New(address, s)
	case "unix":
		h = httpserver.NewUnix(address, s)
	default:
		return nil, fmt.Errorf("garden server: unsupported network %q (use tcp or unix)", network)
	}
	h.ErrorLog = slog.NewLogLogger(s.logger.Handler(), slog.LevelError)
	return &Runner{server: s, http: h}, nil
}

// Addr is the bound address once ready ("" before).
func (r *Runner) Addr() string { return r.http.Addr() }

// Run implements ifrit.Runner.
func (r *Runner) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	if err := r.server.backend.Start(); err != nil {
		return fmt.Errorf("starting garden backend: %w", err)
	}
	defer r.server.backend.Stop()
	if err := r.server.Start(); err != nil {
		return err
	}
	// Shutdown waits for ordinary requests; the hijacked process
	// connections are closed by Stop afterwards.
	defer r.server.Stop()
	return r.http.Run(signals, ready)
}
