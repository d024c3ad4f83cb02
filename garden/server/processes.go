package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"diego/deploy/routes"
	"diego/garden"
)

// run starts a process and speaks the hijacked protocol of spec cell §2.6
// with 201.
func (s *Server) run(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	// The whole body is read before the hijack: bytes left unread would
	// otherwise be taken for the first stdin payload.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		fail(w, l, fmt.Errorf("reading process spec: %w", err))
		return
	}
	var spec garden.ProcessSpec
	if err := json.Unmarshal(body, &spec); err != nil {
		fail(w, l, fmt.Errorf("decoding %s request body: %w", r.URL.Path, err))
		return
	}
	c, ok := s.lookup(w, r, l)
	if !ok {
		return
	}
	st := s.streams.New()
	p, err := c.Run(spec, st.ProcessIO())
	if err != nil {
		st.Unused()
		fail(w, l, err)
		return
	}
	l = l.With("garden_process_id", p.ID(), "stream_id", st.id)
	l.Info("started", "path", spec.Path)
	s.serveProcess(w, l, http.StatusCreated, p, st)
}

// attach reconnects to a process with a new stream id and answers 200.
func (s *Server) attach(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	c, ok := s.lookup(w, r, l)
	if !ok {
		return
	}
	pid := routes.Param(r, "pid")
	st := s.streams.New()
	p, err := c.Attach(pid, st.ProcessIO())
	if err != nil {
		st.Unused()
		fail(w, l, err)
		return
	}
	l = l.With("garden_process_id", p.ID(), "stream_id", st.id)
	l.Info("attached")
	s.serveProcess(w, l, http.StatusOK, p, st)
}

// serveProcess answers status, hijacks the connection, sends the first
// payload, relays the client's payloads to the process, and once the
// process has exited sends the final payload and closes the connection.
func (s *Server) serveProcess(w http.ResponseWriter, l *slog.Logger, status int, p garden.Process, st *stream) {
	s.streams.Register(st, p.ID())

	conn, br, err := hijack(w, status, "application/json")
	if err != nil {
		l.Error("hijack-failed", "error", err)
		st.stdin.Close(fmt.Errorf("hijacking connection: %w", err))
		st.stdin.Finish()
		st.Orphan()
		s.waitForExit(l, p, st)
		return
	}
	defer s.track(conn)()
	defer conn.Close()

	enc := json.NewEncoder(conn)
	if err := enc.Encode(garden.ProcessPayload{ProcessID: p.ID(), StreamID: st.id}); err != nil {
		l.Info("client-gone", "error", err)
	}

	go s.readPayloads(l, br, p, st)

	exit := s.waitForExit(l, p, st)
	exit.ProcessID = p.ID()
	if err := enc.Encode(exit); err != nil {
		l.Info("exit-not-delivered", "error", err)
	}
}

// waitForExit waits for the process and its output, then ends the stream:
// readers drain the buffers, stdin is abandoned, and the id expires later.
func (s *Server) waitForExit(l *slog.Logger, p garden.Process, st *stream) garden.ProcessPayload {
	code, err := p.Wait()
	st.stdin.Abandon()
	s.streams.Exited(st)
	if err != nil {
		l.Error("wait-failed", "error", err)
		msg := err.Error()
		return garden.ProcessPayload{Error: &msg}
	}
	l.Info("exited", "exit_status", code)
	return garden.ProcessPayload{ExitStatus: &code}
}

// readPayloads relays the client's payloads until the connection ends,
// which closes stdin with an error (unless the client closed it already).
func (s *Server) readPayloads(l *slog.Logger, r *bufio.Reader, p garden.Process, st *stream) {
	defer st.stdin.Finish()
	defer st.Orphan()
	dec := json.NewDecoder(r)
	for {
		var payload garden.ProcessPayload
		if err := dec.Decode(&payload); err != nil {
			st.stdin.Close(fmt.Errorf("process connection closed: %w", err))
			return
		}
		switch {
		case payload.Signal != nil:
			switch sig := *payload.Signal; sig {
			case garden.SignalTerminate, garden.SignalKill:
				if err := p.Signal(sig); err != nil {
					l.Error("signal-failed", "signal", int(sig), "error", err)
				}
			default:
				st.stdin.Close(nil)
			}
		case payload.TTY != nil:
			if err := p.SetTTY(*payload.TTY); err != nil {
				l.Error("set-tty-failed", "error", err)
			}
		case payload.Source != nil && *payload.Source == garden.ProcessStreamStdin:
			if payload.Data != nil {
				st.stdin.Write([]byte(*payload.Data))
			} else {
				st.stdin.Close(nil)
			}
		}
	}
}

func (s *Server) stdout(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	s.serveOutput(w, r, l, func(st *stream) chan []byte { return st.stdout })
}

func (s *Server) stderr(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	s.serveOutput(w, r, l, func(st *stream) chan []byte { return st.stderr })
}

// serveOutput answers 200, hijacks, and writes the stream's raw output
// until the process has exited and the buffer is drained; then it closes
// the connection.
func (s *Server) serveOutput(w http.ResponseWriter, r *http.Request, l *slog.Logger, which func(*stream) chan []byte) {
	pid := routes.Param(r, "pid")
	st, ok := s.streams.Get(routes.Param(r, "streamid"))
	if !ok || st.processID != pid {
		fail(w, l, garden.ProcessNotFoundError{ProcessID: pid})
		return
	}
	conn, br, err := hijack(w, http.StatusOK, "")
	if err != nil {
		l.Error("hijack-failed", "error", err)
		return
	}
	defer s.track(conn)()
	defer conn.Close()

	// The client sends nothing more; a read ending means it has gone.
	gone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, br)
		close(gone)
	}()

	if err := st.CopyOutput(which(st), conn, gone); err != nil {
		l.Info("output-client-gone", "error", err)
	}
}

// hijack answers status with the header block Go's net/http writes when a
// handler flushes and then hijacks (Date, Transfer-Encoding: chunked, and
// the Content-Type given or sniffed; never Connection: close), then takes
// the connection over: what follows is raw, whatever the headers claim
// (spec cell §2.6). Diego's Garden client reads the header block with a
// persistent-connection reader that fails on a reply marked to close.
// The HTTP server's deadlines were for the request; a hijacked connection
// lasts as long as its process.
func hijack(w http.ResponseWriter, status int, contentType string) (net.Conn, *bufio.Reader, error) {
	rc := http.NewResponseController(w)
	if contentType != "" {
		w.Header().Set("Content-Type", contentType)
	}
	w.WriteHeader(status)
	if err := rc.Flush(); err != nil {
		return nil, nil, fmt.Errorf("flushing headers: %w", err)
	}
	conn, brw, err := rc.Hijack()
	if err != nil {
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, brw.Reader, nil
}
