package etcddb_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"diego/bbs/db"
	"diego/bbs/db/etcddb"
	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/models"
)

var _ = Describe("Tasks", func() {
	const (
		guid   = "task-guid"
		domain = "the-domain"
	)

	var (
		clock   *fakeclock.FakeClock
		store   *etcddb.ETCDDB
		keys    etcddb.Keys
		desired int64
	)

	BeforeEach(func() {
		clock = fakeclock.NewFakeClock(time.Unix(1_700_000_000, 0))
		store = newStore(etcdClient, clock, "")
		keys = store.Keys()
		desired = clock.Now().UnixNano()
	})

	logger := logging.Discard()

	desire := func(taskGuid, taskDomain string) *models.Task {
		GinkgoHelper()
		t, err := store.DesireTask(ctx(), logger, taskDefinition(), taskGuid, taskDomain)
		Expect(err).NotTo(HaveOccurred())
		return t
	}

	stored := func(taskGuid string) *models.Task {
		GinkgoHelper()
		t, err := store.TaskByGuid(ctx(), logger, taskGuid)
		Expect(err).NotTo(HaveOccurred())
		return t
	}

	start := func(taskGuid, cell string) {
		GinkgoHelper()
		_, _, should, err := store.StartTask(ctx(), logger, taskGuid, cell)
		Expect(err).NotTo(HaveOccurred())
		Expect(should).To(BeTrue())
	}

	complete := func(taskGuid, cell string) {
		GinkgoHelper()
		_, _, err := store.CompleteTask(ctx(), logger, taskGuid, cell, false, "", "ok")
		Expect(err).NotTo(HaveOccurred())
	}

	resolving := func(taskGuid string) {
		GinkgoHelper()
		_, _, err := store.ResolvingTask(ctx(), logger, taskGuid)
		Expect(err).NotTo(HaveOccurred())
	}

	// inState puts a fresh task into state by the legal path.
	inState := func(state models.Task_State) {
		GinkgoHelper()
		desire(guid, domain)
		switch state {
		case models.Task_Pending:
		case models.Task_Running:
			start(guid, "cell-1")
		case models.Task_Completed:
			start(guid, "cell-1")
			complete(guid, "cell-1")
		case models.Task_Resolving:
			start(guid, "cell-1")
			complete(guid, "cell-1")
			resolving(guid)
		}
		Expect(stored(guid).GetState()).To(Equal(state))
		clock.Increment(time.Minute)
	}

	Describe("the key schema", func() {
		It("defaults the root and keeps the spec's record names", func() {
			k := etcddb.NewKeys("")
			Expect(k.Root()).To(Equal("/diego"))
			Expect(k.Task("g")).To(Equal("/diego/v1/task/g"))
			Expect(k.SchedulingInfo("pg")).To(Equal("/diego/v1/desired_lrp/schedule/pg"))
			Expect(k.RunInfo("pg")).To(Equal("/diego/v1/desired_lrp/run/pg"))
			Expect(k.ActualInstance("pg", 3)).To(Equal("/diego/v1/actual/pg/3/instance"))
			Expect(k.ActualEvacuating("pg", 3)).To(Equal("/diego/v1/actual/pg/3/evacuating"))
			Expect(k.Domain("d")).To(Equal("/diego/v1/domain/d"))
			Expect(k.Cell("c")).To(Equal("/diego/v1/cell/c"))
			Expect(k.Lock("converger")).To(Equal("/diego/v1/locks/converger"))
			Expect(k.TaskByCell("c", "g")).To(Equal("/diego/v1/index/task-by-cell/c/g"))
			Expect(k.TaskByDomain("d", "g")).To(Equal("/diego/v1/index/task-by-domain/d/g"))
			Expect(k.ActualByCell("c", "pg", 2, true)).To(Equal("/diego/v1/index/actual-by-cell/c/pg/2/evacuating"))
			Expect(k.DesiredByDomain("d", "pg")).To(Equal("/diego/v1/index/desired-by-domain/d/pg"))
		})

		It("takes any root and escapes index segments", func() {
			k := etcddb.NewKeys("/other/")
			Expect(k.Task("g")).To(Equal("/other/v1/task/g"))
			Expect(k.TaskByDomain("a/b", "g")).To(Equal("/other/v1/index/task-by-domain/a%2Fb/g"))
			Expect(k.TaskByDomain("a/b", "g")).NotTo(HavePrefix(k.TaskByDomainPrefix("a")))
		})
	})

	Describe("DesireTask", func() {
		It("creates a PENDING task stamped now", func() {
			t := desire(guid, domain)
			Expect(t.GetState()).To(Equal(models.Task_Pending))
			Expect(t.GetTaskGuid()).To(Equal(guid))
			Expect(t.GetDomain()).To(Equal(domain))
			Expect(t.GetCreatedAt()).To(Equal(desired))
			Expect(t.GetUpdatedAt()).To(Equal(desired))
			Expect(t.GetTaskDefinition()).To(BeComparableTo(taskDefinition(), protocmp.Transform()))
			Expect(stored(guid)).To(BeComparableTo(t, protocmp.Transform()))
		})

		It("stores the record in the spec's envelope", func() {
			t := desire(guid, domain)
			value, ok := rawValue(keys.Task(guid))
			Expect(ok).To(BeTrue())
			Expect(value[:2]).To(Equal([]byte{2, 0}))
			var decoded models.Task
			Expect(proto.Unmarshal(value[2:], &decoded)).To(Succeed())
			Expect(&decoded).To(BeComparableTo(t, protocmp.Transform()))
		})

		It("refuses an existing guid with ResourceExists", func() {
			desire(guid, domain)
			_, err := store.DesireTask(ctx(), logger, taskDefinition(), guid, "other")
			expectModelError(err, models.Error_ResourceExists, models.ErrResourceExists.Message)
			Expect(stored(guid).GetDomain()).To(Equal(domain))
			Expect(rawKeys(keys.TaskByDomainPrefix("other"))).To(BeEmpty())
		})
	})

	Describe("TaskByGuid", func() {
		It("returns ResourceNotFound for a missing task", func() {
			_, err := store.TaskByGuid(ctx(), logger, "missing")
			expectModelError(err, models.Error_ResourceNotFound, models.ErrResourceNotFound.Message)
			Expect(err.Error()).To(ContainSubstring("/diego/v1/task/missing"))
		})
	})

	Describe("StartTask", func() {
		It("moves a PENDING task to RUNNING on the cell", func() {
			inState(models.Task_Pending)
			before, after, should, err := store.StartTask(ctx(), logger, guid, "cell-1")
			Expect(err).NotTo(HaveOccurred())
			Expect(should).To(BeTrue())
			Expect(before.GetState()).To(Equal(models.Task_Pending))
			Expect(after.GetState()).To(Equal(models.Task_Running))
			Expect(after.GetCellId()).To(Equal("cell-1"))
			Expect(after.GetUpdatedAt()).To(Equal(clock.Now().UnixNano()))
			Expect(after.GetCreatedAt()).To(Equal(desired))
			Expect(stored(guid)).To(BeComparableTo(after, protocmp.Transform()))
		})

		It("succeeds without a write when already RUNNING on the same cell", func() {
			inState(models.Task_Running)
			_, revBefore, err := store.TaskWithRevision(ctx(), guid)
			Expect(err).NotTo(HaveOccurred())

			_, after, should, err := store.StartTask(ctx(), logger, guid, "cell-1")
			Expect(err).NotTo(HaveOccurred())
			Expect(should).To(BeFalse())
			Expect(after.GetCellId()).To(Equal("cell-1"))

			_, revAfter, err := store.TaskWithRevision(ctx(), guid)
			Expect(err).NotTo(HaveOccurred())
			Expect(revAfter).To(Equal(revBefore))
		})

		It("refuses a task RUNNING on another cell", func() {
			inState(models.Task_Running)
			_, _, _, err := store.StartTask(ctx(), logger, guid, "cell-2")
			expectModelError(err, models.Error_InvalidStateTransition, "Cannot transition from Running to Running")
			Expect(stored(guid).GetCellId()).To(Equal("cell-1"))
		})

		DescribeTable("refuses other states",
			func(state models.Task_State, msg string) {
				inState(state)
				_, _, _, err := store.StartTask(ctx(), logger, guid, "cell-1")
				expectModelError(err, models.Error_InvalidStateTransition, msg)
			},
			Entry("completed", models.Task_Completed, "Cannot transition from Completed to Running"),
			Entry("resolving", models.Task_Resolving, "Cannot transition from Resolving to Running"),
		)

		It("returns ResourceNotFound for a missing task", func() {
			_, _, _, err := store.StartTask(ctx(), logger, "missing", "cell-1")
			expectModelError(err, models.Error_ResourceNotFound)
		})
	})

	Describe("CompleteTask", func() {
		It("completes a task RUNNING on the cell, clearing the cell", func() {
			inState(models.Task_Running)
			before, after, err := store.CompleteTask(ctx(), logger, guid, "cell-1", true, "boom", "the-result")
			Expect(err).NotTo(HaveOccurred())
			Expect(before.GetState()).To(Equal(models.Task_Running))
			now := clock.Now().UnixNano()
			Expect(after.GetState()).To(Equal(models.Task_Completed))
			Expect(after.GetCellId()).To(BeEmpty())
			Expect(after.GetFailed()).To(BeTrue())
			Expect(after.GetFailureReason()).To(Equal("boom"))
			Expect(after.GetResult()).To(Equal("the-result"))
			Expect(after.GetFirstCompletedAt()).To(Equal(now))
			Expect(after.GetUpdatedAt()).To(Equal(now))
			Expect(stored(guid)).To(BeComparableTo(after, protocmp.Transform()))
		})

		It("refuses a task RUNNING on another cell", func() {
			inState(models.Task_Running)
			_, _, err := store.CompleteTask(ctx(), logger, guid, "cell-2", false, "", "")
			expectModelError(err, models.Error_RunningOnDifferentCell, "Running on cell cell-1 not cell-2")
			Expect(stored(guid).GetState()).To(Equal(models.Task_Running))
		})

		DescribeTable("refuses other states",
			func(state models.Task_State, msg string) {
				inState(state)
				_, _, err := store.CompleteTask(ctx(), logger, guid, "cell-1", false, "", "")
				expectModelError(err, models.Error_InvalidStateTransition, msg)
			},
			Entry("pending", models.Task_Pending, "Cannot transition from Pending to Completed"),
			Entry("completed", models.Task_Completed, "Cannot transition from Completed to Completed"),
			Entry("resolving", models.Task_Resolving, "Cannot transition from Resolving to Completed"),
		)
	})

	Describe("CancelTask", func() {
		DescribeTable("completes a PENDING or RUNNING task as cancelled",
			func(state models.Task_State, wantCell string) {
				inState(state)
				before, after, cell, err := store.CancelTask(ctx(), logger, guid)
				Expect(err).NotTo(HaveOccurred())
				Expect(cell).To(Equal(wantCell))
				Expect(before.GetState()).To(Equal(state))
				Expect(after.GetState()).To(Equal(models.Task_Completed))
				Expect(after.GetFailed()).To(BeTrue())
				Expect(after.GetFailureReason()).To(Equal(models.TaskCancelledReason))
				Expect(after.GetCellId()).To(BeEmpty())
				Expect(after.GetFirstCompletedAt()).To(Equal(clock.Now().UnixNano()))
				Expect(after.GetUpdatedAt()).To(Equal(clock.Now().UnixNano()))
				Expect(stored(guid)).To(BeComparableTo(after, protocmp.Transform()))
			},
			Entry("pending: no cell to tell", models.Task_Pending, ""),
			Entry("running: the cell it was on", models.Task_Running, "cell-1"),
		)

		DescribeTable("refuses finished tasks",
			func(state models.Task_State, msg string) {
				inState(state)
				_, _, _, err := store.CancelTask(ctx(), logger, guid)
				expectModelError(err, models.Error_InvalidStateTransition, msg)
			},
			Entry("completed", models.Task_Completed, "Cannot transition from Completed to Completed"),
			Entry("resolving", models.Task_Resolving, "Cannot transition from Resolving to Completed"),
		)
	})

	Describe("FailTask", func() {
		DescribeTable("completes a PENDING or RUNNING task as failed",
			func(state models.Task_State) {
				inState(state)
				_, after, err := store.FailTask(ctx(), logger, guid, "no cells")
				Expect(err).NotTo(HaveOccurred())
				Expect(after.GetState()).To(Equal(models.Task_Completed))
				Expect(after.GetFailed()).To(BeTrue())
				Expect(after.GetFailureReason()).To(Equal("no cells"))
				Expect(after.GetCellId()).To(BeEmpty())
				Expect(after.GetFirstCompletedAt()).To(Equal(clock.Now().UnixNano()))
				Expect(stored(guid)).To(BeComparableTo(after, protocmp.Transform()))
			},
			Entry("pending", models.Task_Pending),
			Entry("running", models.Task_Running),
		)

		It("truncates the reason to 1024 bytes", func() {
			inState(models.Task_Pending)
			_, after, err := store.FailTask(ctx(), logger, guid, strings.Repeat("x", 2000))
			Expect(err).NotTo(HaveOccurred())
			Expect(after.GetFailureReason()).To(HaveLen(1024))
		})

		DescribeTable("refuses finished tasks",
			func(state models.Task_State, msg string) {
				inState(state)
				_, _, err := store.FailTask(ctx(), logger, guid, "x")
				expectModelError(err, models.Error_InvalidStateTransition, msg)
			},
			Entry("completed", models.Task_Completed, "Cannot transition from Completed to Completed"),
			Entry("resolving", models.Task_Resolving, "Cannot transition from Resolving to Completed"),
		)
	})

	Describe("RejectTask", func() {
		It("puts a RUNNING task back to PENDING with one more rejection", func() {
			inState(models.Task_Running)
			before, after, err := store.RejectTask(ctx(), logger, guid, "out of memory", 3)
			Expect(err).NotTo(HaveOccurred())
			Expect(before.GetState()).To(Equal(models.Task_Running))
			Expect(after.GetState()).To(Equal(models.Task_Pending))
			Expect(after.GetCellId()).To(BeEmpty())
			Expect(after.GetRejectionCount()).To(Equal(int32(1)))
			Expect(after.GetRejectionReason()).To(Equal("out of memory"))
			Expect(after.GetUpdatedAt()).To(Equal(clock.Now().UnixNano()))
			Expect(stored(guid)).To(BeComparableTo(after, protocmp.Transform()))
		})

		It("fails the task once the count before the call reaches the maximum", func() {
			inState(models.Task_Pending)
			for i := 1; i <= 3; i++ {
				_, after, err := store.RejectTask(ctx(), logger, guid, "full", 3)
				Expect(err).NotTo(HaveOccurred())
				Expect(after.GetState()).To(Equal(models.Task_Pending))
				Expect(after.GetRejectionCount()).To(Equal(int32(i)))
			}
			clock.Increment(time.Second)
			_, after, err := store.RejectTask(ctx(), logger, guid, "still full", 3)
			Expect(err).NotTo(HaveOccurred())
			Expect(after.GetState()).To(Equal(models.Task_Completed))
			Expect(after.GetFailed()).To(BeTrue())
			Expect(after.GetFailureReason()).To(Equal("still full"))
			Expect(after.GetFirstCompletedAt()).To(Equal(clock.Now().UnixNano()))
			Expect(stored(guid).GetState()).To(Equal(models.Task_Completed))
		})

		DescribeTable("refuses finished tasks with InvalidRequest",
			func(state models.Task_State) {
				inState(state)
				_, _, err := store.RejectTask(ctx(), logger, guid, "x", 3)
				expectModelError(err, models.Error_InvalidRequest)
			},
			Entry("completed", models.Task_Completed),
			Entry("resolving", models.Task_Resolving),
		)
	})

	Describe("ResolvingTask", func() {
		It("moves a COMPLETED task to RESOLVING", func() {
			inState(models.Task_Completed)
			before, after, err := store.ResolvingTask(ctx(), logger, guid)
			Expect(err).NotTo(HaveOccurred())
			Expect(before.GetState()).To(Equal(models.Task_Completed))
			Expect(after.GetState()).To(Equal(models.Task_Resolving))
			Expect(after.GetUpdatedAt()).To(Equal(clock.Now().UnixNano()))
			Expect(after.GetFirstCompletedAt()).To(Equal(before.GetFirstCompletedAt()))
			Expect(stored(guid)).To(BeComparableTo(after, protocmp.Transform()))
		})

		DescribeTable("refuses other states",
			func(state models.Task_State, msg string) {
				inState(state)
				_, _, err := store.ResolvingTask(ctx(), logger, guid)
				expectModelError(err, models.Error_InvalidStateTransition, msg)
			},
			Entry("pending", models.Task_Pending, "Cannot transition from Pending to Resolving"),
			Entry("running", models.Task_Running, "Cannot transition from Running to Resolving"),
			Entry("resolving", models.Task_Resolving, "Cannot transition from Resolving to Resolving"),
		)
	})

	Describe("DeleteTask", func() {
		It("deletes a RESOLVING task and returns it", func() {
			inState(models.Task_Resolving)
			t, err := store.DeleteTask(ctx(), logger, guid)
			Expect(err).NotTo(HaveOccurred())
			Expect(t.GetState()).To(Equal(models.Task_Resolving))
			_, err = store.TaskByGuid(ctx(), logger, guid)
			expectModelError(err, models.Error_ResourceNotFound)
		})

		DescribeTable("refuses other states, naming Resolving",
			func(state models.Task_State, msg string) {
				inState(state)
				_, err := store.DeleteTask(ctx(), logger, guid)
				expectModelError(err, models.Error_InvalidStateTransition, msg)
				Expect(stored(guid).GetState()).To(Equal(state))
			},
			Entry("pending", models.Task_Pending, "Cannot transition from Pending to Resolving"),
			Entry("running", models.Task_Running, "Cannot transition from Running to Resolving"),
			Entry("completed", models.Task_Completed, "Cannot transition from Completed to Resolving"),
		)

		It("returns ResourceNotFound for a missing task", func() {
			_, err := store.DeleteTask(ctx(), logger, "missing")
			expectModelError(err, models.Error_ResourceNotFound)
		})
	})

	Describe("compare-and-swap", func() {
		It("returns ResourceConflict when the record changed since it was read", func() {
			inState(models.Task_Pending)
			before, rev, err := store.TaskWithRevision(ctx(), guid)
			Expect(err).NotTo(HaveOccurred())

			start(guid, "cell-1") // the write between read and CAS

			after := proto.Clone(before).(*models.Task)
			after.State = models.Task_Running
			after.CellId = "cell-2"
			err = store.SwapTask(ctx(), guid, before, after, rev)
			expectModelError(err, models.Error_ResourceConflict, models.ErrResourceConflict.Message)
			Expect(stored(guid).GetCellId()).To(Equal("cell-1"))
			Expect(rawKeys(keys.TaskByCellPrefix("cell-2"))).To(BeEmpty())
		})

		It("returns ResourceConflict when the record was deleted since", func() {
			inState(models.Task_Resolving)
			before, rev, err := store.TaskWithRevision(ctx(), guid)
			Expect(err).NotTo(HaveOccurred())
			_, err = store.DeleteTask(ctx(), logger, guid)
			Expect(err).NotTo(HaveOccurred())

			err = store.SwapTask(ctx(), guid, before, before, rev)
			expectModelError(err, models.Error_ResourceConflict)
			_, ok := rawValue(keys.Task(guid))
			Expect(ok).To(BeFalse())
		})

		It("guards the delete with the revision read as RESOLVING", func() {
			inState(models.Task_Resolving)
			_, rev, err := store.TaskWithRevision(ctx(), guid)
			Expect(err).NotTo(HaveOccurred())

			// A demotion (here a raw rewrite) between read and delete wins.
			value, _ := rawValue(keys.Task(guid))
			rawPut(keys.Task(guid), string(value))

			err = store.CompareAndDeleteTask(ctx(), guid, rev)
			expectModelError(err, models.Error_ResourceConflict)
			_, ok := rawValue(keys.Task(guid))
			Expect(ok).To(BeTrue())
		})
	})

	Describe("store failures", func() {
		It("are UnknownError with the cause's text", func() {
			cancelled, cancel := contextWithCancel()
			cancel()
			_, err := store.TaskByGuid(cancelled, logger, guid)
			expectModelError(err, models.Error_UnknownError)
			Expect(err.Error()).To(ContainSubstring("context canceled"))
			Expect(err).To(MatchError(ContainSubstring("etcd get")))
		})
	})

	Describe("listing", func() {
		BeforeEach(func() {
			desire("a-pending", "d1")
			desire("b-running-1", "d1")
			desire("c-running-2", "d2")
			desire("d-completed", "d2")
			desire("e-other-domain", "d1/x")
			start("b-running-1", "cell-1")
			start("c-running-2", "cell-2")
			start("d-completed", "cell-1")
			complete("d-completed", "cell-1")
			start("e-other-domain", "cell-1")
		})

		guids := func(filter db.TaskFilter) []string {
			GinkgoHelper()
			tasks, err := store.Tasks(ctx(), logger, filter)
			Expect(err).NotTo(HaveOccurred())
			out := make([]string, len(tasks))
			for i, t := range tasks {
				out[i] = t.GetTaskGuid()
			}
			return out
		}

		It("lists everything with no filter", func() {
			Expect(guids(db.TaskFilter{})).To(ConsistOf("a-pending", "b-running-1", "c-running-2", "d-completed", "e-other-domain"))
		})

		It("lists by domain", func() {
			Expect(guids(db.TaskFilter{Domain: "d1"})).To(ConsistOf("a-pending", "b-running-1"))
			Expect(guids(db.TaskFilter{Domain: "d2"})).To(ConsistOf("c-running-2", "d-completed"))
			Expect(guids(db.TaskFilter{Domain: "d1/x"})).To(ConsistOf("e-other-domain"))
			Expect(guids(db.TaskFilter{Domain: "none"})).To(BeEmpty())
		})

		It("lists by cell, only while the task is on it", func() {
			Expect(guids(db.TaskFilter{CellID: "cell-1"})).To(ConsistOf("b-running-1", "e-other-domain"))
			Expect(guids(db.TaskFilter{CellID: "cell-2"})).To(ConsistOf("c-running-2"))
			Expect(guids(db.TaskFilter{CellID: "cell-3"})).To(BeEmpty())
		})

		It("lists by cell and domain together", func() {
			Expect(guids(db.TaskFilter{CellID: "cell-1", Domain: "d1"})).To(ConsistOf("b-running-1"))
			Expect(guids(db.TaskFilter{CellID: "cell-2", Domain: "d1"})).To(BeEmpty())
		})

		It("reads more tasks than one transaction may hold", func() {
			for i := range 300 {
				g := "many-" + strings.Repeat("0", 3-len(itoa(i))) + itoa(i)
				desire(g, "many")
				start(g, "busy-cell")
			}
			Expect(guids(db.TaskFilter{CellID: "busy-cell"})).To(HaveLen(300))
			Expect(guids(db.TaskFilter{Domain: "many"})).To(HaveLen(300))
		})
	})
})
