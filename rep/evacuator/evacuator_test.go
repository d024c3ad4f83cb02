package evacuator_test

import (
	"errors"
	"os"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/tedsuo/ifrit"

	bbsclient "diego/bbs/client"
	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/executor"
	"diego/models"
	"diego/rep/evacuator"
	"diego/rep/evacuator/evacuatorfakes"
)

var _ = Describe("Evacuator", func() {
	var (
		fakeExecutor *evacuatorfakes.FakeExecutorClient
		fakeBBS      *evacuatorfakes.FakeBBSClient
		fakeMetrics  *evacuatorfakes.FakeMetrics
		fakeAppLog   *evacuatorfakes.FakeAppLog
		fakeClock    *fakeclock.FakeClock
		flag         *evacuator.Flag
		logs         *gbytes.Buffer
		cfg          evacuator.Config

		mu         sync.Mutex
		containers []executor.Container
	)

	setContainers := func(cs ...executor.Container) {
		mu.Lock()
		defer mu.Unlock()
		containers = cs
	}

	lrpContainer := func(guid string) executor.Container {
		c := executor.Container{Guid: guid, State: executor.StateRunning,
			Tags: executor.Tags{"lifecycle": "lrp", "instance-guid": guid}}
		c.LogConfig = executor.LogConfig{Guid: "app-" + guid, Index: 2, SourceName: "CELL"}
		return c
	}

	BeforeEach(func() {
		fakeExecutor = new(evacuatorfakes.FakeExecutorClient)
		fakeBBS = new(evacuatorfakes.FakeBBSClient)
		fakeMetrics = new(evacuatorfakes.FakeMetrics)
		fakeAppLog = new(evacuatorfakes.FakeAppLog)
		fakeClock = fakeclock.NewFakeClock(time.Now())
		flag = evacuator.NewFlag()
		logs = gbytes.NewBuffer()
		containers = nil
		fakeExecutor.ListContainersStub = func(executor.Tags) ([]executor.Container, error) {
			mu.Lock()
			defer mu.Unlock()
			return append([]executor.Container(nil), containers...), nil
		}
		cfg = evacuator.Config{
			CellID:            "cell-1",
			EvacuationTimeout: 30 * time.Second,
			PollingInterval:   10 * time.Second,
			ExitTimeout:       15 * time.Second,
		}
	})

	start := func() ifrit.Process {
		e := evacuator.New(cfg, evacuator.Deps{
			Logger: logging.New(logs, -8, "rep"), Clock: fakeClock, Executor: fakeExecutor, Flag: flag,
			BBS: fakeBBS, Metrics: fakeMetrics, AppLog: fakeAppLog,
		})
		p := ifrit.Background(e)
		DeferCleanup(func() {
			p.Signal(os.Interrupt)
			Eventually(p.Wait()).Should(Receive())
		})
		Eventually(p.Ready()).Should(BeClosed())
		return p
	}

	It("returns on a signal when no evacuation was asked for", func() {
		p := start()
		Consistently(p.Wait()).ShouldNot(Receive())
		p.Signal(os.Interrupt)
		Eventually(p.Wait()).Should(Receive(BeNil()))
		Expect(fakeExecutor.ListContainersCallCount()).To(BeZero())
		Expect(fakeMetrics.SendValueCallCount()).To(BeZero())
	})

	It("returns at once when evacuation starts with no containers", func() {
		p := start()
		flag.Evacuate()
		Eventually(p.Wait()).Should(Receive(BeNil()))
		Expect(fakeExecutor.DeleteContainerCallCount()).To(BeZero())
		Expect(logs).To(gbytes.Say("no-containers-left"))
	})

	It("polls every evacuation polling interval and returns once the executor has no containers", func() {
		setContainers(lrpContainer("ig-1"))
		p := start()
		flag.Evacuate()
		Eventually(fakeExecutor.ListContainersCallCount).Should(Equal(1))
		Eventually(fakeClock.WatcherCount).Should(Equal(2)) // timeout and ticker

		fakeClock.Increment(10 * time.Second)
		Eventually(fakeExecutor.ListContainersCallCount).Should(Equal(2))
		Consistently(p.Wait()).ShouldNot(Receive())

		setContainers()
		fakeClock.Increment(10 * time.Second)
		Eventually(p.Wait()).Should(Receive(BeNil()))
		Expect(fakeExecutor.DeleteContainerCallCount()).To(BeZero())
		Expect(fakeAppLog.SendAppLogCallCount()).To(BeZero())
	})

	Context("when the evacuation timeout passes with containers left", func() {
		BeforeEach(func() {
			task := executor.Container{Guid: "tg-1", State: executor.StateRunning, Tags: executor.Tags{"lifecycle": "task"}}
			setContainers(lrpContainer("ig-1"), task)
			fakeBBS.ActualLRPsReturns([]*models.ActualLRP{
				{ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: "ig-1", CellId: "cell-1"}, Presence: models.ActualLRP_EVACUATING},
				{ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: "ig-2", CellId: "cell-1"}, Presence: models.ActualLRP_EVACUATING},
				{ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: "ig-3", CellId: "cell-1"}, Presence: models.ActualLRP_ORDINARY},
				{ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: "ig-4", CellId: "cell-2"}, Presence: models.ActualLRP_EVACUATING},
			}, nil)
		})

		timeOut := func() ifrit.Process {
			p := start()
			flag.Evacuate()
			Eventually(fakeClock.WatcherCount).Should(Equal(2))
			for range 3 {
				fakeClock.Increment(10 * time.Second)
			}
			Eventually(logs).Should(gbytes.Say("evacuation-timed-out"))
			return p
		}

		It("logs each instance, deletes every container and returns once they are gone", func() {
			fakeExecutor.DeleteContainerStub = func(guid string) error {
				mu.Lock()
				defer mu.Unlock()
				for i, c := range containers {
					if c.Guid == guid {
						containers = append(containers[:i], containers[i+1:]...)
						break
					}
				}
				return nil
			}
			p := timeOut()
			Eventually(logs).Should(gbytes.Say(`"msg":"Cell cell-1 reached evacuation timeout for instance ig-1"`))
			Eventually(fakeExecutor.DeleteContainerCallCount).Should(Equal(2))
			deleted := []string{fakeExecutor.DeleteContainerArgsForCall(0), fakeExecutor.DeleteContainerArgsForCall(1)}
			Expect(deleted).To(ConsistOf("ig-1", "tg-1"))
			Expect(string(logs.Contents())).To(ContainSubstring("Cell cell-1 reached evacuation timeout for instance tg-1"))

			Expect(fakeAppLog.SendAppLogCallCount()).To(Equal(1))
			appID, message, source, index := fakeAppLog.SendAppLogArgsForCall(0)
			Expect([]string{appID, message, source, index}).To(Equal([]string{
				"app-ig-1", "Cell cell-1 reached evacuation timeout for instance ig-1", "CELL", "2",
			}))

			Expect(fakeBBS.ActualLRPsCallCount()).To(Equal(1))
			_, filter := fakeBBS.ActualLRPsArgsForCall(0)
			Expect(filter).To(Equal(bbsclient.ActualLRPFilter{CellID: "cell-1"}))
			Expect(fakeMetrics.SendValueCallCount()).To(Equal(1))
			name, value, _ := fakeMetrics.SendValueArgsForCall(0)
			Expect(name).To(Equal("StrandedEvacuatingActualLRPs"))
			Expect(value).To(Equal(2.0))

			Eventually(fakeClock.WatcherCount).Should(Equal(2)) // exit deadline and 1 s ticker
			Consistently(p.Wait()).ShouldNot(Receive())
			fakeClock.Increment(time.Second)
			Eventually(p.Wait()).Should(Receive(BeNil()))
			Expect(logs).To(gbytes.Say("all-containers-deleted"))
		})

		It("gives up after the exit timeout", func() {
			p := timeOut()
			Eventually(fakeExecutor.DeleteContainerCallCount).Should(Equal(2))
			Eventually(fakeClock.WatcherCount).Should(Equal(2))
			for range 14 {
				fakeClock.Increment(time.Second)
				Consistently(p.Wait(), 10*time.Millisecond).ShouldNot(Receive())
			}
			fakeClock.Increment(time.Second)
			Eventually(p.Wait()).Should(Receive(BeNil()))
			Expect(logs).To(gbytes.Say("exit-timeout-with-containers-left"))
		})

		It("still cleans up when the BBS cannot be read", func() {
			fakeBBS.ActualLRPsReturns(nil, errors.New("bbs down"))
			timeOut()
			Eventually(fakeExecutor.DeleteContainerCallCount).Should(Equal(2))
			Expect(fakeMetrics.SendValueCallCount()).To(BeZero())
			Expect(logs).To(gbytes.Say("failed-to-fetch-actual-lrps"))
		})
	})

	It("keeps polling through executor errors", func() {
		fakeExecutor.ListContainersReturnsOnCall(0, nil, errors.New("executor down"))
		p := start()
		flag.Evacuate()
		Eventually(logs).Should(gbytes.Say("failed-to-list-containers"))
		Eventually(fakeClock.WatcherCount).Should(Equal(2))
		Consistently(p.Wait()).ShouldNot(Receive())
		fakeClock.Increment(10 * time.Second)
		Eventually(p.Wait()).Should(Receive(BeNil()))
	})

	It("cleans up and returns when signalled during the evacuation", func() {
		setContainers(lrpContainer("ig-1"))
		fakeExecutor.DeleteContainerStub = func(string) error {
			setContainers()
			return nil
		}
		p := start()
		flag.Evacuate()
		Eventually(fakeClock.WatcherCount).Should(Equal(2))
		p.Signal(os.Interrupt)
		Eventually(logs).Should(gbytes.Say("signalled-during-evacuation"))
		Eventually(fakeExecutor.DeleteContainerCallCount).Should(Equal(1))
		Eventually(fakeClock.WatcherCount).Should(Equal(2))
		fakeClock.Increment(time.Second)
		Eventually(p.Wait()).Should(Receive(BeNil()))
	})

	It("needs no BBS, metrics or app log", func() {
		setContainers(lrpContainer("ig-1"))
		e := evacuator.New(evacuator.Config{CellID: "cell-1", EvacuationTimeout: time.Second, PollingInterval: time.Second, ExitTimeout: time.Second},
			evacuator.Deps{Logger: logging.Discard(), Clock: fakeClock, Executor: fakeExecutor, Flag: flag})
		p := ifrit.Background(e)
		flag.Evacuate()
		Eventually(fakeClock.WatcherCount).Should(Equal(2))
		fakeClock.Increment(time.Second)
		Eventually(fakeExecutor.DeleteContainerCallCount).Should(Equal(1))
		Eventually(fakeClock.WatcherCount).Should(Equal(2))
		fakeClock.Increment(time.Second)
		Eventually(p.Wait()).Should(Receive(BeNil()))
	})

})
