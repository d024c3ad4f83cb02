package transformer_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/executor"
	"diego/executor/depot/log_streamer"
	"diego/executor/depot/steps"
	"diego/executor/depot/steps/stepsfakes"
	"diego/executor/depot/transformer"
	"diego/garden"
	"diego/garden/gardenfakes"
	"diego/models"
)

type logLine struct {
	Message, Source string
	Err             bool
}

type recordingEmitter struct {
	mu    sync.Mutex
	lines []logLine
}

func (r *recordingEmitter) SendAppLog(_, msg, source, _ string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, logLine{msg, source, false})
}

func (r *recordingEmitter) SendAppErrorLog(_, msg, source, _ string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, logLine{msg, source, true})
}

func (r *recordingEmitter) Lines() []logLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]logLine(nil), r.lines...)
}

func (r *recordingEmitter) Messages() []string {
	var out []string
	for _, l := range r.Lines() {
		out = append(out, l.Message)
	}
	return out
}

// fakeGarden answers Run by path: /bin/app runs until signalled or told to
// exit, /bin/check exits at once with checkStatus (complaining on stderr
// when it fails), anything else exits 0 after printing its path.
type fakeGarden struct {
	*gardenfakes.FakeContainer

	mu          sync.Mutex
	specs       []garden.ProcessSpec
	appExit     chan int
	sidecarExit chan int
	checkStatus atomic.Int32
	appSignals  atomic.Int32
}

func newFakeGarden() *fakeGarden {
	g := &fakeGarden{FakeContainer: new(gardenfakes.FakeContainer), appExit: make(chan int, 1), sidecarExit: make(chan int, 1)}
	g.RunStub = g.run
	return g
}

func (g *fakeGarden) run(spec garden.ProcessSpec, pio garden.ProcessIO) (garden.Process, error) {
	g.mu.Lock()
	g.specs = append(g.specs, spec)
	g.mu.Unlock()
	p := new(gardenfakes.FakeProcess)
	switch spec.Path {
	case "/bin/app", "/bin/sidecar":
		shared, own := g.appExit, make(chan int, 1)
		if spec.Path == "/bin/sidecar" {
			shared = g.sidecarExit
		}
		p.SignalStub = func(garden.Signal) error {
			g.appSignals.Add(1)
			select {
			case own <- 143:
			default:
			}
			return nil
		}
		p.WaitStub = func() (int, error) {
			select {
			case status := <-own:
				return status, nil
			case status := <-shared:
				return status, nil
			}
		}
	case "/bin/check":
		status := int(g.checkStatus.Load())
		if status != 0 {
			fmt.Fprintf(pio.Stderr, "failed to make TCP connection to 10.254.0.2:8080: connection refused\n")
		}
		p.WaitReturns(status, nil)
	case "/bin/false":
		p.WaitReturns(1, nil)
	default:
		fmt.Fprintf(pio.Stdout, "ran %s\n", spec.Path)
		p.WaitReturns(0, nil)
	}
	return p, nil
}

func (g *fakeGarden) Paths() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, s := range g.specs {
		out = append(out, s.Path)
	}
	return out
}

func (g *fakeGarden) Spec(path string) garden.ProcessSpec {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, s := range g.specs {
		if s.Path == path {
			return s
		}
	}
	Fail("no process " + path)
	return garden.ProcessSpec{}
}

func runAction(path string) *models.Action {
	return models.WrapAction(&models.RunAction{Path: path, User: "vcap"})
}

type started struct {
	signals chan os.Signal
	ready   chan struct{}
	done    chan error
}

var _ = Describe("Transformer", func() {
	var (
		fakeClock  *fakeclock.FakeClock
		gc         *fakeGarden
		emitter    *recordingEmitter
		streamer   log_streamer.LogStreamer
		downloader *stepsfakes.FakeDownloader
		uploader   *stepsfakes.FakeUploader
		cfg        transformer.Config
		deps       transformer.Deps
		container  executor.Container
		logger     = slog.New(slog.DiscardHandler)
	)

	const unhealthy, healthy = 500 * time.Millisecond, 30 * time.Second

	BeforeEach(func() {
		fakeClock = fakeclock.NewFakeClock(time.Now())
		gc = newFakeGarden()
		emitter = &recordingEmitter{}
		streamer = log_streamer.New("log-guid", "APP", 0, emitter)
		downloader = new(stepsfakes.FakeDownloader)
		downloader.FetchReturns(io.NopCloser(strings.NewReader("tar")), 3, nil)
		uploader = new(stepsfakes.FakeUploader)
		cfg = transformer.Config{
			CellID:                      "cell-1",
			HealthyMonitoringInterval:   healthy,
			UnhealthyMonitoringInterval: unhealthy,
			TempDir:                     GinkgoT().TempDir(),
		}
		deps = transformer.Deps{Clock: fakeClock, Downloader: downloader, Uploader: uploader}
		container = executor.Container{
			Guid:       "guid-1",
			ExternalIP: "10.0.0.1",
			InternalIP: "10.254.0.2",
			RunInfo: executor.RunInfo{
				Action: runAction("/bin/app"),
				Ports:  []executor.PortMapping{{ContainerPort: 8080, HostPort: 61001}},
			},
		}
	})

	start := func() *started {
		r, err := transformer.New(cfg, deps).StepsRunner(logger, container, gc, streamer)
		Expect(err).NotTo(HaveOccurred())
		s := &started{signals: make(chan os.Signal, 1), ready: make(chan struct{}), done: make(chan error, 1)}
		go func() { s.done <- r.Run(s.signals, s.ready) }()
		return s
	}

	Describe("refusing what it cannot build", func() {
		DescribeTable("with an error wrapping StepsInvalid",
			func(change func()) {
				change()
				_, err := transformer.New(cfg, deps).StepsRunner(logger, container, gc, streamer)
				Expect(err).To(MatchError(executor.ErrStepsInvalid))
				Expect(err).To(MatchError(transformer.ErrInvalidAction))
			},
			Entry("no run action", func() { container.Action = nil }),
			Entry("an empty action", func() { container.Action = &models.Action{} }),
			Entry("two actions in one", func() {
				container.Action = &models.Action{RunAction: &models.RunAction{Path: "/a", User: "u"}, TryAction: &models.TryAction{Action: runAction("/b")}}
			}),
			Entry("an invalid run action", func() { container.Action = models.WrapAction(&models.RunAction{User: "vcap"}) }),
			Entry("an invalid setup", func() { container.Setup = models.WrapAction(&models.SerialAction{}) }),
			Entry("an invalid monitor", func() { container.Monitor = models.WrapAction(&models.TimeoutAction{Action: runAction("/bin/check")}) }),
		)
	})

	Context("with only a run action", func() {
		It("is ready once the process has started, and succeeds when it exits 0", func() {
			s := start()
			Eventually(s.ready).Should(BeClosed())
			gc.appExit <- 0
			Eventually(s.done).Should(Receive(BeNil()))
			Expect(emitter.Messages()).To(ContainElement("Exit status 0"))
		})

		It("logs the steps through the caller's logger, which already carries container_guid, adding none", func() {
			logs := gbytes.NewBuffer()
			caller := logging.New(logs, slog.LevelDebug, "executor").With("container_guid", container.Guid)
			r, err := transformer.New(cfg, deps).StepsRunner(caller, container, gc, streamer)
			Expect(err).NotTo(HaveOccurred())
			s := &started{signals: make(chan os.Signal, 1), ready: make(chan struct{}), done: make(chan error, 1)}
			go func() { s.done <- r.Run(s.signals, s.ready) }()
			Eventually(s.ready).Should(BeClosed())
			gc.appExit <- 0
			Eventually(s.done).Should(Receive(BeNil()))

			var runLines []string
			for _, line := range strings.Split(string(logs.Contents()), "\n") {
				if strings.Contains(line, `"msg":"run-step.`) {
					runLines = append(runLines, line)
				}
			}
			Expect(runLines).NotTo(BeEmpty())
			for _, line := range runLines {
				Expect(strings.Count(line, `"container_guid"`)).To(Equal(1), line)
				Expect(line).To(ContainSubstring(`"container_guid":"guid-1"`))
			}
		})

		It("gives the process the networking env and then the action env, the action's winning (decision 46)", func() {
			container.Action = models.WrapAction(&models.RunAction{Path: "/bin/app", User: "vcap",
				Env: []*models.EnvironmentVariable{{Name: "PORT", Value: "8080"}, {Name: "CF_INSTANCE_ADDR", Value: "mine"}}})
			s := start()
			Eventually(s.ready).Should(BeClosed())
			Expect(gc.Spec("/bin/app").Env).To(Equal([]string{
				"CF_INSTANCE_IP=10.0.0.1",
				"CF_INSTANCE_INTERNAL_IP=10.254.0.2",
				"CF_INSTANCE_PORT=61001",
				"CF_INSTANCE_ADDR=mine",
				`CF_INSTANCE_PORTS=[{"external":61001,"internal":8080}]`,
				"PORT=8080",
			}))
			gc.appExit <- 0
			Eventually(s.done).Should(Receive(BeNil()))
		})

		It("fails with the run step's message", func() {
			s := start()
			gc.appExit <- 2
			var err error
			Eventually(s.done).Should(Receive(&err))
			Expect(transformer.FailureReason(err)).To(Equal("Exited with status 2"))
			Expect(transformer.IsInterrupted(err)).To(BeFalse())
		})

		It("stops the process on a signal and reports an interrupt", func() {
			s := start()
			Eventually(s.ready).Should(BeClosed())
			s.signals <- os.Interrupt
			var err error
			Eventually(s.done).Should(Receive(&err))
			Expect(gc.appSignals.Load()).To(BeEquivalentTo(1))
			Expect(transformer.IsInterrupted(err)).To(BeTrue())
		})
	})

	Context("with a setup action", func() {
		BeforeEach(func() {
			container.Setup = models.WrapAction(&models.SerialAction{Actions: []*models.Action{
				models.WrapAction(&models.DownloadAction{From: "http://blob/droplet", To: "/home/vcap", User: "vcap", Artifact: "droplet"}),
				runAction("/bin/setup"),
			}})
		})

		It("runs setup first and is ready only once the action has started", func() {
			s := start()
			Eventually(s.ready).Should(BeClosed())
			Expect(gc.Paths()).To(Equal([]string{"/bin/setup", "/bin/app"}))
			Expect(gc.StreamInCallCount()).To(Equal(1))
			Expect(emitter.Messages()).To(ContainElements("Downloading droplet...", "Downloaded droplet (3B)", "ran /bin/setup"))
			gc.appExit <- 0
			Eventually(s.done).Should(Receive(BeNil()))
		})

		It("does not run the action when setup fails", func() {
			downloader.FetchReturns(nil, 0, errors.New("nope"))
			s := start()
			var err error
			Eventually(s.done).Should(Receive(&err))
			Expect(transformer.FailureReason(err)).To(Equal("Downloading droplet failed"))
			Expect(gc.Paths()).To(BeEmpty())
			Expect(s.ready).NotTo(BeClosed())
		})
	})

	Context("with a monitor", func() {
		BeforeEach(func() {
			gc.checkStatus.Store(4)
			container.Monitor = models.WrapAction(&models.RunAction{Path: "/bin/check", User: "vcap", LogSource: "HEALTH", SuppressLogOutput: true})
		})

		// tick advances the fake clock once the monitor waits on it.
		tick := func(d time.Duration) {
			Eventually(fakeClock.WatcherCount).Should(Equal(1))
			fakeClock.Increment(d)
		}

		It("is ready only when the first check passes", func() {
			s := start()
			tick(unhealthy)
			Eventually(gc.Paths).Should(ContainElement("/bin/check"))
			Consistently(s.ready, 20*time.Millisecond).ShouldNot(BeClosed())

			gc.checkStatus.Store(0)
			tick(unhealthy)
			Eventually(s.ready).Should(BeClosed())
			Expect(emitter.Lines()).To(ContainElements(
				logLine{"Starting health monitoring of container", "APP", false},
				logLine{"Container became healthy", "APP", false},
				// suppress_log_output is turned off for the check
				logLine{"failed to make TCP connection to 10.254.0.2:8080: connection refused", "HEALTH", true},
			))
			for _, l := range emitter.Lines() {
				Expect(l.Source == "HEALTH" && strings.HasPrefix(l.Message, "Exit status")).To(BeFalse(), "a check's exit status is not logged")
			}
			s.signals <- os.Interrupt
			Eventually(s.done).Should(Receive())
		})

		It("fails with the check's stderr when the instance becomes unhealthy, stopping the action", func() {
			gc.checkStatus.Store(0)
			s := start()
			tick(unhealthy)
			Eventually(s.ready).Should(BeClosed())
			gc.checkStatus.Store(4)
			tick(healthy)
			var err error
			Eventually(s.done).Should(Receive(&err))
			Expect(transformer.FailureReason(err)).To(Equal("Instance became unhealthy: failed to make TCP connection to 10.254.0.2:8080: connection refused"))
			Expect(gc.appSignals.Load()).To(BeEquivalentTo(1))
			Expect(emitter.Messages()).To(ContainElement("Container became unhealthy"))
		})

		It("fails when the instance is never healthy within start_timeout_ms", func() {
			container.StartTimeoutMs = 1000
			s := start()
			tick(unhealthy)
			tick(unhealthy)
			var err error
			Eventually(s.done).Should(Receive(&err))
			Expect(transformer.FailureReason(err)).To(Equal("Instance never healthy after 1s: failed to make TCP connection to 10.254.0.2:8080: connection refused"))
			Expect(emitter.Messages()).To(ContainElement("Failed after 1s: startup health check never passed."))
		})

		It("keeps the instance while the monitor passes when the action exits 0 (decision 44)", func() {
			gc.checkStatus.Store(0)
			s := start()
			tick(unhealthy)
			Eventually(s.ready).Should(BeClosed())
			gc.appExit <- 0
			Eventually(emitter.Messages).Should(ContainElement("Exit status 0"))
			tick(healthy)
			tick(healthy)
			Consistently(s.done, 50*time.Millisecond).ShouldNot(Receive())

			By("ending when the monitor then fails")
			gc.checkStatus.Store(4)
			tick(healthy)
			var err error
			Eventually(s.done).Should(Receive(&err))
			Expect(transformer.FailureReason(err)).To(Equal("Instance became unhealthy: failed to make TCP connection to 10.254.0.2:8080: connection refused"))
		})

		It("still ends when the action fails", func() {
			s := start()
			Eventually(gc.Paths).Should(ContainElement("/bin/app"))
			gc.appExit <- 3
			var err error
			Eventually(s.done).Should(Receive(&err))
			Expect(transformer.FailureReason(err)).To(Equal("Exited with status 3"))
			Expect(transformer.IsInterrupted(err)).To(BeFalse())
		})

		It("reports an interrupt when signalled", func() {
			s := start()
			Eventually(gc.Paths).Should(ContainElement("/bin/app"))
			s.signals <- os.Interrupt
			var err error
			Eventually(s.done).Should(Receive(&err))
			Expect(transformer.IsInterrupted(err)).To(BeTrue())
		})

		It("uses each member's output for a codependent monitor", func() {
			container.Monitor = models.WrapAction(&models.CodependentAction{Actions: []*models.Action{
				runAction("/bin/check"), runAction("/bin/app"),
			}})
			gc.checkStatus.Store(4)
			container.StartTimeoutMs = 500
			s := start()
			tick(unhealthy)
			var err error
			Eventually(s.done).Should(Receive(&err))
			Expect(transformer.FailureReason(err)).To(Equal("Instance never healthy after 500ms: failed to make TCP connection to 10.254.0.2:8080: connection refused"))
		})
	})

	Context("with sidecars (decision 47)", func() {
		BeforeEach(func() {
			container.Sidecars = []executor.Sidecar{{Action: runAction("/bin/sidecar"), MemoryMB: 16, DiskMB: 8}}
		})

		It("runs each sidecar beside the action, with the same networking env", func() {
			s := start()
			Eventually(s.ready).Should(BeClosed())
			Expect(gc.Paths()).To(ConsistOf("/bin/app", "/bin/sidecar"))
			Expect(gc.Spec("/bin/sidecar").Env).To(ContainElement("CF_INSTANCE_PORT=61001"))
			s.signals <- os.Interrupt
			Eventually(s.done).Should(Receive())
		})

		It("ends the instance with the sidecar's failure, stopping the action", func() {
			s := start()
			Eventually(s.ready).Should(BeClosed())
			gc.sidecarExit <- 1
			var err error
			Eventually(s.done).Should(Receive(&err))
			Expect(transformer.FailureReason(err)).To(Equal("Exited with status 1"))
			Expect(gc.appSignals.Load()).To(BeEquivalentTo(1))
		})

		It("ends the instance when the sidecar exits 0", func() {
			s := start()
			Eventually(s.ready).Should(BeClosed())
			gc.sidecarExit <- 0
			Eventually(s.done).Should(Receive(BeNil()))
			Expect(gc.appSignals.Load()).To(BeEquivalentTo(1))
		})

		It("refuses a sidecar without a valid action", func() {
			container.Sidecars = []executor.Sidecar{{}}
			_, err := transformer.New(cfg, deps).StepsRunner(logger, container, gc, streamer)
			Expect(err).To(MatchError(executor.ErrStepsInvalid))
			container.Sidecars = []executor.Sidecar{{Action: &models.Action{}}}
			_, err = transformer.New(cfg, deps).StepsRunner(logger, container, gc, streamer)
			Expect(err).To(MatchError(executor.ErrStepsInvalid))
		})
	})

	Context("with a check_definition (decision 45)", func() {
		var listener net.Listener
		var port uint32

		listen := func() {
			GinkgoHelper()
			var err error
			listener, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			Expect(err).NotTo(HaveOccurred())
			go func() {
				for {
					c, err := listener.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
		}

		BeforeEach(func() {
			// A free port, closed again: the check finds nothing there yet.
			l, err := net.Listen("tcp", "127.0.0.1:0")
			Expect(err).NotTo(HaveOccurred())
			port = uint32(l.Addr().(*net.TCPAddr).Port)
			l.Close()
			container.InternalIP = "127.0.0.1"
			container.Monitor = models.WrapAction(&models.RunAction{Path: "/bin/check", User: "vcap"})
			container.CheckDefinition = &models.CheckDefinition{Checks: []*models.Check{
				{TcpCheck: &models.TCPCheck{Port: port, IntervalMs: 10000}},
			}}
		})

		AfterEach(func() {
			if listener != nil {
				listener.Close()
				listener = nil
			}
		})

		It("runs the checks in place of the monitor, ready once they pass, and crashes at the first liveness failure", func() {
			s := start()
			// The first check fails at once; the next waits an interval.
			Eventually(fakeClock.WatcherCount).Should(Equal(1))
			Consistently(s.ready, 20*time.Millisecond).ShouldNot(BeClosed())

			listen()
			Eventually(fakeClock.WatcherCount).Should(Equal(1))
			fakeClock.Increment(unhealthy)
			Eventually(s.ready).Should(BeClosed())
			Expect(emitter.Messages()).To(ContainElements("Starting health monitoring of container", "Container became healthy"))

			By("keeping the instance when the action exits 0 while the checks pass")
			gc.appExit <- 0
			Eventually(emitter.Messages).Should(ContainElement("Exit status 0"))
			Eventually(fakeClock.WatcherCount).Should(Equal(1))
			fakeClock.Increment(10 * time.Second)
			Consistently(s.done, 50*time.Millisecond).ShouldNot(Receive())

			listener.Close()
			Eventually(fakeClock.WatcherCount).Should(Equal(1))
			fakeClock.Increment(10 * time.Second)
			var err error
			Eventually(s.done).Should(Receive(&err))
			Expect(transformer.FailureReason(err)).To(HavePrefix(fmt.Sprintf("Instance became unhealthy: failed to make TCP connection to 127.0.0.1:%d", port)))
			Expect(emitter.Messages()).To(ContainElement("Container became unhealthy"))
			Expect(gc.Paths()).NotTo(ContainElement("/bin/check"), "the monitor action does not run")
		})

		It("fails when the checks never pass within start_timeout_ms", func() {
			container.StartTimeoutMs = 1000
			s := start()
			for range 2 {
				Eventually(fakeClock.WatcherCount).Should(Equal(1))
				fakeClock.Increment(unhealthy)
			}
			var err error
			Eventually(s.done).Should(Receive(&err))
			Expect(transformer.FailureReason(err)).To(HavePrefix(fmt.Sprintf("Instance never healthy after 1s: failed to make TCP connection to 127.0.0.1:%d", port)))
		})

		It("checks HTTP with the path (default /), passing only on 200, under the definition's log source", func() {
			var status atomic.Int32
			status.Store(503)
			var paths sync.Map
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				paths.Store(r.URL.Path, r.Header.Get("User-Agent"))
				w.WriteHeader(int(status.Load()))
			})}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			Expect(err).NotTo(HaveOccurred())
			go srv.Serve(l)
			DeferCleanup(srv.Close)
			httpPort := uint32(l.Addr().(*net.TCPAddr).Port)
			container.CheckDefinition = &models.CheckDefinition{LogSource: "HC", Checks: []*models.Check{
				{HttpCheck: &models.HTTPCheck{Port: httpPort, Path: "/health"}},
				{HttpCheck: &models.HTTPCheck{Port: httpPort}},
			}}
			container.StartTimeoutMs = 500
			s := start()
			Eventually(func() bool { _, ok := paths.Load("/health"); return ok }).Should(BeTrue())
			Eventually(fakeClock.WatcherCount).Should(Equal(1))
			fakeClock.Increment(unhealthy)
			Eventually(s.done).Should(Receive(&err))
			Expect(transformer.FailureReason(err)).To(MatchRegexp(
				`^Instance never healthy after 500ms: failed to make HTTP request to http://127.0.0.1:%d/(health)?: received status code 503 in \d+ms$`, httpPort))
			Expect(emitter.Lines()).To(ContainElement(WithTransform(func(l logLine) string { return l.Source }, Equal("HC"))))

			container.StartTimeoutMs = 0
			s = start()
			Eventually(fakeClock.WatcherCount).Should(Equal(1))
			status.Store(200)
			Eventually(fakeClock.WatcherCount).Should(Equal(1))
			fakeClock.Increment(unhealthy)
			Eventually(s.ready).Should(BeClosed())
			ua, ok := paths.Load("/health")
			Expect(ok).To(BeTrue())
			Expect(ua).To(Equal("diego-healthcheck"))
			_, ok = paths.Load("/")
			Expect(ok).To(BeTrue())
			s.signals <- os.Interrupt
			Eventually(s.done).Should(Receive())
		})

		It("reports readiness from the readiness checks, without gating the running state", func() {
			container.CheckDefinition = &models.CheckDefinition{ReadinessChecks: []*models.Check{
				{TcpCheck: &models.TCPCheck{Port: port, IntervalMs: 5000}},
			}}
			r, err := transformer.New(cfg, deps).StepsRunner(logger, container, gc, streamer)
			Expect(err).NotTo(HaveOccurred())
			reporter, ok := r.(transformer.ReadinessReporter)
			Expect(ok).To(BeTrue())
			s := &started{signals: make(chan os.Signal, 1), ready: make(chan struct{}), done: make(chan error, 1)}
			go func() { s.done <- r.Run(s.signals, s.ready) }()
			Eventually(s.ready).Should(BeClosed())
			Consistently(reporter.Readiness(), 20*time.Millisecond).ShouldNot(Receive())

			listen()
			Eventually(fakeClock.WatcherCount).Should(Equal(1))
			fakeClock.Increment(unhealthy)
			Eventually(reporter.Readiness()).Should(Receive(BeTrue()))

			listener.Close()
			Eventually(fakeClock.WatcherCount).Should(Equal(1))
			fakeClock.Increment(5 * time.Second)
			Eventually(reporter.Readiness()).Should(Receive(BeFalse()))
			Consistently(s.done, 20*time.Millisecond).ShouldNot(Receive())
			s.signals <- os.Interrupt
			Eventually(s.done).Should(Receive())
		})

		It("has no readiness channel without readiness checks", func() {
			r, err := transformer.New(cfg, deps).StepsRunner(logger, container, gc, streamer)
			Expect(err).NotTo(HaveOccurred())
			Expect(r.(transformer.ReadinessReporter).Readiness()).To(BeNil())
		})

		It("uses the monitor when the definition has no valid check", func() {
			container.CheckDefinition = &models.CheckDefinition{Checks: []*models.Check{{TcpCheck: &models.TCPCheck{}}}}
			gc.checkStatus.Store(0)
			s := start()
			Eventually(fakeClock.WatcherCount).Should(Equal(1))
			fakeClock.Increment(unhealthy)
			Eventually(s.ready).Should(BeClosed())
			Expect(gc.Paths()).To(ContainElement("/bin/check"))
			s.signals <- os.Interrupt
			Eventually(s.done).Should(Receive())
		})
	})

	Describe("every action kind", func() {
		It("builds and runs a tree of all of them", func() {
			var tarBuf bytes.Buffer
			tw := tar.NewWriter(&tarBuf)
			tw.WriteHeader(&tar.Header{Name: "result.json", Size: 2, Mode: 0o644})
			tw.Write([]byte("{}"))
			tw.Close()
			gc.StreamOutReturns(io.NopCloser(&tarBuf), nil)
			uploader.UploadReturns(2, nil)

			container.Action = models.WrapAction(&models.SerialAction{LogSource: "STG", Actions: []*models.Action{
				models.WrapAction(&models.DownloadAction{From: "http://blob/bp", To: "/tmp/bp", User: "vcap", Artifact: "bp"}),
				models.WrapAction(&models.EmitProgressAction{
					Action:       runAction("/bin/compile"),
					StartMessage: "Staging...", SuccessMessage: "Staging complete", FailureMessagePrefix: "Staging failed",
				}),
				models.WrapAction(&models.TryAction{Action: runAction("/bin/false")}),
				models.WrapAction(&models.ParallelAction{Actions: []*models.Action{runAction("/bin/p1"), runAction("/bin/p2")}}),
				models.WrapAction(&models.TimeoutAction{Action: runAction("/bin/quick"), TimeoutMs: 60000}),
				models.WrapAction(&models.TryAction{Action: models.WrapAction(&models.CodependentAction{Actions: []*models.Action{runAction("/bin/c1")}})}),
				models.WrapAction(&models.UploadAction{From: "/tmp/result.json", To: "http://cc/result", User: "vcap", Artifact: "result", LogSource: "UPLOAD"}),
			}})
			s := start()
			Eventually(s.done).Should(Receive(BeNil()))
			Expect(gc.Paths()[:2]).To(Equal([]string{"/bin/compile", "/bin/false"}), "in serial order")
			Expect(gc.Paths()).To(ConsistOf("/bin/compile", "/bin/false", "/bin/p1", "/bin/p2", "/bin/quick", "/bin/c1"))
			Expect(gc.StreamInCallCount()).To(Equal(1))
			Expect(uploader.UploadCallCount()).To(Equal(1))
			Expect(emitter.Lines()).To(ContainElements(
				logLine{"Downloading bp...", "STG", false},
				logLine{"Staging...", "STG", false},
				logLine{"ran /bin/compile", "STG", false},
				logLine{"Staging complete", "STG", false},
				logLine{"Exit status 1", "STG", false},
				logLine{"Uploaded result (2B)", "UPLOAD", false},
			))
		})

		It("uploads, logging under the action's own source", func() {
			gc.StreamOutReturns(io.NopCloser(bytes.NewReader(tarOf("result", "{}"))), nil)
			uploader.UploadReturns(2, nil)
			container.Action = models.WrapAction(&models.UploadAction{From: "/tmp/result", To: "http://cc/result", User: "vcap", Artifact: "result", LogSource: "UPLOAD"})
			s := start()
			Eventually(s.done).Should(Receive(BeNil()))
			Expect(emitter.Lines()).To(ContainElement(logLine{"Uploaded result (2B)", "UPLOAD", false}))
		})

		It("times out after timeout_ms", func() {
			container.Action = models.WrapAction(&models.TimeoutAction{Action: runAction("/bin/app"), TimeoutMs: 1000})
			s := start()
			Eventually(s.ready).Should(BeClosed())
			Eventually(fakeClock.WatcherCount).Should(Equal(1))
			fakeClock.Increment(time.Second)
			var err error
			Eventually(s.done).Should(Receive(&err))
			Expect(transformer.FailureReason(err)).To(Equal("exceeded 1s timeout"))
			Expect(gc.appSignals.Load()).To(BeEquivalentTo(1))
		})

		It("refuses a timeout with only the legacy nanoseconds (validation wants timeout_ms)", func() {
			container.Action = models.WrapAction(&models.TimeoutAction{Action: runAction("/bin/app"), DeprecatedTimeoutNs: int64(time.Second)})
			_, err := transformer.New(cfg, deps).StepsRunner(logger, container, gc, streamer)
			Expect(err).To(MatchError(executor.ErrStepsInvalid))
		})
	})

	Describe("failure reasons", func() {
		It("are empty for success", func() {
			Expect(transformer.FailureReason(nil)).To(BeEmpty())
		})

		It("keep short reasons whole", func() {
			reason := strings.Repeat("x", transformer.MaxFailureReasonLength)
			Expect(transformer.TruncateFailureReason(reason)).To(Equal(reason))
		})

		It("truncate long reasons to 10000 characters around a marker, keeping head and tail", func() {
			reason := "HEAD" + strings.Repeat("x", 20000) + "TAIL"
			got := transformer.TruncateFailureReason(reason)
			Expect(got).To(HaveLen(transformer.MaxFailureReasonLength))
			Expect(got).To(HavePrefix("HEADx"))
			Expect(got).To(HaveSuffix("xTAIL"))
			Expect(got).To(ContainSubstring("x\n... (truncated)\nx"))
		})

		It("never split a rune", func() {
			got := transformer.TruncateFailureReason(strings.Repeat("€", 10000))
			Expect(len(got)).To(BeNumerically("<=", transformer.MaxFailureReasonLength))
			Expect(strings.ToValidUTF8(got, "?")).To(Equal(got))
		})
	})

	It("says whether an error is only an interrupt", func() {
		Expect(transformer.IsInterrupted(steps.ErrCancelled)).To(BeTrue())
		Expect(transformer.IsInterrupted(steps.NewAggregateError(steps.ErrCancelled, errors.New("x")))).To(BeFalse())
	})
})

func tarOf(name, body string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Size: int64(len(body)), Mode: 0o644})
	tw.Write([]byte(body))
	tw.Close()
	return buf.Bytes()
}
