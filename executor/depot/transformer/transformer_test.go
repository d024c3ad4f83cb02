package transformer_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/clock/fakeclock"
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
	checkStatus atomic.Int32
	appSignals  atomic.Int32
}

func newFakeGarden() *fakeGarden {
	g := &fakeGarden{FakeContainer: new(gardenfakes.FakeContainer), appExit: make(chan int, 1)}
	g.RunStub = g.run
	return g
}

func (g *fakeGarden) run(spec garden.ProcessSpec, pio garden.ProcessIO) (garden.Process, error) {
	g.mu.Lock()
	g.specs = append(g.specs, spec)
	g.mu.Unlock()
	p := new(gardenfakes.FakeProcess)
	switch spec.Path {
	case "/bin/app":
		shared, own := g.appExit, make(chan int, 1)
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
			Clock:                       fakeClock,
			HealthyMonitoringInterval:   healthy,
			UnhealthyMonitoringInterval: unhealthy,
			Downloader:                  downloader,
			Uploader:                    uploader,
			TempDir:                     GinkgoT().TempDir(),
		}
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
		r, err := transformer.New(cfg).StepsRunner(logger, container, gc, streamer)
		Expect(err).NotTo(HaveOccurred())
		s := &started{signals: make(chan os.Signal, 1), ready: make(chan struct{}), done: make(chan error, 1)}
		go func() { s.done <- r.Run(s.signals, s.ready) }()
		return s
	}

	Describe("refusing what it cannot build", func() {
		DescribeTable("with an error wrapping StepsInvalid",
			func(change func()) {
				change()
				_, err := transformer.New(cfg).StepsRunner(logger, container, gc, streamer)
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

		It("gives the process the action env and then the networking env", func() {
			container.Action = models.WrapAction(&models.RunAction{Path: "/bin/app", User: "vcap",
				Env: []*models.EnvironmentVariable{{Name: "PORT", Value: "8080"}}})
			s := start()
			Eventually(s.ready).Should(BeClosed())
			Expect(gc.Spec("/bin/app").Env).To(Equal([]string{
				"PORT=8080",
				"CF_INSTANCE_IP=10.0.0.1",
				"CF_INSTANCE_INTERNAL_IP=10.254.0.2",
				"CF_INSTANCE_PORT=61001",
				"CF_INSTANCE_ADDR=10.0.0.1:61001",
				`CF_INSTANCE_PORTS=[{"external":61001,"internal":8080}]`,
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

		It("fails with 'Codependent step exited' when the action exits by itself", func() {
			s := start()
			Eventually(gc.Paths).Should(ContainElement("/bin/app"))
			gc.appExit <- 0
			var err error
			Eventually(s.done).Should(Receive(&err))
			Expect(transformer.FailureReason(err)).To(Equal("Codependent step exited"))
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
			_, err := transformer.New(cfg).StepsRunner(logger, container, gc, streamer)
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
