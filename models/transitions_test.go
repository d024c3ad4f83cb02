package models_test

import (
	"slices"
	"time"

	"diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var allTaskStates = []models.Task_State{
	models.Task_Invalid, models.Task_Pending, models.Task_Running, models.Task_Completed, models.Task_Resolving,
}

var _ = Describe("Task state machine (spec core §2.1)", func() {
	legal := map[models.TaskOperation][]models.Task_State{
		models.TaskStart:     {models.Task_Pending},
		models.TaskComplete:  {models.Task_Running},
		models.TaskCancel:    {models.Task_Pending, models.Task_Running},
		models.TaskFail:      {models.Task_Pending, models.Task_Running},
		models.TaskReject:    {models.Task_Pending, models.Task_Running},
		models.TaskResolving: {models.Task_Completed},
		models.TaskDelete:    {models.Task_Resolving},
		models.TaskDemote:    {models.Task_Resolving},
	}

	It("allows exactly the legal transitions, for every operation and state", func() {
		for op, from := range legal {
			for _, s := range allTaskStates {
				err := models.ValidateTaskOperation(op, s)
				if slices.Contains(from, s) {
					Expect(err).NotTo(HaveOccurred(), "%s from %s", op, s)
					continue
				}
				Expect(err).To(HaveOccurred(), "%s from %s", op, s)
			}
		}
	})

	DescribeTable("names the states in its errors as Diego does",
		func(op models.TaskOperation, from models.Task_State, errType models.Error_Type, msg string) {
			err := models.ValidateTaskOperation(op, from)
			Expect(err).To(Equal(models.NewError(errType, msg)))
		},
		Entry("start twice", models.TaskStart, models.Task_Running, models.Error_InvalidStateTransition, "Cannot transition from Running to Running"),
		Entry("complete pending", models.TaskComplete, models.Task_Pending, models.Error_InvalidStateTransition, "Cannot transition from Pending to Completed"),
		Entry("cancel completed", models.TaskCancel, models.Task_Completed, models.Error_InvalidStateTransition, "Cannot transition from Completed to Completed"),
		Entry("fail resolving", models.TaskFail, models.Task_Resolving, models.Error_InvalidStateTransition, "Cannot transition from Resolving to Completed"),
		Entry("resolve running", models.TaskResolving, models.Task_Running, models.Error_InvalidStateTransition, "Cannot transition from Running to Resolving"),
		Entry("delete completed", models.TaskDelete, models.Task_Completed, models.Error_InvalidStateTransition, "Cannot transition from Completed to Resolving"),
		Entry("reject completed", models.TaskReject, models.Task_Completed, models.Error_InvalidRequest, "Cannot reject a task in state Completed"),
	)

	It("fills in a completion and truncates the reason", func() {
		t := &models.Task{State: models.Task_Running, CellId: "c"}
		long := make([]byte, 2000)
		for i := range long {
			long[i] = 'x'
		}
		t.TaskCompletion(42, true, string(long), "r")
		Expect(t.State).To(Equal(models.Task_Completed))
		Expect(t.CellId).To(BeEmpty())
		Expect(t.Failed).To(BeTrue())
		Expect(t.FailureReason).To(HaveLen(1024))
		Expect(t.Result).To(Equal("r"))
		Expect(t.UpdatedAt).To(Equal(int64(42)))
		Expect(t.FirstCompletedAt).To(Equal(int64(42)))
	})

	It("rejects until max_task_retries rejections have happened", func() {
		t := &models.Task{State: models.Task_Running, CellId: "c"}
		for i := int32(1); i <= 3; i++ {
			Expect(t.Reject(int64(i), "no room", 3)).To(BeFalse())
			Expect(t.State).To(Equal(models.Task_Pending))
			Expect(t.CellId).To(BeEmpty())
			Expect(t.RejectionCount).To(Equal(i))
			Expect(t.RejectionReason).To(Equal("no room"))
		}
		Expect(t.Reject(9, "no room", 3)).To(BeTrue(), "the fourth rejection fails the task")
		Expect(t.RejectionCount).To(Equal(int32(3)))
	})
})

var _ = Describe("ActualLRP state machine (spec core §2.2)", func() {
	key := &models.ActualLRPKey{ProcessGuid: "pg", Index: 1, Domain: "d"}
	mine := &models.ActualLRPInstanceKey{InstanceGuid: "ig", CellId: "c1"}
	other := &models.ActualLRPInstanceKey{InstanceGuid: "ig2", CellId: "c2"}
	empty := &models.ActualLRPInstanceKey{}

	record := func(state string) *models.ActualLRP {
		a := &models.ActualLRP{ActualLrpKey: key, State: state}
		if state == models.ActualLRPStateClaimed || state == models.ActualLRPStateRunning {
			a.ActualLrpInstanceKey = mine
		}
		return a
	}

	// The spec's table, row by row: for each from-state and to-state, which
	// of the three kinds of instance key the transition accepts.
	type cell struct{ empty, same, other bool }
	table := map[string]map[string]cell{
		"UNCLAIMED": {"UNCLAIMED": {true, true, true}, "CLAIMED": {true, true, true}, "RUNNING": {true, true, true}, "CRASHED": {}},
		"CLAIMED":   {"UNCLAIMED": {empty: true}, "CLAIMED": {same: true}, "RUNNING": {true, true, true}, "CRASHED": {same: true}},
		"RUNNING":   {"UNCLAIMED": {empty: true}, "CLAIMED": {same: true}, "RUNNING": {same: true}, "CRASHED": {same: true}},
		// A CRASHED record has an empty instance key, so "same key" is the empty key.
		"CRASHED": {"UNCLAIMED": {empty: true}, "CLAIMED": {empty: true}, "RUNNING": {empty: true}, "CRASHED": {}},
	}

	It("matches the transition table for every pair of states and key", func() {
		for from, row := range table {
			for to, want := range row {
				before := record(from)
				Expect(before.AllowsTransitionTo(key, empty, to)).To(Equal(want.empty), "%s→%s with an empty key", from, to)
				if from != "CRASHED" {
					Expect(before.AllowsTransitionTo(key, mine, to)).To(Equal(want.same), "%s→%s with the same key", from, to)
				}
				Expect(before.AllowsTransitionTo(key, other, to)).To(Equal(want.other), "%s→%s with another key", from, to)
			}
		}
	})

	It("refuses any transition when the ActualLRPKey differs", func() {
		for from := range table {
			for to := range table[from] {
				other := &models.ActualLRPKey{ProcessGuid: "pg", Index: 2, Domain: "d"}
				Expect(record(from).AllowsTransitionTo(other, mine, to)).To(BeFalse())
			}
		}
	})

	It("refuses transitions from an unknown state", func() {
		Expect(record("SLEEPING").AllowsTransitionTo(key, mine, "RUNNING")).To(BeFalse())
	})

	It("resolves groups as the 2015 receptor did", func() {
		running := &models.ActualLRP{State: "RUNNING"}
		evac := &models.ActualLRP{State: "RUNNING", Presence: models.ActualLRP_EVACUATING}
		for _, tc := range []struct {
			group    *models.ActualLRPGroup
			want     *models.ActualLRP
			evacuate bool
		}{
			{&models.ActualLRPGroup{Instance: running}, running, false},
			{&models.ActualLRPGroup{Evacuating: evac}, evac, true},
			{&models.ActualLRPGroup{Instance: &models.ActualLRP{State: "UNCLAIMED"}, Evacuating: evac}, evac, true},
			{&models.ActualLRPGroup{Instance: &models.ActualLRP{State: "CLAIMED"}, Evacuating: evac}, evac, true},
			{&models.ActualLRPGroup{Instance: running, Evacuating: evac}, running, false},
		} {
			got, evacuating := models.ResolveActualLRPGroup(tc.group)
			Expect(got).To(BeIdenticalTo(tc.want))
			Expect(evacuating).To(Equal(tc.evacuate))
		}
	})
})

var _ = Describe("Crash restart policy (spec core §5.8)", func() {
	since := time.Unix(1000, 0)

	DescribeTable("backoff by crash count",
		func(count int32, wait time.Duration) {
			Expect(models.CrashBackoff(count)).To(Equal(wait))
		},
		Entry("3", int32(3), 30*time.Second),
		Entry("4", int32(4), time.Minute),
		Entry("5", int32(5), 2*time.Minute),
		Entry("6", int32(6), 4*time.Minute),
		Entry("7", int32(7), 8*time.Minute),
		Entry("8", int32(8), 16*time.Minute),
		Entry("199", int32(199), 16*time.Minute),
	)

	It("restarts counts 1 and 2 immediately and 3+ through convergence", func() {
		Expect(models.ShouldRestartImmediately(1)).To(BeTrue())
		Expect(models.ShouldRestartImmediately(2)).To(BeTrue())
		Expect(models.ShouldRestartImmediately(3)).To(BeFalse())
	})

	It("lets convergence restart a CRASHED instance only after its backoff", func() {
		crashed := &models.ActualLRP{State: "CRASHED", CrashCount: 4, Since: since.UnixNano()}
		Expect(crashed.ShouldRestartCrash(since.Add(59 * time.Second))).To(BeFalse())
		Expect(crashed.ShouldRestartCrash(since.Add(time.Minute))).To(BeTrue())
	})

	It("never restarts after 200 crashes", func() {
		crashed := &models.ActualLRP{State: "CRASHED", CrashCount: 200, Since: since.UnixNano()}
		Expect(crashed.ShouldRestartCrash(since.Add(24 * time.Hour))).To(BeFalse())
	})

	It("only restarts CRASHED records", func() {
		Expect((&models.ActualLRP{State: "RUNNING", CrashCount: 5}).ShouldRestartCrash(since.Add(time.Hour))).To(BeFalse())
	})

	It("resets the count to 1 after more than 5 minutes running", func() {
		a := &models.ActualLRP{State: "RUNNING", CrashCount: 7, Since: since.UnixNano()}
		Expect(a.NewCrashCount(since.Add(5 * time.Minute))).To(Equal(int32(8)))
		Expect(a.NewCrashCount(since.Add(5*time.Minute + time.Nanosecond))).To(Equal(int32(1)))
		a.State = "CLAIMED"
		Expect(a.NewCrashCount(since.Add(time.Hour))).To(Equal(int32(8)), "only RUNNING time counts")
	})
})

var _ = Describe("ModificationTag", func() {
	It("orders versions by epoch and index", func() {
		t := &models.ModificationTag{Epoch: "a", Index: 1}
		Expect(t.SucceededBy(&models.ModificationTag{Epoch: "a", Index: 2})).To(BeTrue())
		Expect(t.SucceededBy(&models.ModificationTag{Epoch: "a", Index: 1})).To(BeFalse())
		Expect(t.SucceededBy(&models.ModificationTag{Epoch: "a", Index: 0})).To(BeFalse())
		Expect(t.SucceededBy(&models.ModificationTag{Epoch: "b", Index: 0})).To(BeTrue())
		Expect(t.SucceededBy(&models.ModificationTag{})).To(BeTrue())
		Expect((&models.ModificationTag{}).SucceededBy(t)).To(BeTrue())
		t.Increment()
		Expect(t.Index).To(Equal(uint32(2)))
	})
})

var _ = Describe("Errors", func() {
	It("is a Go error matched by type", func() {
		var err error = models.NewError(models.Error_ResourceNotFound, "task x not found")
		Expect(err.Error()).To(Equal("task x not found"))
		Expect(err).To(MatchError(models.ErrResourceNotFound))
		Expect(err).NotTo(MatchError(models.ErrResourceExists))
		Expect(models.ConvertError(err)).To(BeIdenticalTo(err))
		Expect(models.ConvertError(nil)).To(BeNil())
		unknown := models.ConvertError(errText("boom"))
		Expect(unknown.GetType()).To(Equal(models.Error_UnknownError))
		Expect(unknown.GetMessage()).To(Equal("boom"))
	})

	It("formats the constructed errors exactly", func() {
		Expect(models.NewRunningOnDifferentCellError("expected", "actual").Error()).To(Equal("Running on cell actual not expected"))
		Expect(models.NewUnrecoverableError(errText("disk gone")).Error()).To(Equal("Unrecoverable Error: disk gone"))
		Expect(models.ErrActualLRPCannotBeClaimed.Error()).To(Equal("cannot claim actual LRP"))
	})
})

type errText string

func (e errText) Error() string { return string(e) }
