package client

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"unicode/utf8"

	"diego/deploy/routes"
	"diego/garden"
)

// stdinChunk is the most stdin one payload carries.
const stdinChunk = 32 * 1024

// hijack sends a request on a fresh connection and reads the answer's
// status line and headers. On success (want) the connection and a reader
// positioned after the headers are returned: from there on the protocol is
// raw, whatever Transfer-Encoding or Content-Length the headers claim. Any
// other status is read as an error answer.
func (c *Client) hijack(route string, params routes.Params, body any, want int) (net.Conn, *bufio.Reader, error) {
	req, err := c.request(route, params, nil, body)
	if err != nil {
		return nil, nil, err
	}
	conn, err := net.DialTimeout(c.network, c.address, dialTimeout)
	if err != nil {
		return nil, nil, fmt.Errorf("garden %s: %w", route, err)
	}
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("garden %s: sending request: %w", route, err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("garden %s: reading response: %w", route, err)
	}
	if resp.StatusCode != want {
		defer conn.Close()
		if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
			return nil, nil, fmt.Errorf("garden %s: status %d: %w", route, resp.StatusCode, errUnexpected)
		}
		return nil, nil, errorFromResponse(resp)
	}
	// A reply marked to close (Connection: close, or a body bounded only
	// by the end of the connection) is what Diego's Garden client refuses
	// with "persistent connection closed"; refusing it too keeps this
	// client as strict as the one the server must serve (spec cell §2.6).
	if resp.Close {
		conn.Close()
		return nil, nil, fmt.Errorf("garden %s: %w", route, errPersistentConnectionClosed)
	}
	return conn, br, nil
}

// openProcess runs (body = spec) or attaches to (body = nil) a process and
// wires its I/O (spec cell §2.6).
func (c *Client) openProcess(route string, params routes.Params, body any, pio garden.ProcessIO) (garden.Process, error) {
	want := http.StatusOK
	if route == garden.RunRoute {
		want = http.StatusCreated
	}
	conn, br, err := c.hijack(route, params, body, want)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(br)
	var first garden.ProcessPayload
	if err := dec.Decode(&first); err != nil {
		conn.Close()
		return nil, fmt.Errorf("garden %s: reading process id: %w", route, err)
	}
	if first.ProcessID == "" || first.StreamID == "" {
		conn.Close()
		return nil, fmt.Errorf("garden %s: first payload without process_id and stream_id: %w", route, errUnexpected)
	}

	p := &process{
		id:     first.ProcessID,
		conn:   conn,
		exited: make(chan struct{}),
	}

	// Both output streams are attached before anything else happens, so
	// none of the output can be missed.
	handle := params["handle"]
	outputs := []struct {
		route string
		w     io.Writer
	}{{garden.StdoutRoute, pio.Stdout}, {garden.StderrRoute, pio.Stderr}}
	var streams []*outputStream
	for _, o := range outputs {
		sp := routes.Params{"handle": handle, "pid": p.id, "streamid": first.StreamID}
		sconn, sbr, err := c.hijack(o.route, sp, nil, http.StatusOK)
		if err != nil {
			conn.Close()
			for _, s := range streams {
				s.conn.Close()
			}
			return nil, fmt.Errorf("attaching to process %s output: %w", p.id, err)
		}
		streams = append(streams, &outputStream{conn: sconn, r: sbr, w: o.w, done: make(chan struct{})})
	}
	p.stdout, p.stderr = streams[0], streams[1]
	go p.stdout.copy()
	go p.stderr.copy()

	go p.readExit(dec)
	go p.sendStdin(pio.Stdin)
	return p, nil
}

// process is a garden.Process on the other end of a process connection.
type process struct {
	id   string
	conn net.Conn

	writeMu sync.Mutex // payloads from stdin, Signal and SetTTY

	stdout, stderr *outputStream

	exited     chan struct{} // closed once the final payload (or the end) came
	exitStatus int
	exitErr    error
}

func (p *process) ID() string { return p.id }

// Wait returns the exit status once the server has sent it and both output
// streams have reached their end, so all output has been written by then.
func (p *process) Wait() (int, error) {
	<-p.exited
	<-p.stdout.done
	<-p.stderr.done
	if p.exitErr != nil {
		return 0, p.exitErr
	}
	if err := p.stdout.err; err != nil {
		return 0, fmt.Errorf("reading process %s stdout: %w", p.id, err)
	}
	if err := p.stderr.err; err != nil {
		return 0, fmt.Errorf("reading process %s stderr: %w", p.id, err)
	}
	return p.exitStatus, nil
}

func (p *process) Signal(sig garden.Signal) error {
	return p.send(garden.ProcessPayload{ProcessID: p.id, Signal: &sig})
}

func (p *process) SetTTY(tty garden.TTYSpec) error {
	return p.send(garden.ProcessPayload{ProcessID: p.id, TTY: &tty})
}

func (p *process) send(payload garden.ProcessPayload) error {
	data, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	if _, err := p.conn.Write(data); err != nil {
		return fmt.Errorf("process %s: %w", p.id, err)
	}
	return nil
}

// readExit waits for the final payload, then closes the connection.
func (p *process) readExit(dec *json.Decoder) {
	defer close(p.exited)
	defer p.conn.Close()
	for {
		var payload garden.ProcessPayload
		if err := dec.Decode(&payload); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			p.exitErr = fmt.Errorf("process %s: connection ended before its exit status: %w", p.id, err)
			return
		}
		switch {
		case payload.Error != nil:
			p.exitErr = fmt.Errorf("process %s: %s", p.id, *payload.Error)
			return
		case payload.ExitStatus != nil:
			p.exitStatus = *payload.ExitStatus
			return
		}
	}
}

// sendStdin copies stdin into data payloads, then sends the EOF payload.
// A nil stdin is closed at once. stdin travels as JSON strings, so it is
// text: chunks are cut on UTF-8 boundaries, and invalid UTF-8 becomes
// U+FFFD (spec cell §2.6).
func (p *process) sendStdin(stdin io.Reader) {
	source := garden.ProcessStreamStdin
	if stdin != nil {
		buf := make([]byte, stdinChunk)
		var pending []byte // an incomplete rune carried to the next chunk
		for {
			n, err := stdin.Read(buf)
			if n > 0 {
				chunk := append(pending, buf[:n]...)
				pending = nil
				if err == nil {
					cut := completeRunes(chunk)
					pending = bytes.Clone(chunk[cut:])
					chunk = chunk[:cut]
				}
				if len(chunk) > 0 {
					data := string(chunk)
					if p.send(garden.ProcessPayload{ProcessID: p.id, Source: &source, Data: &data}) != nil {
						return
					}
				}
			}
			if err != nil {
				break
			}
		}
		if len(pending) > 0 {
			data := string(pending)
			if p.send(garden.ProcessPayload{ProcessID: p.id, Source: &source, Data: &data}) != nil {
				return
			}
		}
	}
	_ = p.send(garden.ProcessPayload{ProcessID: p.id, Source: &source})
}

// completeRunes is the length of b's prefix that ends on a rune boundary:
// a trailing rune cut short stays for the next chunk.
func completeRunes(b []byte) int {
	// A rune is at most utf8.UTFMax bytes: only the last few can be a
	// partial one.
	for i := 1; i < utf8.UTFMax && i <= len(b); i++ {
		c := b[len(b)-i]
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return len(b) - i
			}
			return len(b)
		}
	}
	return len(b)
}

// outputStream copies one attach connection's raw bytes to the caller's
// writer until the server closes it. A writer that fails is given up on,
// but the stream is still read to its end.
type outputStream struct {
	conn net.Conn
	r    io.Reader
	w    io.Writer
	done chan struct{}
	err  error // reading the connection failed: output was lost
}

func (s *outputStream) copy() {
	defer close(s.done)
	defer s.conn.Close()
	w := s.w
	if w == nil {
		w = io.Discard
	}
	buf := make([]byte, 32*1024)
	for {
		n, err := s.r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				w = io.Discard
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.err = err
			}
			return
		}
	}
}
