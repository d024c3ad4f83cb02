package etcddb_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	"diego/bbs/db"
	"diego/bbs/db/etcddb"
	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/models"
)

// Each spec stages one race deterministically: the competing write runs
// inside the first round of the write under test, between its read and its
// transaction, so that the transaction's guard fails. The write must then
// re-read and answer as if the two calls had come one after the other
// (decision 40): re-applied when still legal, the operation's own error
// when not, never ResourceConflict.
var _ = Describe("A write that loses a race re-reads and re-applies", func() {
	const (
		guid   = "t"
		pg     = "pg-1"
		domain = "dom"
	)
	var (
		clock *fakeclock.FakeClock
		store *etcddb.ETCDDB
		keys  etcddb.Keys
		key   *models.ActualLRPKey
		k1    *models.ActualLRPInstanceKey
		k2    *models.ActualLRPInstanceKey
	)
	logger := logging.Discard()

	BeforeEach(func() {
		clock = fakeclock.NewFakeClock(time.Unix(1_700_000_000, 0))
		store = newStore(etcdClient, clock, "")
		keys = store.Keys()
		key = lrpKey(pg, 0, domain)
		k1 = instanceKey("ig-1", "cell-1")
		k2 = instanceKey("ig-2", "cell-2")
		DeferCleanup(func() { etcddb.SetRaceHook(nil) })
	})

	// racing runs race once, inside the first round of op, and counts
	// op's rounds.
	racing := func(op string, race func()) *int {
		GinkgoHelper()
		rounds, raced := 0, false
		etcddb.SetRaceHook(func(o string, attempt int) {
			if o != op {
				return
			}
			rounds++
			if !raced {
				raced = true
				race()
			}
		})
		return &rounds
	}
	desire := func() {
		GinkgoHelper()
		_, err := store.DesireTask(ctx(), logger, taskDefinition(), guid, "d")
		Expect(err).NotTo(HaveOccurred())
	}
	task := func() *models.Task {
		GinkgoHelper()
		t, err := store.TaskByGuid(ctx(), logger, guid)
		Expect(err).NotTo(HaveOccurred())
		return t
	}

	Describe("tasks", func() {
		BeforeEach(desire)

		It("CancelTask that loses to StartTask cancels the running task and names its cell", func() {
			rounds := racing("cancel-task", func() {
				_, _, _, err := store.StartTask(ctx(), logger, guid, "cell-1")
				Expect(err).NotTo(HaveOccurred())
			})
			before, after, cell, err := store.CancelTask(ctx(), logger, guid)
			Expect(err).NotTo(HaveOccurred())
			Expect(*rounds).To(Equal(2))
			Expect(before.State).To(Equal(models.Task_Running))
			Expect(cell).To(Equal("cell-1"), "the BBS must tell that cell's rep")
			Expect(after.State).To(Equal(models.Task_Completed))
			Expect(task().FailureReason).To(Equal("task was cancelled"))
			Expect(rawKeys(keys.TaskByCellPrefix("cell-1"))).To(BeEmpty())
		})

		It("StartTask that loses to CancelTask answers Cannot transition from Completed to Running", func() {
			racing("start-task", func() {
				_, _, _, err := store.CancelTask(ctx(), logger, guid)
				Expect(err).NotTo(HaveOccurred())
			})
			_, _, should, err := store.StartTask(ctx(), logger, guid, "cell-1")
			expectModelError(err, models.Error_InvalidStateTransition, "Cannot transition from Completed to Running")
			Expect(should).To(BeFalse())
			Expect(task().State).To(Equal(models.Task_Completed))
		})

		It("StartTask that loses to the same cell's start succeeds without a second start", func() {
			racing("start-task", func() {
				_, _, should, err := store.StartTask(ctx(), logger, guid, "cell-1")
				Expect(err).NotTo(HaveOccurred())
				Expect(should).To(BeTrue())
			})
			_, _, should, err := store.StartTask(ctx(), logger, guid, "cell-1")
			Expect(err).NotTo(HaveOccurred())
			Expect(should).To(BeFalse())
		})

		It("StartTask that loses to another cell's start answers Running to Running", func() {
			racing("start-task", func() {
				_, _, _, err := store.StartTask(ctx(), logger, guid, "cell-2")
				Expect(err).NotTo(HaveOccurred())
			})
			_, _, _, err := store.StartTask(ctx(), logger, guid, "cell-1")
			expectModelError(err, models.Error_InvalidStateTransition, "Cannot transition from Running to Running")
			Expect(task().CellId).To(Equal("cell-2"))
		})

		It("CompleteTask that loses to CancelTask answers Completed to Completed and keeps the cancellation", func() {
			_, _, _, err := store.StartTask(ctx(), logger, guid, "cell-1")
			Expect(err).NotTo(HaveOccurred())
			racing("complete-task", func() {
				_, _, _, err := store.CancelTask(ctx(), logger, guid)
				Expect(err).NotTo(HaveOccurred())
			})
			_, _, err = store.CompleteTask(ctx(), logger, guid, "cell-1", false, "", "result")
			expectModelError(err, models.Error_InvalidStateTransition, "Cannot transition from Completed to Completed")
			Expect(task().FailureReason).To(Equal("task was cancelled"))
		})

		It("RejectTask that loses to another rejection counts both", func() {
			racing("reject-task", func() {
				_, _, err := store.RejectTask(ctx(), logger, guid, "first", 3)
				Expect(err).NotTo(HaveOccurred())
			})
			_, after, err := store.RejectTask(ctx(), logger, guid, "second", 3)
			Expect(err).NotTo(HaveOccurred())
			Expect(after.RejectionCount).To(BeEquivalentTo(2))
			Expect(task().RejectionReason).To(Equal("second"))
		})

		It("RejectTask that loses to a rejection that used the last retry fails the task on the fresh count", func() {
			racing("reject-task", func() {
				_, _, err := store.RejectTask(ctx(), logger, guid, "first", 1)
				Expect(err).NotTo(HaveOccurred())
			})
			_, after, err := store.RejectTask(ctx(), logger, guid, "insufficient resources: memory", 1)
			Expect(err).NotTo(HaveOccurred())
			Expect(after.State).To(Equal(models.Task_Completed))
			Expect(after.Failed).To(BeTrue())
			Expect(after.FailureReason).To(Equal("insufficient resources: memory"))
		})

		It("FailTask that loses to StartTask fails the running task", func() {
			racing("fail-task", func() {
				_, _, _, err := store.StartTask(ctx(), logger, guid, "cell-1")
				Expect(err).NotTo(HaveOccurred())
			})
			before, after, err := store.FailTask(ctx(), logger, guid, "boom")
			Expect(err).NotTo(HaveOccurred())
			Expect(before.CellId).To(Equal("cell-1"))
			Expect(after.FailureReason).To(Equal("boom"))
		})

		It("ResolvingTask that loses to another resolving answers Resolving to Resolving", func() {
			_, _, err := store.FailTask(ctx(), logger, guid, "boom")
			Expect(err).NotTo(HaveOccurred())
			racing("resolving-task", func() {
				_, _, err := store.ResolvingTask(ctx(), logger, guid)
				Expect(err).NotTo(HaveOccurred())
			})
			_, _, err = store.ResolvingTask(ctx(), logger, guid)
			expectModelError(err, models.Error_InvalidStateTransition, "Cannot transition from Resolving to Resolving")
		})

		It("DeleteTask that loses to a demotion answers InvalidStateTransition and keeps the task", func() {
			_, _, err := store.FailTask(ctx(), logger, guid, "boom")
			Expect(err).NotTo(HaveOccurred())
			_, resolving, err := store.ResolvingTask(ctx(), logger, guid)
			Expect(err).NotTo(HaveOccurred())
			racing("delete-task", func() {
				clock.Increment(time.Second)
				_, err := store.DemoteTask(ctx(), logger, resolving)
				Expect(err).NotTo(HaveOccurred())
			})
			_, err = store.DeleteTask(ctx(), logger, guid)
			expectModelError(err, models.Error_InvalidStateTransition)
			Expect(task().State).To(Equal(models.Task_Completed))
		})

		It("DeleteTask that loses to a convergence delete answers ResourceNotFound", func() {
			_, _, err := store.FailTask(ctx(), logger, guid, "boom")
			Expect(err).NotTo(HaveOccurred())
			_, resolving, err := store.ResolvingTask(ctx(), logger, guid)
			Expect(err).NotTo(HaveOccurred())
			racing("delete-task", func() {
				Expect(store.DeleteExpiredTask(ctx(), logger, resolving)).To(Succeed())
			})
			_, err = store.DeleteTask(ctx(), logger, guid)
			expectModelError(err, models.Error_ResourceNotFound)
		})

		It("the convergence failure of an expired pending task still applies after a racing rejection", func() {
			read := task()
			racing("converge-fail-task", func() {
				_, _, err := store.RejectTask(ctx(), logger, guid, "no room", 3)
				Expect(err).NotTo(HaveOccurred())
			})
			clock.Increment(time.Second)
			after, err := store.ConvergeFailTask(ctx(), logger, read, models.TaskNotStartedInTimeReason)
			Expect(err).NotTo(HaveOccurred())
			Expect(after.FailureReason).To(Equal("not started within time limit"))
			Expect(after.RejectionCount).To(BeEquivalentTo(1))
		})

		It("gives up with ResourceConflict only when every round loses", func() {
			attempts := 0
			etcddb.SetRaceHook(func(op string, _ int) {
				if op != "cancel-task" {
					return
				}
				attempts++
				// A legal write that leaves the task PENDING, every round.
				value, _ := rawValue(keys.Task(guid))
				rawPut(keys.Task(guid), string(value))
			})
			_, _, _, err := store.CancelTask(ctx(), logger, guid)
			expectModelError(err, models.Error_ResourceConflict)
			Expect(attempts).To(Equal(etcddb.CASAttempts))
			Expect(task().State).To(Equal(models.Task_Pending))
		})
	})

	Describe("actual LRPs", func() {
		BeforeEach(func() {
			Expect(store.DesireLRP(ctx(), logger, desiredLRP(pg, domain, 1))).To(Succeed())
			_, err := store.CreateUnclaimedActualLRP(ctx(), logger, key)
			Expect(err).NotTo(HaveOccurred())
		})
		start := func(k *models.ActualLRPInstanceKey, address string) {
			GinkgoHelper()
			_, _, err := store.StartActualLRP(ctx(), logger, key, k, netInfo(address, 61001), nil, nil, nil, "")
			Expect(err).NotTo(HaveOccurred())
		}
		instance := func() *models.ActualLRP {
			GinkgoHelper()
			lrps, err := store.ActualLRPs(ctx(), logger, db.ActualLRPFilter{ProcessGuid: pg})
			Expect(err).NotTo(HaveOccurred())
			for _, l := range lrps {
				if l.Presence == models.ActualLRP_ORDINARY {
					return l
				}
			}
			return nil
		}

		It("ClaimActualLRP that loses to another cell's claim answers ActualLRPCannotBeClaimed", func() {
			racing("claim-actual-lrp", func() {
				_, _, err := store.ClaimActualLRP(ctx(), logger, pg, 0, k2)
				Expect(err).NotTo(HaveOccurred())
			})
			_, _, err := store.ClaimActualLRP(ctx(), logger, pg, 0, k1)
			expectModelError(err, models.Error_ActualLRPCannotBeClaimed)
			Expect(instance().ActualLrpInstanceKey.InstanceGuid).To(Equal("ig-2"))
		})

		It("CrashActualLRP that loses to the same instance's start re-report crashes it", func() {
			start(k1, "1.1.1.1")
			racing("crash-actual-lrp", func() { start(k1, "2.2.2.2") })
			_, after, restart, err := store.CrashActualLRP(ctx(), logger, key, k1, "oom")
			Expect(err).NotTo(HaveOccurred())
			Expect(restart).To(BeTrue())
			Expect(after.State).To(Equal(models.ActualLRPStateUnclaimed))
			Expect(instance().CrashReason).To(Equal("oom"))
		})

		It("ClaimActualLRP that loses to the auctioneer's FailActualLRP claims the record and clears the error", func() {
			racing("claim-actual-lrp", func() {
				_, _, err := store.FailActualLRP(ctx(), logger, key, "insufficient resources")
				Expect(err).NotTo(HaveOccurred())
			})
			before, after, err := store.ClaimActualLRP(ctx(), logger, pg, 0, k2)
			Expect(err).NotTo(HaveOccurred())
			Expect(before.PlacementError).To(Equal("insufficient resources"))
			Expect(after.State).To(Equal(models.ActualLRPStateClaimed))
			Expect(instance().PlacementError).To(BeEmpty())
		})

		It("CrashActualLRP that loses to the desired LRP's removal deletes the record instead of restarting it", func() {
			start(k1, "1.1.1.1")
			racing("crash-actual-lrp", func() {
				_, err := store.RemoveDesiredLRP(ctx(), logger, pg)
				Expect(err).NotTo(HaveOccurred())
			})
			_, after, restart, err := store.CrashActualLRP(ctx(), logger, key, k1, "oom")
			Expect(err).NotTo(HaveOccurred())
			Expect(after).To(BeNil())
			Expect(restart).To(BeFalse())
			Expect(instance()).To(BeNil())
		})

		It("FailActualLRP that loses to a claim answers ActualLRPCannotBeFailed", func() {
			racing("fail-actual-lrp", func() {
				_, _, err := store.ClaimActualLRP(ctx(), logger, pg, 0, k1)
				Expect(err).NotTo(HaveOccurred())
			})
			_, _, err := store.FailActualLRP(ctx(), logger, key, "insufficient resources")
			expectModelError(err, models.Error_ActualLRPCannotBeFailed)
		})

		It("RetireActualLRP that loses to a claim returns the claimed record for its rep to stop", func() {
			racing("retire-actual-lrp", func() {
				_, _, err := store.ClaimActualLRP(ctx(), logger, pg, 0, k1)
				Expect(err).NotTo(HaveOccurred())
			})
			lrp, removed, err := store.RetireActualLRP(ctx(), logger, key)
			Expect(err).NotTo(HaveOccurred())
			Expect(removed).To(BeFalse())
			Expect(lrp.State).To(Equal(models.ActualLRPStateClaimed))
		})

		It("RemoveActualLRP that loses to a start by the same instance removes it", func() {
			_, _, err := store.ClaimActualLRP(ctx(), logger, pg, 0, k1)
			Expect(err).NotTo(HaveOccurred())
			racing("remove-actual-lrp", func() { start(k1, "1.1.1.1") })
			Expect(store.RemoveActualLRP(ctx(), logger, pg, 0, k1)).To(Succeed())
			Expect(instance()).To(BeNil())
		})

		It("StartActualLRP whose create loses to convergence's create starts the new record", func() {
			rawDelete(keys.ActualInstance(pg, 0))
			racing("start-actual-lrp", func() {
				_, err := store.CreateUnclaimedActualLRP(ctx(), logger, key)
				Expect(err).NotTo(HaveOccurred())
			})
			before, after, err := store.StartActualLRP(ctx(), logger, key, k1, netInfo("1.1.1.1", 61001), nil, nil, nil, "")
			Expect(err).NotTo(HaveOccurred())
			Expect(before.State).To(Equal(models.ActualLRPStateUnclaimed))
			Expect(after.State).To(Equal(models.ActualLRPStateRunning))
		})

		It("UnclaimCrashedActualLRP that loses to a removal answers ResourceNotFound", func() {
			start(k1, "1.1.1.1")
			for range 3 {
				_, _, _, err := store.CrashActualLRP(ctx(), logger, key, instance().ActualLrpInstanceKey, "oom")
				if instance().State != models.ActualLRPStateCrashed {
					Expect(err).NotTo(HaveOccurred())
					_, _, err = store.ClaimActualLRP(ctx(), logger, pg, 0, k1)
					Expect(err).NotTo(HaveOccurred())
					start(k1, "1.1.1.1")
				}
			}
			Expect(instance().State).To(Equal(models.ActualLRPStateCrashed))
			racing("unclaim-crashed-actual-lrp", func() {
				_, removed, err := store.RetireActualLRP(ctx(), logger, key)
				Expect(err).NotTo(HaveOccurred())
				Expect(removed).To(BeTrue())
			})
			_, _, err := store.UnclaimCrashedActualLRP(ctx(), logger, key)
			expectModelError(err, models.Error_ResourceNotFound)
		})

		It("RemoveEvacuatingActualLRP that loses to the same cell refreshing its record removes it", func() {
			start(k1, "1.1.1.1")
			keep, _, err := store.EvacuateRunningActualLRP(ctx(), logger, key, k1, netInfo("1.1.1.1", 61001), time.Minute, nil, nil, nil, "")
			Expect(err).NotTo(HaveOccurred())
			Expect(keep).To(BeTrue())
			racing("remove-evacuating-actual-lrp", func() {
				keep, _, err := store.EvacuateRunningActualLRP(ctx(), logger, key, k1, netInfo("1.1.1.9", 61001), time.Minute, nil, nil, nil, "")
				Expect(err).NotTo(HaveOccurred())
				Expect(keep).To(BeTrue())
			})
			Expect(store.RemoveEvacuatingActualLRP(ctx(), logger, key, k1)).To(Succeed())
			_, ok := rawValue(keys.ActualEvacuating(pg, 0))
			Expect(ok).To(BeFalse())
		})

		It("EvacuateRunningActualLRP that loses to its own instance's crash removes its evacuating record", func() {
			start(k1, "1.1.1.1")
			racing("evacuate-running-actual-lrp", func() {
				_, _, _, err := store.CrashActualLRP(ctx(), logger, key, k1, "oom")
				Expect(err).NotTo(HaveOccurred())
			})
			keep, needsAuction, err := store.EvacuateRunningActualLRP(ctx(), logger, key, k1, netInfo("1.1.1.1", 61001), time.Minute, nil, nil, nil, "")
			Expect(err).NotTo(HaveOccurred())
			// The crash restarted the index UNCLAIMED with no placement
			// error: the replacement is pending, so this cell keeps
			// routing to its container meanwhile.
			Expect(keep).To(BeTrue())
			Expect(needsAuction).To(BeFalse())
			_, ok := rawValue(keys.ActualEvacuating(pg, 0))
			Expect(ok).To(BeTrue())
		})
	})

	Describe("desired LRPs", func() {
		BeforeEach(func() {
			Expect(store.DesireLRP(ctx(), logger, desiredLRP(pg, domain, 1))).To(Succeed())
		})

		It("UpdateDesiredLRP that loses to RemoveDesiredLRP answers ResourceNotFound", func() {
			racing("update-desired-lrp", func() {
				_, err := store.RemoveDesiredLRP(ctx(), logger, pg)
				Expect(err).NotTo(HaveOccurred())
			})
			_, _, err := store.UpdateDesiredLRP(ctx(), logger, pg, &models.DesiredLRPUpdate{Instances: proto.Int32(3)})
			expectModelError(err, models.Error_ResourceNotFound)
		})

		It("RemoveDesiredLRP that loses to an update removes the updated LRP", func() {
			racing("remove-desired-lrp", func() {
				_, _, err := store.UpdateDesiredLRP(ctx(), logger, pg, &models.DesiredLRPUpdate{Instances: proto.Int32(3)})
				Expect(err).NotTo(HaveOccurred())
			})
			removed, err := store.RemoveDesiredLRP(ctx(), logger, pg)
			Expect(err).NotTo(HaveOccurred())
			Expect(removed.Instances).To(BeEquivalentTo(3))
			_, err = store.DesiredLRPByProcessGuid(ctx(), logger, pg)
			expectModelError(err, models.Error_ResourceNotFound)
		})
	})
})
