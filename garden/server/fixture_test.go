package server_test

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/garden"
	"diego/garden/gardenfakes"
	"diego/garden/server"
)

// The fixture every spec shares: a server over a fake backend holding one
// container "h1", served over real HTTP.
var (
	backend   *gardenfakes.FakeBackend
	container *gardenfakes.FakeContainer
	fakeClock *fakeclock.FakeClock
	srv       *server.Server
	httpSrv   *httptest.Server
	// serverLogs has the server's log lines (they go to GinkgoWriter too).
	serverLogs *gbytes.Buffer
)

var _ = BeforeEach(func() {
	backend = new(gardenfakes.FakeBackend)
	container = new(gardenfakes.FakeContainer)
	container.HandleReturns("h1")
	backend.LookupStub = func(handle string) (garden.Container, error) {
		if handle == "h1" {
			return container, nil
		}
		return nil, garden.ContainerNotFoundError{Handle: handle}
	}
	fakeClock = fakeclock.NewFakeClock(time.Date(2015, 6, 1, 12, 0, 0, 0, time.UTC))

	serverLogs = gbytes.NewBuffer()
	srv = server.New(server.Deps{Logger: logging.New(io.MultiWriter(GinkgoWriter, serverLogs), slog.LevelDebug, "garden"), Clock: fakeClock,
		Backend: backend})
	Expect(srv.Start()).To(Succeed())
	httpSrv = httptest.NewServer(srv)
	DeferCleanup(func() {
		srv.Stop()
		httpSrv.Close()
	})
})

// call sends a request and returns the response with its body read.
func call(method, path string, body io.Reader) (*http.Response, string) {
	req, err := http.NewRequest(method, httpSrv.URL+path, body)
	Expect(err).NotTo(HaveOccurred())
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return resp, string(data)
}

// expectJSON checks a JSON answer's status, content type and body.
func expectJSON(method, path, body string, status int, want string) {
	GinkgoHelper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	resp, got := call(method, path, r)
	Expect(resp.StatusCode).To(Equal(status), got)
	Expect(resp.Header.Get("Content-Type")).To(Equal("application/json"))
	Expect(got).To(MatchJSON(want))
}

// notFound is the exact error body for an unknown handle.
func notFound(handle string) string {
	return `{"Type":"ContainerNotFoundError","Message":"unknown handle: ` + handle +
		`","Handle":"` + handle + `","ProcessID":"","Binary":""}`
}

// rawConn is a client connection that speaks the protocol by hand.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

// dialRaw opens a connection and sends a request written by hand.
func dialRaw(method, path, body string) *rawConn {
	GinkgoHelper()
	conn, err := net.Dial("tcp", httpSrv.Listener.Addr().String())
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = conn.Close() })
	req := method + " " + path + " HTTP/1.1\r\nHost: garden\r\n"
	if body != "" {
		req += "Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
	}
	req += "\r\n" + body
	_, err = conn.Write([]byte(req))
	Expect(err).NotTo(HaveOccurred())
	return &rawConn{Conn: conn, r: bufio.NewReader(conn)}
}

// head reads the status line and the headers.
func (c *rawConn) head() (string, http.Header) {
	GinkgoHelper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := c.r.ReadString('\n')
	Expect(err).NotTo(HaveOccurred())
	header := http.Header{}
	for {
		line, err := c.r.ReadString('\n')
		Expect(err).NotTo(HaveOccurred())
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, ":")
		header.Add(k, strings.TrimSpace(v))
	}
	// Date changes from reply to reply; it must be there, and is then
	// left out so that header blocks compare whole.
	Expect(header).To(HaveKey("Date"))
	header.Del("Date")
	return strings.TrimRight(status, "\r\n"), header
}

// line reads one newline-terminated payload.
func (c *rawConn) line() string {
	GinkgoHelper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := c.r.ReadString('\n')
	Expect(err).NotTo(HaveOccurred())
	return l
}

// send writes one payload line.
func (c *rawConn) send(payload string) {
	GinkgoHelper()
	_, err := c.Write([]byte(payload + "\n"))
	Expect(err).NotTo(HaveOccurred())
}

// rest reads until the server closes the connection.
func (c *rawConn) rest() string {
	GinkgoHelper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	data, err := io.ReadAll(c.r)
	Expect(err).NotTo(HaveOccurred())
	return string(data)
}

// fakeProcess is a process whose exit the test decides.
type fakeProcess struct {
	*gardenfakes.FakeProcess
	exit chan exitResult
}

type exitResult struct {
	code int
	err  error
}

func newFakeProcess(id string) *fakeProcess {
	p := &fakeProcess{FakeProcess: new(gardenfakes.FakeProcess), exit: make(chan exitResult, 1)}
	p.IDReturns(id)
	var once sync.Once
	var result exitResult
	p.WaitStub = func() (int, error) {
		once.Do(func() { result = <-p.exit })
		return result.code, result.err
	}
	return p
}

func (p *fakeProcess) Exit(code int)  { p.exit <- exitResult{code: code} }
func (p *fakeProcess) Fail(err error) { p.exit <- exitResult{err: err} }

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
