package client_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing/iotest"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/garden"
	"diego/garden/client"
	"diego/garden/gardenfakes"
)

// scripted is a backend process the test drives: what it writes and when
// it exits. Like a real backend's, its Wait returns only after its output
// has been written to every attached ProcessIO.
type scripted struct {
	*gardenfakes.FakeProcess
	actions chan func(garden.ProcessIO)

	mu    sync.Mutex
	ios   []garden.ProcessIO
	stdin chan string // everything read from each attachment's stdin

	done     chan struct{}
	code     int
	waitErr  error
	finished sync.Once
}

func newScripted(id string) *scripted {
	s := &scripted{
		FakeProcess: new(gardenfakes.FakeProcess),
		actions:     make(chan func(garden.ProcessIO)),
		stdin:       make(chan string, 4),
		done:        make(chan struct{}),
	}
	s.IDReturns(id)
	s.WaitStub = func() (int, error) {
		<-s.done
		return s.code, s.waitErr
	}
	go func() {
		for {
			select {
			case f := <-s.actions:
				s.mu.Lock()
				for _, pio := range s.ios {
					f(pio)
				}
				s.mu.Unlock()
			case <-s.done:
				return
			}
		}
	}()
	DeferCleanup(func() { s.finish(0, nil) })
	return s
}

// run is a container's RunStub (and AttachStub, through attach).
func (s *scripted) run(_ garden.ProcessSpec, pio garden.ProcessIO) (garden.Process, error) {
	s.mu.Lock()
	s.ios = append(s.ios, pio)
	s.mu.Unlock()
	go func() {
		data, _ := io.ReadAll(pio.Stdin)
		s.stdin <- string(data)
	}()
	return s, nil
}

func (s *scripted) attach(id string, pio garden.ProcessIO) (garden.Process, error) {
	if id != s.ID() {
		return nil, garden.ProcessNotFoundError{ProcessID: id}
	}
	return s.run(garden.ProcessSpec{}, pio)
}

// do runs f on every attachment's ProcessIO and returns when it is done.
func (s *scripted) do(f func(garden.ProcessIO)) {
	finished := make(chan struct{})
	var once sync.Once
	s.actions <- f
	s.actions <- func(garden.ProcessIO) { once.Do(func() { close(finished) }) }
	<-finished
}

func (s *scripted) stdout(text string) {
	s.do(func(pio garden.ProcessIO) { _, _ = io.WriteString(pio.Stdout, text) })
}

func (s *scripted) stderr(text string) {
	s.do(func(pio garden.ProcessIO) { _, _ = io.WriteString(pio.Stderr, text) })
}

func (s *scripted) exitWith(code int) { s.finish(code, nil) }

func (s *scripted) finish(code int, err error) {
	s.finished.Do(func() {
		s.code, s.waitErr = code, err
		close(s.done)
	})
}

// safeBuffer is a bytes.Buffer for concurrent writer and reader.
type safeBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ = Describe("Processes", func() {
	var (
		proc *scripted
		ctr  garden.Container
	)

	BeforeEach(func() {
		proc = newScripted("p1")
		fakeCtr.RunStub = proc.run
		fakeCtr.AttachStub = proc.attach
		backend.ContainersReturns([]garden.Container{fakeCtr}, nil)
		var err error
		ctr, err = c.Lookup("h1")
		Expect(err).NotTo(HaveOccurred())
	})

	Describe("Run", func() {
		It("sends the spec, relays stdin, stdout and stderr, and returns the exit status", func() {
			stdout, stderr := new(safeBuffer), new(safeBuffer)
			spec := garden.ProcessSpec{ID: "p1", Path: "/bin/cat", Args: []string{"-"}, Env: []string{"A=1"}, Dir: "/tmp",
				User: "vcap", TTY: &garden.TTYSpec{WindowSize: &garden.WindowSize{Columns: 80, Rows: 24}}}
			p, err := ctr.Run(spec, garden.ProcessIO{
				Stdin: strings.NewReader("some input"), Stdout: stdout, Stderr: stderr,
			})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.ID()).To(Equal("p1"))
			got, _ := fakeCtr.RunArgsForCall(0)
			Expect(got).To(Equal(spec))

			Eventually(proc.stdin).Should(Receive(Equal("some input")))
			proc.stdout("out")
			proc.stderr("err")
			proc.exitWith(7)
			Expect(p.Wait()).To(Equal(7))
			Expect(stdout.String()).To(Equal("out"))
			Expect(stderr.String()).To(Equal("err"))
		})

		It("has all the output written before Wait returns", func() {
			stdout := new(safeBuffer)
			p, err := ctr.Run(garden.ProcessSpec{Path: "yes"}, garden.ProcessIO{Stdout: stdout})
			Expect(err).NotTo(HaveOccurred())
			line := strings.Repeat("y", 1023) + "\n"
			proc.do(func(pio garden.ProcessIO) {
				for range 2000 {
					_, _ = io.WriteString(pio.Stdout, line)
				}
			})
			proc.exitWith(0)
			Expect(p.Wait()).To(Equal(0))
			Expect(stdout.String()).To(HaveLen(2000 * 1024))
		})

		It("closes a nil stdin at once and discards nil writers", func() {
			p, err := ctr.Run(garden.ProcessSpec{Path: "true"}, garden.ProcessIO{})
			Expect(err).NotTo(HaveOccurred())
			Eventually(proc.stdin).Should(Receive(Equal("")))
			proc.stdout("nobody reads this")
			proc.exitWith(0)
			Expect(p.Wait()).To(Equal(0))
		})

		It("keeps UTF-8 intact however stdin is chunked", func() {
			input := "héllo wörld ✓ 𝄞\n"
			p, err := ctr.Run(garden.ProcessSpec{Path: "cat"}, garden.ProcessIO{
				Stdin: iotest.OneByteReader(strings.NewReader(input)),
			})
			Expect(err).NotTo(HaveOccurred())
			Eventually(proc.stdin).Should(Receive(Equal(input)))
			proc.exitWith(0)
			Expect(p.Wait()).To(Equal(0))
		})

		It("delivers signals and tty changes to the process", func() {
			stdinR, stdinW := io.Pipe()
			defer stdinW.Close()
			p, err := ctr.Run(garden.ProcessSpec{Path: "sleep"}, garden.ProcessIO{Stdin: stdinR})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Signal(garden.SignalTerminate)).To(Succeed())
			Expect(p.Signal(garden.SignalKill)).To(Succeed())
			Expect(p.SetTTY(garden.TTYSpec{WindowSize: &garden.WindowSize{Columns: 100, Rows: 50}})).To(Succeed())
			Eventually(proc.SignalCallCount).Should(Equal(2))
			Expect(proc.SignalArgsForCall(0)).To(Equal(garden.SignalTerminate))
			Expect(proc.SignalArgsForCall(1)).To(Equal(garden.SignalKill))
			Eventually(proc.SetTTYCallCount).Should(Equal(1))
			Expect(proc.SetTTYArgsForCall(0)).To(Equal(garden.TTYSpec{WindowSize: &garden.WindowSize{Columns: 100, Rows: 50}}))

			proc.exitWith(137)
			Expect(p.Wait()).To(Equal(137))
			Expect(p.Signal(garden.SignalKill)).NotTo(Succeed())
		})

		It("returns the server's wait error from Wait", func() {
			p, err := ctr.Run(garden.ProcessSpec{Path: "x"}, garden.ProcessIO{})
			Expect(err).NotTo(HaveOccurred())
			proc.finish(0, errors.New("lost track of the process"))
			_, err = p.Wait()
			Expect(err).To(MatchError(ContainSubstring("lost track of the process")))
		})

		It("returns a typed spawn failure", func() {
			fakeCtr.RunStub = nil
			fakeCtr.RunReturns(nil, garden.ExecutableNotFoundError{Message: "exec: nope: not found"})
			_, err := ctr.Run(garden.ProcessSpec{Path: "nope"}, garden.ProcessIO{})
			Expect(err).To(Equal(garden.ExecutableNotFoundError{Message: "exec: nope: not found"}))
		})

		It("fails Wait when the server goes away before the exit status", func() {
			p, err := ctr.Run(garden.ProcessSpec{Path: "sleep"}, garden.ProcessIO{})
			Expect(err).NotTo(HaveOccurred())
			srv.Stop()
			done := make(chan error, 1)
			go func() {
				_, err := p.Wait()
				done <- err
			}()
			Eventually(done, 5*time.Second).Should(Receive(MatchError(ContainSubstring("before its exit status"))))
			Expect(proc.SignalCallCount()).To(BeZero())
		})
	})

	Describe("a reply marked Connection: close", func() {
		// closingServer serves the real server, except that the reply to
		// the routes whose path ends in suffix gets the header block garden
		// once sent: Connection: close and no framing.
		closingServer := func(suffix string) *client.Client {
			front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasSuffix(r.URL.Path, suffix) {
					srv.ServeHTTP(w, r)
					return
				}
				conn, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					return
				}
				defer conn.Close()
				status := "200 OK"
				if r.Method == http.MethodPost {
					status = "201 Created"
				}
				_, _ = io.WriteString(conn, "HTTP/1.1 "+status+"\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"+
					`{"process_id":"p1","stream_id":"1"}`+"\n")
			}))
			DeferCleanup(front.Close)
			return client.New("tcp", front.Listener.Addr().String())
		}

		It("fails Run, as Diego's Garden client does", func() {
			ctr, err := closingServer("/processes").Lookup("h1")
			Expect(err).NotTo(HaveOccurred())
			_, err = ctr.Run(garden.ProcessSpec{Path: "echo"}, garden.ProcessIO{})
			Expect(err).To(MatchError(ContainSubstring("persistent connection closed")))
		})

		It("fails Attach", func() {
			ctr, err := closingServer("/processes/p1").Lookup("h1")
			Expect(err).NotTo(HaveOccurred())
			_, err = ctr.Attach("p1", garden.ProcessIO{})
			Expect(err).To(MatchError(ContainSubstring("persistent connection closed")))
		})

		It("fails the stdout attach", func() {
			ctr, err := closingServer("/stdout").Lookup("h1")
			Expect(err).NotTo(HaveOccurred())
			_, err = ctr.Run(garden.ProcessSpec{Path: "echo"}, garden.ProcessIO{})
			Expect(err).To(MatchError(ContainSubstring("persistent connection closed")))
		})
	})

	Describe("Attach", func() {
		It("reattaches to a running process with its own output", func() {
			first, err := ctr.Run(garden.ProcessSpec{Path: "server"}, garden.ProcessIO{})
			Expect(err).NotTo(HaveOccurred())

			stdout := new(safeBuffer)
			again, err := ctr.Attach("p1", garden.ProcessIO{Stdout: stdout})
			Expect(err).NotTo(HaveOccurred())
			Expect(again.ID()).To(Equal("p1"))
			id, _ := fakeCtr.AttachArgsForCall(0)
			Expect(id).To(Equal("p1"))

			proc.stdout("for both")
			proc.exitWith(2)
			Expect(again.Wait()).To(Equal(2))
			Expect(first.Wait()).To(Equal(2))
			Expect(stdout.String()).To(Equal("for both"))
		})

		It("returns ProcessNotFoundError for an unknown process", func() {
			_, err := ctr.Attach("p9", garden.ProcessIO{})
			var pnf garden.ProcessNotFoundError
			Expect(errors.As(err, &pnf)).To(BeTrue(), "%v", err)
			Expect(err).To(Equal(garden.ProcessNotFoundError{ProcessID: "p9"}))
		})
	})
})
