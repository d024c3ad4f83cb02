package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"diego/deploy/routes"
	"diego/garden"
)

func (s *Server) ping(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	if err := s.backend.Ping(); err != nil {
		fail(w, l, err)
		return
	}
	respond(w, l, http.StatusOK, empty)
}

func (s *Server) capacity(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	c, err := s.backend.Capacity()
	if err != nil {
		fail(w, l, err)
		return
	}
	respond(w, l, http.StatusOK, c)
}

// list passes the query, a property filter, to the backend, which applies
// the garden.state rules of spec cell §2.3.
func (s *Server) list(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	filter := garden.Properties{}
	for k, vs := range r.URL.Query() {
		if len(vs) > 0 {
			filter[k] = vs[0]
		}
	}
	containers, err := s.backend.Containers(filter)
	if err != nil {
		fail(w, l, err)
		return
	}
	handles := make([]string, 0, len(containers))
	for _, c := range containers {
		handles = append(handles, c.Handle())
	}
	respond(w, l, http.StatusOK, garden.ListResponse{Handles: handles})
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	var spec garden.ContainerSpec
	if err := decode(r, &spec); err != nil {
		fail(w, l, err)
		return
	}
	c, err := s.backend.Create(spec)
	if err != nil {
		fail(w, l, err)
		return
	}
	handle := c.Handle()
	s.bomberman.Strap(handle, s.backend.GraceTime(c))
	l.Info("created", "handle", handle)
	respond(w, l, http.StatusOK, garden.CreateResponse{Handle: handle})
}

func (s *Server) destroy(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	handle := routes.Param(r, "handle")
	if err := s.backend.Destroy(handle); err != nil {
		fail(w, l, err)
		return
	}
	s.bomberman.Defuse(handle)
	l.Info("destroyed")
	respond(w, l, http.StatusOK, empty)
}

// bulkHandles reads ?handles=a,b.
func bulkHandles(r *http.Request) []string {
	var handles []string
	for _, h := range strings.Split(r.URL.Query().Get("handles"), ",") {
		if h != "" {
			handles = append(handles, h)
		}
	}
	return handles
}

func (s *Server) bulkInfo(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	infos, err := s.backend.BulkInfo(bulkHandles(r))
	if err != nil {
		fail(w, l, err)
		return
	}
	if infos == nil {
		infos = map[string]garden.ContainerInfoEntry{}
	}
	respond(w, l, http.StatusOK, infos)
}

func (s *Server) bulkMetrics(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	metrics, err := s.backend.BulkMetrics(bulkHandles(r))
	if err != nil {
		fail(w, l, err)
		return
	}
	if metrics == nil {
		metrics = map[string]garden.ContainerMetricsEntry{}
	}
	respond(w, l, http.StatusOK, metrics)
}

// lookup finds the route's container, answering the error itself.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, l *slog.Logger) (garden.Container, bool) {
	c, err := s.backend.Lookup(routes.Param(r, "handle"))
	if err != nil {
		fail(w, l, err)
		return nil, false
	}
	return c, true
}

// withContainer serves the many routes that look the container up, call
// one method and answer its result (or {}).
func (s *Server) withContainer(w http.ResponseWriter, r *http.Request, l *slog.Logger, call func(garden.Container) (any, error)) {
	c, ok := s.lookup(w, r, l)
	if !ok {
		return
	}
	v, err := call(c)
	if err != nil {
		fail(w, l, err)
		return
	}
	respond(w, l, http.StatusOK, v)
}

func (s *Server) info(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	s.withContainer(w, r, l, func(c garden.Container) (any, error) { return c.Info() })
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	s.withContainer(w, r, l, func(c garden.Container) (any, error) { return c.Metrics() })
}

func (s *Server) stop(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	var req garden.StopRequest
	if err := decode(r, &req); err != nil {
		fail(w, l, err)
		return
	}
	s.withContainer(w, r, l, func(c garden.Container) (any, error) { return empty, c.Stop(req.Kill) })
}

func (s *Server) streamIn(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	q := r.URL.Query()
	spec := garden.StreamInSpec{Path: q.Get("destination"), User: q.Get("user"), TarStream: r.Body}
	s.withContainer(w, r, l, func(c garden.Container) (any, error) { return empty, c.StreamIn(spec) })
}

// streamOut answers the raw tar. An error before the first byte is an
// ordinary error answer; after it the connection is cut, so the client sees
// a truncated stream rather than a clean end (spec cell §2.7).
func (s *Server) streamOut(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	c, ok := s.lookup(w, r, l)
	if !ok {
		return
	}
	q := r.URL.Query()
	out, err := c.StreamOut(garden.StreamOutSpec{Path: q.Get("source"), User: q.Get("user")})
	if err != nil {
		fail(w, l, err)
		return
	}
	defer out.Close()

	buf := make([]byte, 32*1024)
	n, err := out.Read(buf)
	if err != nil && !errors.Is(err, io.EOF) && n == 0 {
		fail(w, l, fmt.Errorf("streaming out: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	if n > 0 {
		if _, werr := w.Write(buf[:n]); werr != nil {
			l.Info("client-gone", "error", werr)
			return
		}
	}
	if err == nil {
		_, err = io.CopyBuffer(w, out, buf)
	} else if errors.Is(err, io.EOF) {
		err = nil
	}
	if err != nil {
		l.Error("stream-out-truncated", "error", err)
		// What was written goes out; the missing end of the chunked
		// body then tells the client the stream is incomplete.
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	}
}

func (s *Server) bandwidthLimits(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	s.withContainer(w, r, l, func(c garden.Container) (any, error) { return c.CurrentBandwidthLimits() })
}

func (s *Server) cpuLimits(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	s.withContainer(w, r, l, func(c garden.Container) (any, error) { return c.CurrentCPULimits() })
}

func (s *Server) diskLimits(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	s.withContainer(w, r, l, func(c garden.Container) (any, error) { return c.CurrentDiskLimits() })
}

func (s *Server) memoryLimits(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	s.withContainer(w, r, l, func(c garden.Container) (any, error) { return c.CurrentMemoryLimits() })
}

func (s *Server) netIn(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	var req garden.NetInRequest
	if err := decode(r, &req); err != nil {
		fail(w, l, err)
		return
	}
	s.withContainer(w, r, l, func(c garden.Container) (any, error) {
		host, container, err := c.NetIn(req.HostPort, req.ContainerPort)
		return garden.NetInResponse{HostPort: host, ContainerPort: container}, err
	})
}

func (s *Server) netOut(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	var rule garden.NetOutRule
	if err := decode(r, &rule); err != nil {
		fail(w, l, err)
		return
	}
	s.withContainer(w, r, l, func(c garden.Container) (any, error) { return empty, c.NetOut(rule) })
}

func (s *Server) bulkNetOut(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	var rules []garden.NetOutRule
	if err := decode(r, &rules); err != nil {
		fail(w, l, err)
		return
	}
	s.withContainer(w, r, l, func(c garden.Container) (any, error) { return empty, c.BulkNetOut(rules) })
}

// setGraceTime takes a JSON integer of nanoseconds and restarts the
// container's countdown with it (0 = never).
func (s *Server) setGraceTime(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	var grace time.Duration
	if err := decode(r, &grace); err != nil {
		fail(w, l, err)
		return
	}
	s.withContainer(w, r, l, func(c garden.Container) (any, error) {
		if err := c.SetGraceTime(grace); err != nil {
			return nil, err
		}
		s.bomberman.Strap(c.Handle(), grace)
		return empty, nil
	})
}

func (s *Server) properties(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	s.withContainer(w, r, l, func(c garden.Container) (any, error) {
		props, err := c.Properties()
		if props == nil {
			props = garden.Properties{}
		}
		return props, err
	})
}

func (s *Server) property(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	key := routes.Param(r, "key")
	s.withContainer(w, r, l, func(c garden.Container) (any, error) {
		v, err := c.Property(key)
		return garden.PropertyValue{Value: v}, err
	})
}

func (s *Server) setProperty(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	var v garden.PropertyValue
	if err := decode(r, &v); err != nil {
		fail(w, l, err)
		return
	}
	key := routes.Param(r, "key")
	s.withContainer(w, r, l, func(c garden.Container) (any, error) { return empty, c.SetProperty(key, v.Value) })
}

func (s *Server) removeProperty(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	key := routes.Param(r, "key")
	s.withContainer(w, r, l, func(c garden.Container) (any, error) { return empty, c.RemoveProperty(key) })
}
