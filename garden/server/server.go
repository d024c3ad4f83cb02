// Package server serves a garden.Backend over the Garden HTTP API (spec cell
// §2): JSON routes, the hijacked process protocol of Run and Attach, and the
// grace-time reaper.
package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"diego/deploy/clock"
	"diego/deploy/logging"
	"diego/deploy/routes"
	"diego/garden"
)

// Server is the Garden API over one backend. Serve it with any HTTP server
// (its ServeHTTP) after Start, or with a Runner, which does the whole
// lifecycle.
type Server struct {
	backend garden.Backend
	logger  *slog.Logger
	clock   clock.Clock

	router    http.Handler
	bomberman *bomberman
	streams   *streamRegistry

	mu       sync.Mutex
	conns    map[net.Conn]struct{} // hijacked connections
	stopped  bool
	stopOnce sync.Once
}

// Deps are what the server serves from.
type Deps struct {
	// Logger may be nil (nothing is logged).
	Logger  *slog.Logger
	Clock   clock.Clock
	Backend garden.Backend
}

// New builds the server. Nothing runs until Start.
func New(deps Deps) *Server {
	logger, clk := deps.Logger, deps.Clock
	if logger == nil {
		logger = logging.Discard()
	}
	s := &Server{
		backend: deps.Backend,
		logger:  logger,
		clock:   clk,
		streams: newStreamRegistry(clk),
		conns:   map[net.Conn]struct{}{},
	}
	s.bomberman = newBomberman(clk, s.reap)

	h := map[string]handlerFunc{
		garden.PingRoute:                   s.ping,
		garden.CapacityRoute:               s.capacity,
		garden.ListRoute:                   s.list,
		garden.CreateRoute:                 s.create,
		garden.InfoRoute:                   s.info,
		garden.BulkInfoRoute:               s.bulkInfo,
		garden.BulkMetricsRoute:            s.bulkMetrics,
		garden.DestroyRoute:                s.destroy,
		garden.StopRoute:                   s.stop,
		garden.StreamInRoute:               s.streamIn,
		garden.StreamOutRoute:              s.streamOut,
		garden.CurrentBandwidthLimitsRoute: s.bandwidthLimits,
		garden.CurrentCPULimitsRoute:       s.cpuLimits,
		garden.CurrentDiskLimitsRoute:      s.diskLimits,
		garden.CurrentMemoryLimitsRoute:    s.memoryLimits,
		garden.NetInRoute:                  s.netIn,
		garden.NetOutRoute:                 s.netOut,
		garden.BulkNetOutRoute:             s.bulkNetOut,
		garden.RunRoute:                    s.run,
		garden.AttachRoute:                 s.attach,
		garden.StdoutRoute:                 s.stdout,
		garden.StderrRoute:                 s.stderr,
		garden.SetGraceTimeRoute:           s.setGraceTime,
		garden.PropertiesRoute:             s.properties,
		garden.PropertyRoute:               s.property,
		garden.SetPropertyRoute:            s.setProperty,
		garden.RemovePropertyRoute:         s.removeProperty,
		garden.MetricsRoute:                s.metrics,
	}
	handlers := make(map[string]http.Handler, len(h))
	for name, f := range h {
		handlers[name] = s.wrap(name, f)
	}
	router, err := routes.NewRouter(garden.Routes, handlers)
	if err != nil {
		// The table and the map above are both in this repository; a
		// mismatch is a build defect that the tests catch.
		panic(fmt.Sprintf("garden server routes: %v", err))
	}
	s.router = router
	return s
}

// Start arms the grace timer of every container the backend already has
// (including those still being created). It does not start the backend.
func (s *Server) Start() error {
	containers, err := s.backend.Containers(garden.Properties{garden.StateProperty: garden.StateAll})
	if err != nil {
		return fmt.Errorf("listing containers for their grace times: %w", err)
	}
	for _, c := range containers {
		s.bomberman.Strap(c.Handle(), s.backend.GraceTime(c))
	}
	return nil
}

// Stop closes every hijacked connection (process connections are detached;
// their processes keep running, their output is dropped) and disarms the
// grace timers. It does not stop the backend. The HTTP server itself is the
// caller's to shut down.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.stopped = true
		conns := s.conns
		s.conns = map[net.Conn]struct{}{}
		s.mu.Unlock()
		for c := range conns {
			_ = c.Close()
		}
		s.bomberman.Stop()
		s.streams.Stop()
	})
}

// ServeHTTP serves the Garden API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.router.ServeHTTP(w, r)
}

// track registers a hijacked connection so that Stop can close it; the
// returned func forgets it. After Stop the connection is closed at once.
func (s *Server) track(c net.Conn) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		_ = c.Close()
		return func() {}
	}
	s.conns[c] = struct{}{}
	return func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}
}

// reap is the grace timer firing.
func (s *Server) reap(handle string) {
	l := logging.Session(s.logger, "reap", "handle", handle)
	l.Info("grace-time-expired")
	if err := s.backend.Destroy(handle); err != nil {
		var nf garden.ContainerNotFoundError
		if errors.As(err, &nf) {
			return
		}
		l.Error("destroy-failed", "error", err)
		return
	}
	l.Info("destroyed")
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, l *slog.Logger)

// wrap gives each request its log session and, for a route about one
// container, pauses that container's grace timer while it is in flight.
func (s *Server) wrap(name string, f handlerFunc) http.Handler {
	session := sessionName(name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handle := routes.Param(r, "handle")
		var l *slog.Logger
		if handle != "" {
			l = logging.Session(s.logger, session, "handle", handle)
			s.bomberman.Pause(handle)
			defer s.bomberman.Unpause(handle)
		} else {
			l = logging.Session(s.logger, session)
		}
		l.Debug("serving", "method", r.Method, "request", r.URL.String())
		f(w, r, l)
		l.Debug("done")
	})
}

// sessionName turns a route name such as "BulkNetOut" into "bulk-net-out".
func sessionName(route string) string {
	var b strings.Builder
	rs := []rune(route)
	for i, c := range rs {
		if unicode.IsUpper(c) {
			lowerBefore := i > 0 && !unicode.IsUpper(rs[i-1])
			lowerAfter := i > 0 && i+1 < len(rs) && unicode.IsUpper(rs[i-1]) && unicode.IsLower(rs[i+1])
			if lowerBefore || lowerAfter {
				b.WriteByte('-')
			}
			c = unicode.ToLower(c)
		}
		b.WriteRune(c)
	}
	return b.String()
}

// respond writes v as the JSON answer.
func respond(w http.ResponseWriter, l *slog.Logger, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		fail(w, l, fmt.Errorf("encoding response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// empty is the answer of calls that return nothing.
var empty = struct{}{}

// fail answers err as the wire's error JSON (spec cell §2.1) and logs it;
// the only place request errors are logged.
func fail(w http.ResponseWriter, l *slog.Logger, err error) {
	e := garden.NewError(err)
	status := e.StatusCode()
	if status == http.StatusNotFound {
		l.Info("not-found", "error", err)
	} else {
		l.Error("failed", "error", err)
	}
	body, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// decode reads a JSON request body into v; failures take the generic
// error path.
func decode(r *http.Request, v any) error {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return fmt.Errorf("decoding %s request body: %w", r.URL.Path, err)
	}
	return nil
}
