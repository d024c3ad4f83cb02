package server_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"diego/garden"
)

var _ = Describe("Process protocol", func() {
	var (
		process *fakeProcess
		pio     chan garden.ProcessIO
	)

	BeforeEach(func() {
		process = newFakeProcess("p1")
		pio = make(chan garden.ProcessIO, 2)
		container.RunStub = func(spec garden.ProcessSpec, io garden.ProcessIO) (garden.Process, error) {
			pio <- io
			return process, nil
		}
		container.AttachStub = func(id string, io garden.ProcessIO) (garden.Process, error) {
			if id != "p1" {
				return nil, garden.ProcessNotFoundError{ProcessID: id}
			}
			pio <- io
			return process, nil
		}
		DeferCleanup(func() {
			select {
			case process.exit <- exitResult{}:
			default:
			}
		})
	})

	// run starts a process and reads the head and the first payload.
	run := func() (*rawConn, garden.ProcessIO) {
		GinkgoHelper()
		conn := dialRaw("POST", "/containers/h1/processes", `{"path":"/bin/sh","args":["-c","echo hi"],"user":"vcap"}`)
		status, header := conn.head()
		Expect(status).To(Equal("HTTP/1.1 201 Created"))
		Expect(header).To(Equal(referenceHead(201, "application/json")), "the reply's headers")
		Expect(conn.line()).To(MatchJSON(`{"process_id":"p1","stream_id":"1"}`))
		var io garden.ProcessIO
		Eventually(pio).Should(Receive(&io))
		return conn, io
	}

	// output attaches to a stream's stdout or stderr and checks the head.
	output := func(pid, streamID, which string) *rawConn {
		GinkgoHelper()
		conn := dialRaw("GET", "/containers/h1/processes/"+pid+"/attaches/"+streamID+"/"+which, "")
		status, header := conn.head()
		Expect(status).To(Equal("HTTP/1.1 200 OK"))
		Expect(header).To(Equal(referenceHead(200, "")), "the reply's headers")
		return conn
	}

	Describe("Run", func() {
		It("answers 201, sends process_id and stream_id, and ends with exit_status", func() {
			conn, _ := run()
			spec, _ := container.RunArgsForCall(0)
			Expect(spec).To(Equal(garden.ProcessSpec{
				Path: "/bin/sh", Args: []string{"-c", "echo hi"}, User: "vcap",
			}))

			process.Exit(42)
			Expect(conn.line()).To(MatchJSON(`{"process_id":"p1","exit_status":42}`))
			Expect(conn.rest()).To(BeEmpty())
		})

		It("logs the process under garden_process_id, a key apart from an LRP's process_guid", func() {
			conn, _ := run()
			Eventually(serverLogs).Should(gbytes.Say(`"msg":"started".*"garden_process_id":"p1","stream_id":"1"`))
			process.Exit(0)
			Expect(conn.line()).To(MatchJSON(`{"process_id":"p1","exit_status":0}`))
			Expect(string(serverLogs.Contents())).NotTo(ContainSubstring(`"process_id"`))
		})

		It("sends the wait error as the final payload", func() {
			conn, _ := run()
			process.Fail(errors.New("lost the process"))
			Expect(conn.line()).To(MatchJSON(`{"process_id":"p1","error":"lost the process"}`))
			Expect(conn.rest()).To(BeEmpty())
		})

		It("numbers streams server-wide", func() {
			conn, _ := run()
			process.Exit(0)
			conn.rest()

			second := dialRaw("POST", "/containers/h1/processes", `{"path":"true"}`)
			second.head()
			Expect(second.line()).To(MatchJSON(`{"process_id":"p1","stream_id":"2"}`))
		})

		It("is read by net/http/httputil's persistent-connection client, as Diego's Garden client reads it", func() {
			conn, err := net.Dial("tcp", httpSrv.Listener.Addr().String())
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(conn.Close)
			req, err := http.NewRequest("POST", "http://garden/containers/h1/processes", strings.NewReader(`{"path":"true"}`))
			Expect(err).NotTo(HaveOccurred())
			req.Header.Set("Content-Type", "application/json")
			cc := httputil.NewClientConn(conn, nil) // deprecated, and what Diego's client reads with
			resp, err := cc.Do(req)
			Expect(err).NotTo(HaveOccurred(), "httputil.ErrPersistEOF is 'persistent connection closed'")
			Expect(resp.StatusCode).To(Equal(201))
			_, br := cc.Hijack()
			line, err := br.ReadString('\n')
			Expect(err).NotTo(HaveOccurred())
			Expect(line).To(MatchJSON(`{"process_id":"p1","stream_id":"1"}`))
			process.Exit(0)
		})

		It("answers a spawn failure as error JSON, without hijacking", func() {
			container.RunStub = nil
			container.RunReturns(nil, garden.ExecutableNotFoundError{Message: "exec: nope: not found"})
			expectJSON("POST", "/containers/h1/processes", `{"path":"nope"}`, 500,
				`{"Type":"ExecutableNotFoundError","Message":"exec: nope: not found","Handle":"","ProcessID":"","Binary":""}`)
		})

		It("answers 404 for an unknown container", func() {
			expectJSON("POST", "/containers/nope/processes", `{"path":"true"}`, 404, notFound("nope"))
		})

		It("answers 500 for a malformed spec", func() {
			resp, _ := call("POST", "/containers/h1/processes", strings.NewReader(`{"path":`))
			Expect(resp.StatusCode).To(Equal(500))
			Expect(container.RunCallCount()).To(Equal(0))
		})
	})

	Describe("output", func() {
		It("streams stdout and stderr raw and closes once the process has exited and the buffer is drained", func() {
			conn, io := run()
			stdout := output("p1", "1", "stdout")
			stderr := output("p1", "1", "stderr")

			fmt.Fprint(io.Stdout, "hello ")
			fmt.Fprint(io.Stderr, "oops")
			buf := make([]byte, 6)
			_, err := readFull(stdout, buf)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(buf)).To(Equal("hello "))

			fmt.Fprint(io.Stdout, "world")
			process.Exit(0)
			Expect(stdout.rest()).To(Equal("world"))
			Expect(stderr.rest()).To(Equal("oops"))
			Expect(conn.line()).To(MatchJSON(`{"process_id":"p1","exit_status":0}`))
		})

		It("keeps the output of an exited process for a late attach, for one minute", func() {
			conn, io := run()
			for i := range 3 {
				fmt.Fprintf(io.Stdout, "line %d\n", i)
			}
			process.Exit(0)
			conn.line()

			Expect(output("p1", "1", "stdout").rest()).To(Equal("line 0\nline 1\nline 2\n"))
			Expect(output("p1", "1", "stderr").rest()).To(BeEmpty())

			Eventually(fakeClock.WatcherCount).Should(Equal(1))
			fakeClock.Increment(59 * time.Second)
			Expect(output("p1", "1", "stdout").rest()).To(BeEmpty())

			fakeClock.Increment(time.Second)
			Eventually(func() (int, error) {
				resp, err := http.Get(httpSrv.URL + "/containers/h1/processes/p1/attaches/1/stdout")
				if err != nil {
					return 0, err
				}
				resp.Body.Close()
				return resp.StatusCode, nil
			}).Should(Equal(404))
		})

		It("answers with net/http's own flush-then-hijack header block, never Connection: close", func() {
			_, io := run()
			fmt.Fprint(io.Stderr, "plain")
			process.Exit(0)
			conn := dialRaw("GET", "/containers/h1/processes/p1/attaches/1/stderr", "")
			status, header := conn.head()
			Expect(status).To(Equal("HTTP/1.1 200 OK"))
			Expect(header).To(Equal(referenceHead(200, "")), "the reply's headers")
			Expect(conn.rest()).To(Equal("plain"))
		})

		It("answers 404 ProcessNotFoundError for an unknown stream or a process that does not own it", func() {
			run()
			expectJSON("GET", "/containers/h1/processes/p1/attaches/99/stdout", "", 404,
				`{"Type":"ProcessNotFoundError","Message":"unknown process: p1","Handle":"","ProcessID":"p1","Binary":""}`)
			expectJSON("GET", "/containers/h1/processes/p2/attaches/1/stderr", "", 404,
				`{"Type":"ProcessNotFoundError","Message":"unknown process: p2","Handle":"","ProcessID":"p2","Binary":""}`)
		})

		It("buffers 4000 chunks, then holds the writer until a client drains them", func() {
			_, io := run()
			var written atomic.Int32
			go func() {
				for range 4001 {
					io.Stdout.Write([]byte("x"))
					written.Add(1)
				}
			}()
			Eventually(written.Load).Should(BeEquivalentTo(4000))
			Consistently(written.Load, 100*time.Millisecond).Should(BeEquivalentTo(4000))

			stdout := output("p1", "1", "stdout")
			Eventually(written.Load).Should(BeEquivalentTo(4001))
			process.Exit(0)
			Expect(stdout.rest()).To(HaveLen(4001))
		})
	})

	It("never blocks a process on output once its client has gone, keeping what fits for a late reader", func() {
		conn, io := run()
		conn.Close()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range 5000 {
				io.Stdout.Write([]byte("x"))
			}
		}()
		Eventually(done).Should(BeClosed())
		process.Exit(0)
		Expect(output("p1", "1", "stdout").rest()).To(HaveLen(4000))
	})

	Describe("client payloads", func() {
		It("relays stdin data and EOF", func() {
			conn, io := run()
			conn.send(`{"process_id":"p1","source":0,"data":"hello\n"}`)
			conn.send(`{"process_id":"p1","source":0,"data":"wörld"}`)
			conn.send(`{"process_id":"p1","source":0}`)
			Expect(readAll(io.Stdin)).To(Equal("hello\nwörld"))
		})

		It("sends signal 0 as terminate and 1 as kill", func() {
			conn, _ := run()
			conn.send(`{"process_id":"p1","signal":0}`)
			conn.send(`{"process_id":"p1","signal":1}`)
			Eventually(process.SignalCallCount).Should(Equal(2))
			Expect(process.SignalArgsForCall(0)).To(Equal(garden.SignalTerminate))
			Expect(process.SignalArgsForCall(1)).To(Equal(garden.SignalKill))
		})

		It("closes stdin for any other signal", func() {
			conn, io := run()
			conn.send(`{"process_id":"p1","source":0,"data":"before"}`)
			conn.send(`{"process_id":"p1","signal":7}`)
			Expect(readAll(io.Stdin)).To(Equal("before"))
			Expect(process.SignalCallCount()).To(BeZero())
		})

		It("resizes the tty", func() {
			conn, _ := run()
			conn.send(`{"process_id":"p1","tty":{"window_size":{"columns":80,"rows":24}}}`)
			Eventually(process.SetTTYCallCount).Should(Equal(1))
			Expect(process.SetTTYArgsForCall(0)).To(Equal(garden.TTYSpec{WindowSize: &garden.WindowSize{Columns: 80, Rows: 24}}))
		})

		It("closes stdin with an error when the connection drops", func() {
			conn, io := run()
			conn.send(`{"process_id":"p1","source":0,"data":"partial"}`)
			conn.Close()
			data, err := ioReadAll(io.Stdin)
			Expect(string(data)).To(Equal("partial"))
			Expect(err).To(HaveOccurred())
		})

		It("does not hold signals behind (a queue of) stdin the process does not read", func() {
			conn, _ := run()
			big := strings.Repeat("x", 1000)
			for range 60 {
				conn.send(`{"process_id":"p1","source":0,"data":"` + big + `"}`)
			}
			conn.send(`{"process_id":"p1","signal":1}`)
			Eventually(process.SignalCallCount).Should(Equal(1))
		})
	})

	Describe("Attach", func() {
		It("answers 200 with a new stream id and the same protocol", func() {
			conn, _ := run()
			attached := dialRaw("GET", "/containers/h1/processes/p1", "")
			status, header := attached.head()
			Expect(status).To(Equal("HTTP/1.1 200 OK"))
			Expect(header).To(Equal(referenceHead(200, "application/json")), "the reply's headers")
			Expect(attached.line()).To(MatchJSON(`{"process_id":"p1","stream_id":"2"}`))
			Expect(container.AttachCallCount()).To(Equal(1))
			id, _ := container.AttachArgsForCall(0)
			Expect(id).To(Equal("p1"))

			var io garden.ProcessIO
			Eventually(pio).Should(Receive(&io))
			stdout := output("p1", "2", "stdout")
			fmt.Fprint(io.Stdout, "again")
			process.Exit(3)
			Expect(stdout.rest()).To(Equal("again"))
			Expect(attached.line()).To(MatchJSON(`{"process_id":"p1","exit_status":3}`))
			Expect(conn.line()).To(MatchJSON(`{"process_id":"p1","exit_status":3}`))
		})

		It("answers 404 ProcessNotFoundError for an unknown process, before any hijack", func() {
			expectJSON("GET", "/containers/h1/processes/p9", "", 404,
				`{"Type":"ProcessNotFoundError","Message":"unknown process: p9","Handle":"","ProcessID":"p9","Binary":""}`)
		})
	})

	Describe("stopping the server", func() {
		It("closes the process connections but leaves the process running", func() {
			conn, io := run()
			stdout := output("p1", "1", "stdout")
			srv.Stop()
			Expect(conn.rest()).To(BeEmpty())
			Expect(stdout.rest()).To(BeEmpty())
			Expect(process.SignalCallCount()).To(BeZero())

			_, err := ioReadAll(io.Stdin)
			Expect(err).To(HaveOccurred())
			// Output no longer blocks the process.
			for range 5000 {
				io.Stdout.Write([]byte("x"))
			}
		})
	})
})

// referenceHead is the header block Go's net/http writes for a handler
// that sets the status (and content type), flushes and hijacks, as Diego's
// garden server does, without its Date. head() strips Date from what it
// reads, after checking that it is there.
func referenceHead(status int, contentType string) http.Header {
	GinkgoHelper()
	ref := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer ref.Close()
	conn, err := net.Dial("tcp", ref.Listener.Addr().String())
	Expect(err).NotTo(HaveOccurred())
	defer conn.Close()
	_, err = conn.Write([]byte("GET / HTTP/1.1\r\nHost: garden\r\n\r\n"))
	Expect(err).NotTo(HaveOccurred())
	_, header := (&rawConn{Conn: conn, r: bufio.NewReader(conn)}).head()
	Expect(header).To(HaveKeyWithValue("Transfer-Encoding", []string{"chunked"}))
	Expect(header).NotTo(HaveKey("Connection"))
	return header
}

func readFull(c *rawConn, buf []byte) (int, error) {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	return io.ReadFull(c.r, buf)
}

func readAll(r io.Reader) string {
	GinkgoHelper()
	data, err := ioReadAll(r)
	Expect(err).NotTo(HaveOccurred())
	return string(data)
}

// ioReadAll reads r to its end or error, giving up after five seconds.
func ioReadAll(r io.Reader) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := io.ReadAll(r)
		done <- result{data, err}
	}()
	select {
	case res := <-done:
		return res.data, res.err
	case <-time.After(5 * time.Second):
		return nil, errors.New("timed out reading")
	}
}
