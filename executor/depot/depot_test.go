package depot_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/tedsuo/ifrit"

	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/executor"
	"diego/executor/depot"
	"diego/executor/depot/depotfakes"
	depotsteps "diego/executor/depot/steps"
	"diego/garden"
	"diego/garden/gardenfakes"
	"diego/models"
)

// controlledSteps is a step tree the test drives: close ready to make it
// healthy, send on exit to end it; an interrupt ends it with "cancelled".
type controlledSteps struct {
	ready       chan struct{}
	exit        chan error
	interrupted chan struct{}
}

func newControlledSteps() *controlledSteps {
	return &controlledSteps{ready: make(chan struct{}), exit: make(chan error, 1), interrupted: make(chan struct{})}
}

func (s *controlledSteps) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	readyCh := s.ready
	for {
		select {
		case <-readyCh:
			close(ready)
			readyCh = nil
		case err := <-s.exit:
			return err
		case <-signals:
			close(s.interrupted)
			return errors.New("cancelled")
		}
	}
}

// readinessSteps are controlledSteps with readiness checks.
type readinessSteps struct {
	*controlledSteps
	readiness chan bool
}

func (r readinessSteps) Readiness() <-chan bool { return r.readiness }

var _ = Describe("Depot", func() {
	var (
		clk          *fakeclock.FakeClock
		gardenClient *gardenfakes.FakeClient
		gardenBox    *gardenfakes.FakeContainer
		steps        *depotfakes.FakeStepsBuilder
		appLog       *depotfakes.FakeAppLog
		metrics      *depotfakes.FakeMetrics
		hub          *depot.Hub
		sub          *depot.Subscription
		d            *depot.Depot
		logger       *slog.Logger
		tree         *controlledSteps
		fetcher      *depotfakes.FakeDependencyFetcher
	)

	runAction := &models.Action{RunAction: &models.RunAction{Path: "/bin/app", User: "vcap"}}

	BeforeEach(func() {
		clk = fakeclock.NewFakeClock(time.Unix(1000, 0))
		gardenClient = &gardenfakes.FakeClient{}
		gardenBox = &gardenfakes.FakeContainer{}
		gardenBox.HandleReturns("g1")
		gardenBox.InfoReturns(garden.ContainerInfo{ExternalIP: "10.0.0.5", ContainerIP: "10.254.0.2",
			MappedPorts: []garden.PortMapping{{HostPort: 61001, ContainerPort: 8080}}}, nil)
		gardenClient.CreateReturns(gardenBox, nil)
		steps = &depotfakes.FakeStepsBuilder{}
		tree = newControlledSteps()
		steps.StepsRunnerReturns(tree, nil)
		appLog = &depotfakes.FakeAppLog{}
		metrics = &depotfakes.FakeMetrics{}
		hub = depot.NewHub()
		sub = hub.Subscribe()
		logger = logging.Discard()
		fetcher = &depotfakes.FakeDependencyFetcher{}
		d = depot.New(depot.Config{
			CellID: "cell-z", OwnerName: "exec-1", Total: executor.ExecutorResources{MemoryMB: 1024, DiskMB: 2048, Containers: 3},
			ContainerInodeLimit: 200000, ContainerMaxCPUShares: 1024, ReservedExpiration: time.Minute,
		}, depot.Deps{Logger: logger, Clock: clk, Garden: gardenClient, Steps: steps, AppLog: appLog, Metrics: metrics,
			Hub: hub, Fetcher: fetcher})
	})

	nextEvent := func() executor.Event {
		GinkgoHelper()
		var e executor.Event
		Eventually(sub.Events()).Should(Receive(&e))
		return e
	}

	allocate := func(guid string, memory, disk int) []executor.AllocationFailure {
		return d.AllocateContainers(logger, []executor.AllocationRequest{{Guid: guid,
			Resource: executor.Resource{MemoryMB: memory, DiskMB: disk, MaxPids: 1024}, Tags: executor.Tags{"lifecycle": "lrp"}}})
	}

	Describe("allocation", func() {
		It("reserves resources and emits container_reserved", func() {
			Expect(allocate("g1", 256, 512)).To(BeEmpty())
			e := nextEvent()
			Expect(e.Type).To(Equal(executor.EventTypeContainerReserved))
			Expect(e.Container.Guid).To(Equal("g1"))
			Expect(e.Container.State).To(Equal(executor.StateReserved))
			Expect(e.Container.AllocatedAt).To(Equal(time.Unix(1000, 0).UnixNano()))
			Expect(d.RemainingResources()).To(Equal(executor.ExecutorResources{MemoryMB: 768, DiskMB: 1536, Containers: 2}))
			Expect(d.ListContainers(executor.Tags{"lifecycle": "lrp"})).To(HaveLen(1))
			Expect(d.ListContainers(executor.Tags{"lifecycle": "task"})).To(BeEmpty())
		})

		It("fails duplicates, missing guids, bad limits and what does not fit, with the spec's messages", func() {
			Expect(allocate("g1", 256, 512)).To(BeEmpty())
			failures := d.AllocateContainers(logger, []executor.AllocationRequest{
				{Guid: "g1", Resource: executor.Resource{MemoryMB: 1}},
				{Guid: "", Resource: executor.Resource{MemoryMB: 1}},
				{Guid: "neg", Resource: executor.Resource{MemoryMB: -1}},
				{Guid: "big", Resource: executor.Resource{MemoryMB: 2000}},
				{Guid: "fits", Resource: executor.Resource{MemoryMB: 100}},
			})
			Expect(failures).To(HaveLen(4))
			Expect(failures[0].ErrorMsg).To(Equal("container guid not available"))
			Expect(failures[1].ErrorMsg).To(Equal("container guid not specified"))
			Expect(failures[2].ErrorMsg).To(Equal("container limits invalid"))
			Expect(failures[3].ErrorMsg).To(Equal("insufficient resources available"))
			Expect(failures[3].Guid).To(Equal("big"))
			Expect(d.RemainingResources().Containers).To(Equal(1))
		})

		It("completes a reservation that is never run once it expires", func() {
			Expect(allocate("g1", 1, 1)).To(BeEmpty())
			nextEvent()
			gardenClient.ContainersReturns(nil, nil)
			clk.Increment(61 * time.Second)
			d.Reap(ctx, logger)
			e := nextEvent()
			Expect(e.Type).To(Equal(executor.EventTypeContainerComplete))
			Expect(e.Container.RunResult).To(Equal(executor.ContainerRunResult{Failed: true, FailureReason: "expired container"}))
		})
	})

	Describe("running", func() {
		BeforeEach(func() {
			Expect(allocate("g1", 256, 512)).To(BeEmpty())
			nextEvent()
		})

		run := func() {
			GinkgoHelper()
			Expect(d.RunContainer(logger, executor.RunRequest{Guid: "g1", Tags: executor.Tags{"domain": "cf"}, RunInfo: executor.RunInfo{
				RootFSPath: "/rootfs", CPUWeight: 50, Action: runAction, Privileged: true,
				Ports: []executor.PortMapping{{ContainerPort: 8080}, {ContainerPort: 8080}},
				Env: []executor.EnvironmentVariable{{Name: "A", Value: "1"}, {Name: "INSTANCE_INDEX", Value: "2"},
					{Name: "INSTANCE_INDEX", Value: "lrp's own"}},
				LogConfig:   executor.LogConfig{Guid: "log-guid", Index: 2, SourceName: "CELL"},
				EgressRules: []*models.SecurityGroupRule{{Protocol: "tcp", Destinations: []string{"10.0.0.0/24"}, Ports: []uint32{80}}},
			}})).To(Succeed())
		}

		It("creates the garden container from the spec and goes created → running → completed", func() {
			run()
			Eventually(gardenClient.CreateCallCount).Should(Equal(1))
			spec := gardenClient.CreateArgsForCall(0)
			Expect(spec.Handle).To(Equal("g1"))
			Expect(spec.Image.URI).To(Equal("/rootfs"))
			Expect(spec.Privileged).To(BeTrue())
			Expect(spec.Env).To(Equal([]string{"A=1", "INSTANCE_INDEX=lrp's own"}), "the LRP's env overrides the rep's, each name once")
			Expect(spec.Limits.Memory.LimitInBytes).To(BeEquivalentTo(256 << 20))
			Expect(spec.Limits.Disk.ByteHard).To(BeEquivalentTo(512 << 20))
			Expect(spec.Limits.Disk.InodeHard).To(BeEquivalentTo(200000))
			Expect(spec.Limits.Pid.Max).To(BeEquivalentTo(1024))
			Expect(spec.Limits.CPU.LimitInShares).To(BeEquivalentTo(512))
			Expect(spec.Properties).To(HaveKeyWithValue("executor:owner", "exec-1"))
			Expect(spec.Properties).To(HaveKeyWithValue("log_config", `{"guid":"log-guid","index":2,"source_name":"CELL"}`))
			Expect(spec.NetIn).To(Equal([]garden.NetInSpec{{ContainerPort: 8080}}), "ports are deduplicated")
			Expect(spec.NetOut).To(Equal([]garden.NetOutRule{{Protocol: garden.ProtocolTCP,
				Networks: []garden.IPRange{{Start: "10.0.0.0", End: "10.0.0.255"}}, Ports: []garden.PortRange{{Start: 80, End: 80}}}}))

			Eventually(steps.StepsRunnerCallCount).Should(Equal(1))
			_, c, gc := steps.StepsRunnerArgsForCall(0)
			Expect(gc).To(Equal(gardenBox))
			Expect(c.State).To(Equal(executor.StateCreated))
			Expect(c.ExternalIP).To(Equal("10.0.0.5"))
			Expect(c.InternalIP).To(Equal("10.254.0.2"))
			Expect(c.Ports[0].HostPort).To(BeEquivalentTo(61001))
			Expect(c.Tags).To(Equal(executor.Tags{"lifecycle": "lrp", "domain": "cf"}))
			Expect(appLog.InfoCallCount()).To(BeNumerically(">=", 2))
			_, first := appLog.InfoArgsForCall(0)
			Expect(first).To(Equal("Cell cell-z creating container for instance g1"))
			_, second := appLog.InfoArgsForCall(1)
			Expect(second).To(Equal("Cell cell-z successfully created container for instance g1"))

			close(tree.ready)
			e := nextEvent()
			Expect(e.Type).To(Equal(executor.EventTypeContainerRunning))
			Expect(e.Container.State).To(Equal(executor.StateRunning))

			tree.exit <- errors.New("Exited with status 1")
			e = nextEvent()
			Expect(e.Type).To(Equal(executor.EventTypeContainerComplete))
			Expect(e.Container.RunResult).To(Equal(executor.ContainerRunResult{Failed: true, FailureReason: "Exited with status 1"}))
		})

		It("gives the steps a logger that carries the container's guid, once", func() {
			logs := gbytes.NewBuffer()
			logger = logging.New(logs, slog.LevelDebug, "executor")
			run()
			Eventually(steps.StepsRunnerCallCount).Should(Equal(1))
			stepsLogger, _, _ := steps.StepsRunnerArgsForCall(0)
			stepsLogger.Info("probe")
			var probe string
			for _, line := range strings.Split(string(logs.Contents()), "\n") {
				if strings.Contains(line, `"msg":"probe"`) {
					probe = line
				}
			}
			Expect(probe).To(ContainSubstring(`"container_guid":"g1"`))
			Expect(strings.Count(probe, `"container_guid"`)).To(Equal(1))
			close(tree.ready)
			nextEvent()
			tree.exit <- nil
			nextEvent()
		})

		It("is routable once running when there are no readiness checks", func() {
			run()
			Eventually(steps.StepsRunnerCallCount).Should(Equal(1))
			close(tree.ready)
			e := nextEvent()
			Expect(e.Container.Routable).To(BeTrue())
			tree.exit <- nil
			nextEvent()
		})

		It("is routable once running when the runner reports no readiness channel", func() {
			rs := readinessSteps{newControlledSteps(), nil}
			steps.StepsRunnerReturns(rs, nil)
			run()
			Eventually(steps.StepsRunnerCallCount).Should(Equal(1))
			close(rs.ready)
			Expect(nextEvent().Container.Routable).To(BeTrue())
			rs.exit <- nil
			nextEvent()
		})

		It("follows readiness checks: routable while they pass, each change re-emitting container_running", func() {
			rs := readinessSteps{newControlledSteps(), make(chan bool, 1)}
			steps.StepsRunnerReturns(rs, nil)
			run()
			Eventually(steps.StepsRunnerCallCount).Should(Equal(1))
			close(rs.ready)
			e := nextEvent()
			Expect(e.Type).To(Equal(executor.EventTypeContainerRunning))
			Expect(e.Container.Routable).To(BeFalse(), "not routable before the readiness checks pass")

			rs.readiness <- true
			e = nextEvent()
			Expect(e.Type).To(Equal(executor.EventTypeContainerRunning))
			Expect(e.Container.Routable).To(BeTrue())
			c, err := d.GetContainer("g1")
			Expect(err).NotTo(HaveOccurred())
			Expect(c.Routable).To(BeTrue())

			rs.readiness <- false
			e = nextEvent()
			Expect(e.Type).To(Equal(executor.EventTypeContainerRunning))
			Expect(e.Container.Routable).To(BeFalse())

			rs.exit <- errors.New("Exited with status 1")
			e = nextEvent()
			Expect(e.Type).To(Equal(executor.EventTypeContainerComplete))
			Expect(e.Container.Routable).To(BeFalse())
		})

		It("applies a readiness reported before the container is running once it is", func() {
			rs := readinessSteps{newControlledSteps(), make(chan bool, 1)}
			steps.StepsRunnerReturns(rs, nil)
			run()
			Eventually(steps.StepsRunnerCallCount).Should(Equal(1))
			rs.readiness <- true
			Eventually(rs.readiness).Should(BeEmpty())
			close(rs.ready)
			e := nextEvent()
			Expect(e.Container.Routable).To(BeTrue())
			rs.exit <- nil
			nextEvent()
		})

		It("refuses sidecars without an action as invalid steps", func() {
			Expect(d.RunContainer(logger, executor.RunRequest{Guid: "g1", RunInfo: executor.RunInfo{Action: runAction,
				Sidecars: []executor.Sidecar{{MemoryMB: 1}}}})).To(MatchError(executor.ErrStepsInvalid))
		})

		It("completes successfully when the steps succeed", func() {
			run()
			Eventually(steps.StepsRunnerCallCount).Should(Equal(1))
			tree.exit <- nil
			e := nextEvent()
			Expect(e.Type).To(Equal(executor.EventTypeContainerComplete))
			Expect(e.Container.RunResult.Failed).To(BeFalse())
		})

		It("completes with a retryable failure when garden cannot create", func() {
			gardenClient.CreateReturns(nil, errors.New("no space"))
			run()
			e := nextEvent()
			Expect(e.Container.RunResult).To(Equal(executor.ContainerRunResult{Failed: true,
				FailureReason: "failed to create container: no space", Retryable: true}))
			_, msg := appLog.ErrorArgsForCall(0)
			Expect(msg).To(Equal("Cell cell-z failed to create container for instance g1: no space"))
			var durations []string
			for i := range metrics.SendDurationCallCount() {
				name, _ := metrics.SendDurationArgsForCall(i)
				durations = append(durations, name)
			}
			Expect(durations).To(ContainElements("GardenContainerCreationFailedDuration", "ContainerSetupFailedDuration"))
		})

		It("counts a container that exits on a timeout action's timeout", func() {
			run()
			close(tree.ready)
			nextEvent()
			tree.exit <- &depotsteps.TimeoutError{Timeout: time.Second}
			nextEvent()
			var counters []string
			for i := range metrics.IncrementCounterCallCount() {
				counters = append(counters, metrics.IncrementCounterArgsForCall(i))
			}
			Expect(counters).To(ContainElements("ContainerCompletedCount", "ContainerExitedOnTimeoutCount"))
		})

		It("downloads cached dependencies, bind-mounts them read-only and releases them at delete", func() {
			fetcher.FetchAsDirectoryReturns("/cache/dirs/lifecycle", 2048, nil)
			Expect(d.RunContainer(logger, executor.RunRequest{Guid: "g1", RunInfo: executor.RunInfo{Action: runAction,
				CachedDependencies: []executor.CachedDependency{{Name: "lifecycle", From: "http://files/lifecycle.tgz",
					To: "/tmp/lifecycle", CacheKey: "lc", ChecksumAlgorithm: "sha256", ChecksumValue: "abc"}}}})).To(Succeed())
			Eventually(gardenClient.CreateCallCount).Should(Equal(1))
			_, _, u, key, sum := fetcher.FetchAsDirectoryArgsForCall(0)
			Expect(u.String()).To(Equal("http://files/lifecycle.tgz"))
			Expect(key).To(Equal("lc"))
			Expect(sum.Algorithm).To(Equal("sha256"))
			var lines []string
			for i := 0; i < appLog.InfoCallCount(); i++ {
				_, line := appLog.InfoArgsForCall(i)
				lines = append(lines, line)
			}
			// The same progress lines, sizes included, as a download action's.
			Expect(lines).To(ContainElements("Downloading lifecycle...", "Downloaded lifecycle (2K)"))
			Expect(gardenClient.CreateArgsForCall(0).BindMounts).To(ConsistOf(garden.BindMount{
				SrcPath: "/cache/dirs/lifecycle", DstPath: "/tmp/lifecycle", Mode: garden.BindMountModeRO, Origin: garden.BindMountOriginHost}))
			Eventually(steps.StepsRunnerCallCount).Should(Equal(1))
			tree.exit <- nil
			nextEvent()
			Expect(d.DeleteContainer(logger, "g1")).To(Succeed())
			Expect(fetcher.CloseDirectoryCallCount()).To(Equal(1))
			key, dir := fetcher.CloseDirectoryArgsForCall(0)
			Expect(key).To(Equal("lc"))
			Expect(dir).To(Equal("/cache/dirs/lifecycle"))
		})

		It("completes with a retryable failure when a cached dependency cannot be fetched", func() {
			fetcher.FetchAsDirectoryReturns("", 0, errors.New("404"))
			Expect(d.RunContainer(logger, executor.RunRequest{Guid: "g1", RunInfo: executor.RunInfo{Action: runAction,
				CachedDependencies: []executor.CachedDependency{{Name: "lifecycle", From: "http://files/x.tgz", To: "/x"}}}})).To(Succeed())
			e := nextEvent()
			Expect(e.Container.RunResult).To(Equal(executor.ContainerRunResult{Failed: true,
				FailureReason: "failed to download cached artifacts", Retryable: true}))
			Expect(gardenClient.CreateCallCount()).To(BeZero())
		})

		It("refuses to run unknown, already-running or step-less containers", func() {
			Expect(d.RunContainer(logger, executor.RunRequest{Guid: "nope", RunInfo: executor.RunInfo{Action: runAction}})).
				To(MatchError(executor.ErrContainerNotFound))
			Expect(d.RunContainer(logger, executor.RunRequest{Guid: "g1"})).To(MatchError(executor.ErrStepsInvalid))
			Expect(d.RunContainer(logger, executor.RunRequest{Guid: "g1", RunInfo: executor.RunInfo{
				Action: &models.Action{RunAction: &models.RunAction{}}}})).To(MatchError(executor.ErrStepsInvalid))
			run()
			Expect(d.RunContainer(logger, executor.RunRequest{Guid: "g1", RunInfo: executor.RunInfo{Action: runAction}})).
				To(MatchError(executor.ErrInvalidTransition))
		})

		It("interrupts the steps on stop and deletes the garden container", func() {
			run()
			Eventually(steps.StepsRunnerCallCount).Should(Equal(1))
			close(tree.ready)
			nextEvent()
			Expect(d.StopContainer(logger, "g1")).To(Succeed())
			Eventually(tree.interrupted).Should(BeClosed())
			e := nextEvent()
			Expect(e.Container.RunResult.Stopped).To(BeTrue())
			Expect(e.Container.State).To(Equal(executor.StateCompleted))

			gardenClient.DestroyReturns(garden.ContainerNotFoundError{Handle: "g1"})
			Expect(d.DeleteContainer(logger, "g1")).To(Succeed(), "a garden container already gone is fine")
			Expect(gardenClient.DestroyArgsForCall(0)).To(Equal("g1"))
			_, err := d.GetContainer("g1")
			Expect(err).To(MatchError(executor.ErrContainerNotFound))
			Expect(d.RemainingResources().Containers).To(Equal(3))
		})

		It("reports a garden container that disappeared", func() {
			run()
			Eventually(steps.StepsRunnerCallCount).Should(Equal(1))
			gardenClient.ContainersReturns(nil, nil)
			gardenClient.LookupReturns(nil, garden.ContainerNotFoundError{Handle: "g1"})
			d.Reap(ctx, logger)
			e := nextEvent()
			Expect(e.Container.RunResult.FailureReason).To(Equal("missing garden container"))
		})
	})

	It("completes a stopped reservation as stopped-before-running and deletes it without garden", func() {
		Expect(allocate("g2", 1, 1)).To(BeEmpty())
		nextEvent()
		Expect(d.StopContainer(logger, "g2")).To(Succeed())
		e := nextEvent()
		Expect(e.Container.RunResult).To(Equal(executor.ContainerRunResult{Failed: true, FailureReason: "stopped-before-running", Stopped: true}))
		Expect(d.DeleteContainer(logger, "g2")).To(Succeed())
		Expect(gardenClient.DestroyCallCount()).To(BeZero())
		Expect(d.StopContainer(logger, "g2")).To(MatchError(executor.ErrContainerNotFound))
	})

	It("destroys every garden container it owns at start, and reaps unknown ones", func() {
		a, b := &gardenfakes.FakeContainer{}, &gardenfakes.FakeContainer{}
		a.HandleReturns("left-1")
		b.HandleReturns("left-2")
		gardenClient.ContainersReturns([]garden.Container{a, b}, nil)
		Expect(d.DestroyOwned(logger)).To(Succeed())
		Expect(gardenClient.ContainersArgsForCall(0)).To(Equal(garden.Properties{"executor:owner": "exec-1", "garden.state": "all"}))
		Expect(gardenClient.DestroyCallCount()).To(Equal(2))

		d.Reap(ctx, logger)
		Expect(gardenClient.DestroyCallCount()).To(Equal(4))
	})

	It("drops a subscriber that falls too far behind", func() {
		slow := hub.Subscribe()
		for range 1100 {
			hub.Emit(executor.Event{Type: executor.EventTypeContainerReserved})
		}
		Eventually(func() bool {
			for {
				select {
				case _, ok := <-slow.Events():
					if !ok {
						return true
					}
				default:
					return false
				}
			}
		}).Should(BeTrue())
	})
})

var (
	_   ifrit.Runner = (*controlledSteps)(nil)
	ctx              = context.Background()
)
