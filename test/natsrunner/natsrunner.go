// Package natsrunner runs an embedded NATS server as an ifrit.Runner, so
// tests get a real broker without a nats-server binary.
package natsrunner

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"diego/test/ports"
)

// readyTimeout bounds the wait for the server to accept connections.
const readyTimeout = 10 * time.Second

// Runner is a NATS server on 127.0.0.1. It can be run again after it stops.
type Runner struct {
	port uint16
}

// New returns a stopped server on port, or on a port from test/ports if
// port is 0, chosen now so clients can be configured before it starts.
func New(port uint16) *Runner {
	if port == 0 {
		port = ports.Next()
	}
	return &Runner{port: port}
}

// Port is the client port.
func (r *Runner) Port() uint16 { return r.port }

// URL is what NATS clients dial, "nats://127.0.0.1:<port>".
func (r *Runner) URL() string {
	return "nats://127.0.0.1:" + strconv.Itoa(int(r.port))
}

// Run serves until signalled, then shuts the server down and returns nil.
// It returns an error if the server cannot start or stops by itself.
func (r *Runner) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1",
		Port: int(r.port),
		// The test process owns signal handling.
		NoSigs: true,
		NoLog:  true,
	})
	if err != nil {
		return fmt.Errorf("configuring nats server: %w", err)
	}
	log := &logger{w: os.Stderr, fatal: make(chan error, 1)}
	s.SetLoggerV2(log, false, false, false)
	s.Start()
	defer s.WaitForShutdown()
	defer s.Shutdown()

	readyc := make(chan bool, 1)
	go func() { readyc <- s.ReadyForConnections(readyTimeout) }()
	select {
	case ok := <-readyc:
		if !ok {
			return fmt.Errorf("nats server on port %d not ready after %s", r.port, readyTimeout)
		}
	case err := <-log.fatal:
		return fmt.Errorf("starting nats server: %w", err)
	case <-signals:
		return nil
	}
	close(ready)

	stopped := make(chan struct{})
	go func() {
		s.WaitForShutdown()
		close(stopped)
	}()
	select {
	case <-signals:
		return nil
	case err := <-log.fatal:
		return fmt.Errorf("nats server failed: %w", err)
	case <-stopped:
		return fmt.Errorf("nats server on port %d shut down by itself", r.port)
	}
}

// logger keeps test output to warnings and errors, and turns the server's
// fatal errors (which it only logs, as when its port is taken) into Run's
// error instead of a wait for the ready timeout.
type logger struct {
	mu    sync.Mutex
	w     io.Writer
	fatal chan error
}

func (l *logger) Fatalf(format string, v ...any) {
	err := fmt.Errorf(format, v...)
	select {
	case l.fatal <- err:
	default:
		l.print("fatal", err) // Run already has one to return
	}
}

func (l *logger) Errorf(format string, v ...any) { l.print("error", fmt.Errorf(format, v...)) }
func (l *logger) Warnf(format string, v ...any)  { l.print("warn", fmt.Errorf(format, v...)) }
func (l *logger) Noticef(string, ...any)         {}
func (l *logger) Debugf(string, ...any)          {}
func (l *logger) Tracef(string, ...any)          {}

func (l *logger) print(level string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "natsrunner %s: %v\n", level, err)
}

var _ server.Logger = (*logger)(nil)
