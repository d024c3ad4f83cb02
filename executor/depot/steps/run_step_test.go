package steps_test

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/executor"
	"diego/executor/depot/steps"
	"diego/garden"
	"diego/garden/gardenfakes"
	"diego/models"
)

var _ = Describe("RunStep", func() {
	var (
		container *gardenfakes.FakeContainer
		gardenPro *gardenfakes.FakeProcess
		streamer  *fakeStreamer
		action    *models.RunAction
		cfg       steps.RunConfig
		fakeClock *fakeclock.FakeClock
		exitCh    chan int
		spawned   chan garden.ProcessIO
	)

	BeforeEach(func() {
		container = new(gardenfakes.FakeContainer)
		gardenPro = new(gardenfakes.FakeProcess)
		gardenPro.IDReturns("pid-1")
		streamer = newFakeStreamer()
		fakeClock = fakeclock.NewFakeClock(time.Now())
		nofile := uint64(1024)
		action = &models.RunAction{
			Path: "/bin/app", Args: []string{"-a", "b"}, Dir: "/home/vcap", User: "vcap",
			Env:            []*models.EnvironmentVariable{{Name: "FOO", Value: "bar"}},
			ResourceLimits: &models.ResourceLimits{Nofile: &nofile},
		}
		cfg = steps.RunConfig{
			Env:                      []string{"CF_INSTANCE_IP=1.2.3.4"},
			GracefulShutdownInterval: 10 * time.Second,
			ExitTimeout:              time.Second,
			Clock:                    fakeClock,
		}
		// The stubs keep their own channels: a process left running by
		// one spec must not see the next spec's.
		exits, spawns, proc := make(chan int, 1), make(chan garden.ProcessIO, 1), gardenPro
		exitCh, spawned = exits, spawns
		gardenPro.WaitStub = func() (int, error) { return <-exits, nil }
		container.RunStub = func(spec garden.ProcessSpec, pio garden.ProcessIO) (garden.Process, error) {
			io.WriteString(pio.Stdout, "hello out\n")
			io.WriteString(pio.Stderr, "hello err\n")
			spawns <- pio
			return proc, nil
		}
	})

	newStep := func() steps.Step { return steps.NewRun(container, action, streamer, discardLogger, cfg) }

	It("spawns the process with the action's spec, the networking env and then the action env", func() {
		p := run(newStep())
		Eventually(p.ready).Should(BeClosed())
		spec, _ := container.RunArgsForCall(0)
		Expect(spec.Path).To(Equal("/bin/app"))
		Expect(spec.Args).To(Equal([]string{"-a", "b"}))
		Expect(spec.Dir).To(Equal("/home/vcap"))
		Expect(spec.User).To(Equal("vcap"))
		Expect(spec.Env).To(Equal([]string{"CF_INSTANCE_IP=1.2.3.4", "FOO=bar"}))
		Expect(*spec.Limits.Nofile).To(BeEquivalentTo(1024))
		exitCh <- 0
		Eventually(p.done).Should(Receive(BeNil()))
	})

	It("logs the garden process's id under garden_process_id (docs/logging.md)", func() {
		logs := gbytes.NewBuffer()
		p := run(steps.NewRun(container, action, streamer, logging.New(logs, slog.LevelDebug, "executor"), cfg))
		Eventually(p.ready).Should(BeClosed())
		Expect(logs).To(gbytes.Say(`"msg":"run-step.started".*"garden_process_id":"pid-1"`))
		exitCh <- 0
		Eventually(p.done).Should(Receive(BeNil()))
	})

	It("streams output, and writes the exit status on a successful exit", func() {
		p := run(newStep())
		Eventually(p.ready).Should(BeClosed())
		Expect(streamer.stdout).To(gbytes.Say("hello out\n"))
		Expect(streamer.stderr).To(gbytes.Say("hello err\n"))
		exitCh <- 0
		Eventually(p.done).Should(Receive(BeNil()))
		Expect(streamer.stdout).To(gbytes.Say("Exit status 0\n"))
		Expect(streamer.flushes.Load()).To(BeNumerically(">=", 1))
	})

	It("fails a non-zero exit with the emittable legacy message", func() {
		p := run(newStep())
		exitCh <- 1
		var err error
		Eventually(p.done).Should(Receive(&err))
		Expect(err).To(MatchError("Exited with status 1"))
		Expect(steps.IsEmittable(err)).To(BeTrue())
		Expect(streamer.stdout).To(gbytes.Say("Exit status 1\n"))
	})

	DescribeTable("says out of memory when garden's events show it",
		func(event string) {
			container.InfoReturns(garden.ContainerInfo{Events: []string{event}}, nil)
			p := run(newStep())
			exitCh <- 137
			Eventually(p.done).Should(Receive(MatchError("Exited with status 137 (out of memory)")))
			Expect(streamer.stdout).To(gbytes.Say("Exit status 137 \\(out of memory\\)\n"))
		},
		Entry("garden's event", garden.OutOfMemoryEvent),
		Entry("lower case", "out of memory"),
	)

	It("does not ask garden about memory after a clean exit", func() {
		p := run(newStep())
		exitCh <- 0
		Eventually(p.done).Should(Receive(BeNil()))
		Expect(container.InfoCallCount()).To(BeZero())
	})

	It("discards output and the exit status with suppress_log_output", func() {
		action.SuppressLogOutput = true
		p := run(newStep())
		var pio garden.ProcessIO
		Eventually(spawned).Should(Receive(&pio))
		Expect(pio.Stdout).To(BeIdenticalTo(io.Discard))
		Expect(pio.Stderr).To(BeIdenticalTo(io.Discard))
		exitCh <- 2
		Eventually(p.done).Should(Receive(MatchError("Exited with status 2")))
		Expect(streamer.stdout.Contents()).To(BeEmpty())
	})

	It("hides the exit status line of a monitor but keeps its output", func() {
		cfg.Monitor = true
		p := run(newStep())
		exitCh <- 4
		Eventually(p.done).Should(Receive(MatchError("Exited with status 4")))
		Expect(string(streamer.stdout.Contents())).To(Equal("hello out\n"))
		Expect(streamer.stderr).To(gbytes.Say("hello err"))
	})

	It("returns garden's error when the process cannot start, without becoming ready", func() {
		container.RunStub = nil
		container.RunReturns(nil, errors.New("no such user"))
		p := run(newStep())
		Eventually(p.done).Should(Receive(MatchError("no such user")))
		Expect(p.ready).NotTo(BeClosed())
	})

	It("returns the error of a failed wait", func() {
		gardenPro.WaitStub = nil
		gardenPro.WaitReturns(0, errors.New("connection lost"))
		p := run(newStep())
		Eventually(p.done).Should(Receive(MatchError("connection lost")))
		Expect(streamer.stdout).NotTo(gbytes.Say("Exit status"))
	})

	Describe("interrupts", func() {
		var p *process

		JustBeforeEach(func() {
			p = run(newStep())
			Eventually(p.ready).Should(BeClosed())
			p.Signal()
			Eventually(gardenPro.SignalCallCount).Should(Equal(1))
			Expect(gardenPro.SignalArgsForCall(0)).To(Equal(garden.SignalTerminate))
		})

		It("sends SIGTERM and is cancelled when the process exits in time", func() {
			exitCh <- 143
			var err error
			Eventually(p.done).Should(Receive(&err))
			Expect(err).To(MatchError(steps.ErrCancelled))
			Expect(steps.IsInterrupted(err)).To(BeTrue())
			Expect(streamer.stdout).To(gbytes.Say("Exit status 143\n"))
		})

		It("sends SIGKILL after the graceful shutdown interval", func() {
			Eventually(fakeClock.WatcherCount).Should(Equal(1))
			fakeClock.Increment(10*time.Second - time.Millisecond)
			Consistently(gardenPro.SignalCallCount, 50*time.Millisecond).Should(Equal(1))
			fakeClock.Increment(time.Millisecond)
			Eventually(gardenPro.SignalCallCount).Should(Equal(2))
			Expect(gardenPro.SignalArgsForCall(1)).To(Equal(garden.SignalKill))
			exitCh <- 137
			Eventually(p.done).Should(Receive(MatchError(steps.ErrExceededGracefulShutdownInterval)))
			Expect(streamer.stdout).To(gbytes.Say("Exit status 137 \\(exceeded 10s graceful shutdown interval\\)\n"))
		})

		It("gives up when the process does not exit after SIGKILL and the exit timeout", func() {
			Eventually(fakeClock.WatcherCount).Should(Equal(1))
			fakeClock.Increment(10 * time.Second)
			Eventually(gardenPro.SignalCallCount).Should(Equal(2))
			Eventually(fakeClock.WatcherCount).Should(Equal(1))
			fakeClock.Increment(time.Second)
			Eventually(p.done).Should(Receive(MatchError("process did not exit")))
		})
	})

	It("is cancelled by a signal that arrives before the process has started", func() {
		s := newStep()
		signals := make(chan os.Signal, 1)
		signals <- os.Interrupt
		done := make(chan error, 1)
		go func() { done <- s.Run(signals, make(chan struct{})) }()
		Eventually(gardenPro.SignalCallCount).Should(Equal(1))
		exitCh <- 143
		Eventually(done).Should(Receive(MatchError(steps.ErrCancelled)))
	})

	It("lets the action's env override the networking env, each name once (decision 46)", func() {
		action.Env = append(action.Env, &models.EnvironmentVariable{Name: "CF_INSTANCE_IP", Value: "mine"},
			&models.EnvironmentVariable{Name: "FOO", Value: "again"})
		p := run(newStep())
		Eventually(p.ready).Should(BeClosed())
		spec, _ := container.RunArgsForCall(0)
		Expect(spec.Env).To(Equal([]string{"CF_INSTANCE_IP=mine", "FOO=again"}))
		exitCh <- 0
		Eventually(p.done).Should(Receive(BeNil()))
	})

	Describe("MergeEnv", func() {
		It("keeps each name once, the later value winning, at its first place", func() {
			Expect(steps.MergeEnv(
				[]string{"A=container", "B=container", "A=container-again"},
				[]string{"B=lrp", "C=lrp"},
				[]string{"C=action", "D", "A=action"},
			)).To(Equal([]string{"A=action", "B=lrp", "C=action", "D"}))
			Expect(steps.MergeEnv()).To(BeEmpty())
		})
	})

	Describe("NetworkingEnv", func() {
		It("gives the IPs, the first host port, the address and every mapping", func() {
			env := steps.NetworkingEnv("10.0.0.1", "10.254.0.2", []executor.PortMapping{
				{ContainerPort: 8080, HostPort: 61001}, {ContainerPort: 2222, HostPort: 61002},
			})
			Expect(env).To(Equal([]string{
				"CF_INSTANCE_IP=10.0.0.1",
				"CF_INSTANCE_INTERNAL_IP=10.254.0.2",
				"CF_INSTANCE_PORT=61001",
				"CF_INSTANCE_ADDR=10.0.0.1:61001",
				`CF_INSTANCE_PORTS=[{"external":61001,"internal":8080},{"external":61002,"internal":2222}]`,
			}))
		})

		It("leaves the port variables empty without ports", func() {
			Expect(steps.NetworkingEnv("10.0.0.1", "10.254.0.2", nil)).To(Equal([]string{
				"CF_INSTANCE_IP=10.0.0.1",
				"CF_INSTANCE_INTERNAL_IP=10.254.0.2",
				"CF_INSTANCE_PORT=",
				"CF_INSTANCE_ADDR=",
				"CF_INSTANCE_PORTS=[]",
			}))
		})
	})
})
