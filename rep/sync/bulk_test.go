package sync_test

import (
	"context"
	"errors"
	"sync"
	"time"

	bbsclient "diego/bbs/client"
	"diego/executor"
	"diego/models"
	repsync "diego/rep/sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit/ginkgomon_v2"
)

func actualLRP(pg, ig string, presence models.ActualLRP_Presence) *models.ActualLRP {
	return &models.ActualLRP{
		ActualLrpKey:         &models.ActualLRPKey{ProcessGuid: pg, Index: 0, Domain: "cf-apps"},
		ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: ig, CellId: cellID},
		State:                models.ActualLRPStateRunning,
		Presence:             presence,
	}
}

var _ = Describe("the bulk sync", func() {
	var (
		f   *fixture
		g   *repsync.Generator
		ctx context.Context
	)

	BeforeEach(func() {
		f = newFixture()
		ctx = context.Background()
	})

	JustBeforeEach(func() {
		g = f.generator()
	})

	runQueue := func() {
		process := ginkgomon_v2.Invoke(g.QueueRunner())
		DeferCleanup(func() { ginkgomon_v2.Interrupt(process, 5*time.Second) })
	}

	Describe("one pass", func() {
		var existing map[string]executor.Container

		BeforeEach(func() {
			lrp := lrpContainer(executor.StateRunning)
			task := taskContainer(executor.StateRunning)
			task.Guid = "tg-3"
			existing = map[string]executor.Container{"ig-1": lrp, "tg-3": task}
			f.executor.ListContainersReturns([]executor.Container{lrp, task}, nil)
			f.executor.GetContainerStub = func(guid string) (executor.Container, error) {
				if c, ok := existing[guid]; ok {
					return c, nil
				}
				return executor.Container{}, executor.ErrContainerNotFound
			}
			f.bbs.ActualLRPsReturns([]*models.ActualLRP{
				actualLRP("pg-1", "ig-1", models.ActualLRP_ORDINARY),   // has its container
				actualLRP("pg-1", "ig-1", models.ActualLRP_EVACUATING), // has its container
				actualLRP("pg-2", "ig-2", models.ActualLRP_ORDINARY),   // residual instance
				actualLRP("pg-3", "ig-3", models.ActualLRP_ORDINARY),   // residual joint
				actualLRP("pg-3", "ig-3", models.ActualLRP_EVACUATING),
				actualLRP("pg-4", "ig-4", models.ActualLRP_EVACUATING), // residual evacuating
			}, nil)
			f.bbs.TasksReturns([]*models.Task{
				{TaskGuid: "tg-1", State: models.Task_Running, CellId: cellID},   // residual task
				{TaskGuid: "tg-2", State: models.Task_Completed, CellId: cellID}, // past the cell's care
				{TaskGuid: "tg-3", State: models.Task_Running, CellId: cellID},   // has its container
			}, nil)
		})

		It("fetches this cell's records", func() {
			Expect(g.Sync(ctx)).To(Succeed())
			Expect(f.executor.ListContainersCallCount()).To(Equal(1))
			Expect(f.executor.ListContainersArgsForCall(0)).To(BeEmpty())
			_, lrpFilter := f.bbs.ActualLRPsArgsForCall(0)
			Expect(lrpFilter).To(Equal(bbsclient.ActualLRPFilter{CellID: cellID}))
			_, taskFilter := f.bbs.TasksArgsForCall(0)
			Expect(taskFilter).To(Equal(bbsclient.TaskFilter{CellID: cellID}))
		})

		It("pushes an operation per container and per record without one", func() {
			Expect(g.Sync(ctx)).To(Succeed())
			Expect(g.Queue().Len()).To(Equal(6))
			runQueue()

			By("processing every container")
			Eventually(f.bbs.StartActualLRPCallCount).Should(Equal(1))
			_, req := f.bbs.StartActualLRPArgsForCall(0)
			Expect(req.GetActualLrpInstanceKey().GetInstanceGuid()).To(Equal("ig-1"))
			Eventually(f.bbs.StartTaskCallCount).Should(Equal(1))
			_, taskGuid, _ := f.bbs.StartTaskArgsForCall(0)
			Expect(taskGuid).To(Equal("tg-3"))

			By("removing the instance records without containers, joint ones included")
			Eventually(f.bbs.RemoveActualLRPCallCount).Should(Equal(2))
			var removed []string
			for i := range 2 {
				_, key, ik := f.bbs.RemoveActualLRPArgsForCall(i)
				Expect(ik.GetInstanceGuid()).To(Equal(map[string]string{"pg-2": "ig-2", "pg-3": "ig-3"}[key.GetProcessGuid()]))
				removed = append(removed, ik.GetInstanceGuid())
			}
			Expect(removed).To(ConsistOf("ig-2", "ig-3"))

			By("removing the evacuating records without containers, joint ones included")
			Eventually(f.bbs.RemoveEvacuatingActualLRPCallCount).Should(Equal(2))
			var removedEvac []string
			for i := range 2 {
				_, key, ik := f.bbs.RemoveEvacuatingActualLRPArgsForCall(i)
				Expect(ik.GetCellId()).To(Equal(cellID))
				removedEvac = append(removedEvac, key.GetProcessGuid()+"/"+ik.GetInstanceGuid())
			}
			Expect(removedEvac).To(ConsistOf("pg-3/ig-3", "pg-4/ig-4"))

			By("failing the running task without a container")
			Eventually(f.bbs.CompleteTaskCallCount).Should(Equal(1))
			_, guid, cell, failed, reason, result := f.bbs.CompleteTaskArgsForCall(0)
			Expect([]any{guid, cell, failed, reason, result}).To(Equal([]any{"tg-1", cellID, true, "task container does not exist", ""}))

			Consistently(f.bbs.CompleteTaskCallCount, 50*time.Millisecond).Should(Equal(1))
			Expect(f.bbs.RemoveActualLRPCallCount()).To(Equal(2))
			Expect(f.bbs.RemoveEvacuatingActualLRPCallCount()).To(Equal(2))
		})

		It("acts on a residual record only if its container is still absent", func() {
			Expect(g.Sync(ctx)).To(Succeed())
			// Containers appear for ig-2 and ig-4, and tg-1 cannot be checked.
			f.executor.GetContainerStub = func(guid string) (executor.Container, error) {
				switch guid {
				case "ig-2", "ig-4":
					return executor.Container{Guid: guid}, nil
				case "tg-1":
					return executor.Container{}, errors.New("executor down")
				}
				if c, ok := existing[guid]; ok {
					return c, nil
				}
				return executor.Container{}, executor.ErrContainerNotFound
			}
			runQueue()
			Eventually(f.bbs.RemoveEvacuatingActualLRPCallCount).Should(Equal(1))
			Consistently(f.bbs.RemoveActualLRPCallCount, 50*time.Millisecond).Should(Equal(1))
			_, _, ik := f.bbs.RemoveActualLRPArgsForCall(0)
			Expect(ik.GetInstanceGuid()).To(Equal("ig-3"))
			Expect(f.bbs.RemoveEvacuatingActualLRPCallCount()).To(Equal(1))
			Expect(f.bbs.CompleteTaskCallCount()).To(BeZero())
			var checked []string
			for i := range f.executor.GetContainerCallCount() {
				checked = append(checked, f.executor.GetContainerArgsForCall(i))
			}
			Expect(checked).To(ConsistOf("ig-1", "tg-3", "ig-2", "ig-3", "ig-4", "tg-1"))
		})

		It("emits its duration", func() {
			f.executor.ListContainersStub = func(executor.Tags) ([]executor.Container, error) {
				f.clock.Increment(2 * time.Second)
				return nil, nil
			}
			Expect(g.Sync(ctx)).To(Succeed())
			Expect(f.metrics.SendDurationCallCount()).To(Equal(1))
			name, d := f.metrics.SendDurationArgsForCall(0)
			Expect(name).To(Equal("RepBulkSyncDuration"))
			Expect(d).To(Equal(2 * time.Second))
		})

		It("fetches the three lists in parallel", func() {
			var arrived sync.WaitGroup
			arrived.Add(3)
			barrier := func() error {
				arrived.Done()
				done := make(chan struct{})
				go func() { arrived.Wait(); close(done) }()
				select {
				case <-done:
					return nil
				case <-time.After(2 * time.Second):
					return errors.New("the fetches ran one after another")
				}
			}
			f.executor.ListContainersStub = func(executor.Tags) ([]executor.Container, error) { return nil, barrier() }
			f.bbs.ActualLRPsStub = func(context.Context, bbsclient.ActualLRPFilter) ([]*models.ActualLRP, error) {
				return nil, barrier()
			}
			f.bbs.TasksStub = func(context.Context, bbsclient.TaskFilter) ([]*models.Task, error) { return nil, barrier() }
			Expect(g.Sync(ctx)).To(Succeed())
		})

		DescribeTable("is skipped when a fetch fails",
			func(fail func(f *fixture)) {
				fail(f)
				Expect(g.Sync(ctx)).To(MatchError(ContainSubstring("boom")))
				Expect(g.Queue().Len()).To(BeZero())
				Expect(f.metrics.SendDurationCallCount()).To(BeZero())
			},
			Entry("executor containers", func(f *fixture) { f.executor.ListContainersReturns(nil, errors.New("boom")) }),
			Entry("actual LRPs", func(f *fixture) { f.bbs.ActualLRPsReturns(nil, errors.New("boom")) }),
			Entry("tasks", func(f *fixture) { f.bbs.TasksReturns(nil, errors.New("boom")) }),
		)
	})

	Describe("the bulk runner", func() {
		BeforeEach(func() {
			f.cfg.PollingInterval = 30 * time.Second
			f.cfg.EvacuationPollingInterval = 10 * time.Second
		})

		run := func() {
			process := ginkgomon_v2.Invoke(g.BulkRunner())
			DeferCleanup(func() { ginkgomon_v2.Interrupt(process, 5*time.Second) })
		}

		It("syncs before it is ready, then every polling interval", func() {
			run()
			Expect(f.executor.ListContainersCallCount()).To(Equal(1))

			Eventually(f.clock.WatcherCount).Should(Equal(1))
			f.clock.Increment(29 * time.Second)
			Consistently(f.executor.ListContainersCallCount, 50*time.Millisecond).Should(Equal(1))
			f.clock.Increment(time.Second)
			Eventually(f.executor.ListContainersCallCount).Should(Equal(2))

			Eventually(f.clock.WatcherCount).Should(Equal(1))
			f.clock.Increment(30 * time.Second)
			Eventually(f.executor.ListContainersCallCount).Should(Equal(3))
		})

		It("syncs at once when evacuation starts, then every evacuation polling interval", func() {
			run()
			Eventually(f.clock.WatcherCount).Should(Equal(1))
			f.flag.Evacuate()
			Eventually(f.executor.ListContainersCallCount).Should(Equal(2))

			Eventually(f.clock.WatcherCount).Should(Equal(1))
			f.clock.Increment(10 * time.Second)
			Eventually(f.executor.ListContainersCallCount).Should(Equal(3))
			Eventually(f.clock.WatcherCount).Should(Equal(1))
			f.clock.Increment(10 * time.Second)
			Eventually(f.executor.ListContainersCallCount).Should(Equal(4))
		})

		It("uses the evacuation interval from the start when already evacuating", func() {
			f.flag.Evacuate()
			run()
			Eventually(f.clock.WatcherCount).Should(Equal(1))
			Consistently(f.executor.ListContainersCallCount, 50*time.Millisecond).Should(Equal(1))
			f.clock.Increment(10 * time.Second)
			Eventually(f.executor.ListContainersCallCount).Should(Equal(2))
		})

		It("keeps going after a skipped pass", func() {
			f.bbs.TasksReturnsOnCall(0, nil, errors.New("boom"))
			run()
			Eventually(f.clock.WatcherCount).Should(Equal(1))
			f.clock.Increment(30 * time.Second)
			Eventually(f.bbs.TasksCallCount).Should(Equal(2))
			Eventually(f.metrics.SendDurationCallCount).Should(Equal(1))
		})
	})
})
