package etcddb_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/bbs/db"
	"diego/bbs/db/etcddb"
	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/models"
)

var _ = Describe("Convergence reads and writes", func() {
	var (
		clock  *fakeclock.FakeClock
		store  *etcddb.ETCDDB
		keys   etcddb.Keys
		logger = logging.Discard()
	)

	BeforeEach(func() {
		clock = fakeclock.NewFakeClock(time.Unix(1_700_000_000, 0))
		store = newStore(etcdClient, clock, "")
		keys = store.Keys()
	})

	Describe("tasks", func() {
		It("lists every task and prunes the undecodable ones", func() {
			_, err := store.DesireTask(ctx(), logger, taskDefinition(), "good", "d")
			Expect(err).NotTo(HaveOccurred())
			rawPut(keys.Task("bad"), "not a record")
			tasks, pruned, err := store.ConvergenceTasks(ctx(), logger)
			Expect(err).NotTo(HaveOccurred())
			Expect(pruned).To(Equal(1))
			Expect(tasks).To(HaveLen(1))
			Expect(tasks[0].TaskGuid).To(Equal("good"))
			_, found := rawValue(keys.Task("bad"))
			Expect(found).To(BeFalse())
		})

		It("fails a task still as read, and refuses one that changed since", func() {
			read, err := store.DesireTask(ctx(), logger, taskDefinition(), "t", "d")
			Expect(err).NotTo(HaveOccurred())
			clock.Increment(time.Second)
			_, _, _, err = store.StartTask(ctx(), logger, "t", "cell-1")
			Expect(err).NotTo(HaveOccurred())
			_, err = store.ConvergeFailTask(ctx(), logger, read, models.TaskNotStartedInTimeReason)
			expectModelError(err, models.Error_ResourceConflict)

			running, err := store.TaskByGuid(ctx(), logger, "t")
			Expect(err).NotTo(HaveOccurred())
			clock.Increment(time.Second)
			after, err := store.ConvergeFailTask(ctx(), logger, running, models.TaskCellDisappearedReason)
			Expect(err).NotTo(HaveOccurred())
			Expect(after.State).To(Equal(models.Task_Completed))
			Expect(after.Failed).To(BeTrue())
			Expect(after.FailureReason).To(Equal("cell disappeared before completion"))
			Expect(after.CellId).To(BeEmpty())
			Expect(after.FirstCompletedAt).To(Equal(clock.Now().UnixNano()))
			Expect(rawKeys(keys.TaskByCellPrefix("cell-1"))).To(BeEmpty())
		})

		It("demotes a RESOLVING task and deletes an expired one", func() {
			_, err := store.DesireTask(ctx(), logger, taskDefinition(), "t", "d")
			Expect(err).NotTo(HaveOccurred())
			_, _, err = store.FailTask(ctx(), logger, "t", "boom")
			Expect(err).NotTo(HaveOccurred())
			_, resolving, err := store.ResolvingTask(ctx(), logger, "t")
			Expect(err).NotTo(HaveOccurred())
			clock.Increment(time.Minute)
			demoted, err := store.DemoteTask(ctx(), logger, resolving)
			Expect(err).NotTo(HaveOccurred())
			Expect(demoted.State).To(Equal(models.Task_Completed))
			Expect(demoted.UpdatedAt).To(Equal(clock.Now().UnixNano()))
			_, err = store.DemoteTask(ctx(), logger, demoted)
			expectModelError(err, models.Error_InvalidStateTransition)

			// Read as RESOLVING, demoted since: the completion the expiry was
			// decided on is the same, so the delete still applies.
			Expect(store.DeleteExpiredTask(ctx(), logger, resolving)).To(Succeed())
			_, err = store.TaskByGuid(ctx(), logger, "t")
			expectModelError(err, models.Error_ResourceNotFound)
			Expect(rawKeys(keys.IndexPrefix())).To(BeEmpty())
			expectModelError(store.DeleteExpiredTask(ctx(), logger, demoted), models.Error_ResourceNotFound)

			// The guid desired again since: a different task, left alone.
			clock.Increment(time.Second)
			_, err = store.DesireTask(ctx(), logger, taskDefinition(), "t", "d")
			Expect(err).NotTo(HaveOccurred())
			expectModelError(store.DeleteExpiredTask(ctx(), logger, demoted), models.Error_ResourceConflict)
			_, err = store.TaskByGuid(ctx(), logger, "t")
			Expect(err).NotTo(HaveOccurred())
		})
	})

	Describe("actual LRPs", func() {
		It("reads instances and evacuating records apart, pruning the undecodable", func() {
			_, err := store.CreateUnclaimedActualLRP(ctx(), logger, lrpKey("pg", 0, "d"))
			Expect(err).NotTo(HaveOccurred())
			_, _, err = store.StartActualLRP(ctx(), logger, lrpKey("pg", 1, "d"), instanceKey("ig", "cell-1"), netInfo("1.2.3.4", 61000), nil, nil, nil, "")
			Expect(err).NotTo(HaveOccurred())
			_, _, err = store.EvacuateRunningActualLRP(ctx(), logger, lrpKey("pg", 1, "d"), instanceKey("ig", "cell-1"), netInfo("1.2.3.4", 61000), time.Minute, nil, nil, nil, "")
			Expect(err).NotTo(HaveOccurred())
			rawPut(keys.ActualInstance("broken", 0), "garbage")
			foreign := keys.ActualPrefix() + "someone-elses/note"
			rawPut(foreign, "not a record")

			instances, evacuating, pruned, err := store.ConvergenceActualLRPs(ctx(), logger)
			Expect(err).NotTo(HaveOccurred())
			Expect(pruned).To(Equal(1))
			Expect(instances).To(HaveLen(2))
			Expect(evacuating).To(HaveLen(1))
			Expect(evacuating[0].Presence).To(Equal(models.ActualLRP_EVACUATING))
			_, found := rawValue(keys.ActualInstance("broken", 0))
			Expect(found).To(BeFalse())
			_, found = rawValue(foreign)
			Expect(found).To(BeTrue(), "a key that is not an actual record is left alone")
		})

		It("unclaims only a CRASHED instance", func() {
			k := lrpKey("pg", 0, "d")
			Expect(store.DesireLRP(ctx(), logger, desiredLRP("pg", "d", 1))).To(Succeed())
			_, err := store.CreateUnclaimedActualLRP(ctx(), logger, k)
			Expect(err).NotTo(HaveOccurred())
			_, _, err = store.UnclaimCrashedActualLRP(ctx(), logger, k)
			expectModelError(err, models.Error_ActualLRPCannotBeUnclaimed)

			for i := range 3 {
				_, _, err = store.StartActualLRP(ctx(), logger, k, instanceKey("ig", "cell-1"), netInfo("1.2.3.4", 61000), nil, nil, nil, "")
				Expect(err).NotTo(HaveOccurred(), "start %d", i)
				_, _, _, err = store.CrashActualLRP(ctx(), logger, k, instanceKey("ig", "cell-1"), "oom")
				Expect(err).NotTo(HaveOccurred())
			}
			before, after, err := store.UnclaimCrashedActualLRP(ctx(), logger, k)
			Expect(err).NotTo(HaveOccurred())
			Expect(before.State).To(Equal(models.ActualLRPStateCrashed))
			Expect(after.State).To(Equal(models.ActualLRPStateUnclaimed))
			Expect(after.CrashCount).To(Equal(int32(3)))
		})
	})

	Describe("desired LRPs", func() {
		It("reads the scheduling infos and reaps run infos orphaned longer than the timeout", func() {
			Expect(store.DesireLRP(ctx(), logger, desiredLRP("kept", "d", 2))).To(Succeed())
			orphan := func(pg string) {
				Expect(store.DesireLRP(ctx(), logger, desiredLRP(pg, "d", 1))).To(Succeed())
				rawDelete(keys.SchedulingInfo(pg))
			}
			orphan("old-orphan")
			clock.Increment(40 * time.Second)
			orphan("young-orphan")
			rawPut(keys.SchedulingInfo("bad"), "garbage")
			rawPut(keys.RunInfo("bad-run"), "garbage")
			clock.Increment(21 * time.Second) // old-orphan is 61 s old, young-orphan 21 s

			infos, stats, err := store.ConvergenceSchedulingInfos(ctx(), logger, time.Minute)
			Expect(err).NotTo(HaveOccurred())
			Expect(infos).To(HaveLen(1))
			Expect(infos[0].DesiredLrpKey.ProcessGuid).To(Equal("kept"))
			Expect(stats).To(Equal(db.DesiredLRPGatherStats{MalformedSchedulingInfos: 1, MalformedRunInfos: 1, OrphanedRunInfos: 1}))
			_, found := rawValue(keys.RunInfo("old-orphan"))
			Expect(found).To(BeFalse())
			_, found = rawValue(keys.RunInfo("young-orphan"))
			Expect(found).To(BeTrue())
			_, found = rawValue(keys.RunInfo("kept"))
			Expect(found).To(BeTrue())
		})
	})
})
