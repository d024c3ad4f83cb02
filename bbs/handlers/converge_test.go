package handlers_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	"diego/bbs"
	"diego/bbs/db"
	"diego/models"
)

var _ = Describe("Convergence", func() {
	var f *fixture
	now := time.Unix(1, 0) // the fixture's fake clock
	ago := func(d time.Duration) int64 { return now.Add(-d).UnixNano() }

	BeforeEach(func() { f = newFixture() })

	Describe("tasks", func() {
		converge := func() *models.Error {
			var resp models.ConvergeTasksResponse
			f.call(bbs.ConvergeTasksRoute, &models.ConvergeTasksRequest{
				KickTaskDuration:            int64(30 * time.Second),
				ExpirePendingTaskDuration:   int64(30 * time.Minute),
				ExpireCompletedTaskDuration: int64(2 * time.Minute),
			}, &resp)
			return resp.Error
		}

		It("rejects a request without every duration, before reading anything", func() {
			var resp models.ConvergeTasksResponse
			f.call(bbs.ConvergeTasksRoute, &models.ConvergeTasksRequest{KickTaskDuration: 1, ExpirePendingTaskDuration: 1}, &resp)
			Expect(resp.Error.GetType()).To(Equal(models.Error_InvalidRequest))
			Expect(resp.Error.GetMessage()).To(ContainSubstring("expire_completed_task_duration"))
			Expect(f.tasks.ConvergenceTasksCallCount()).To(BeZero())
		})

		It("fails an expired pending task with the spec's reason", func() {
			expired := &models.Task{TaskGuid: "t", State: models.Task_Pending, CreatedAt: ago(time.Hour), UpdatedAt: ago(time.Hour)}
			f.tasks.ConvergenceTasksReturns([]*models.Task{expired}, 0, nil)
			Expect(converge()).To(BeNil())
			Expect(f.tasks.ConvergeFailTaskCallCount()).To(Equal(1))
			_, _, read, reason := f.tasks.ConvergeFailTaskArgsForCall(0)
			Expect(read).To(BeIdenticalTo(expired))
			Expect(reason).To(Equal("not started within time limit"))
			Expect(f.auctioneer.RequestTaskAuctionsCallCount()).To(BeZero())
			Expect(f.callbacks.SubmitCallCount()).To(BeZero())
		})

		It("fails a running task whose cell is gone, reading the cells after the tasks", func() {
			var order []string
			var mu sync.Mutex
			record := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
			f.tasks.ConvergenceTasksCalls(func(context.Context, *slog.Logger) ([]*models.Task, int, error) {
				record("tasks")
				return []*models.Task{
					{TaskGuid: "gone", State: models.Task_Running, CellId: "cell-2", CreatedAt: ago(time.Second), UpdatedAt: ago(time.Second)},
					{TaskGuid: "here", State: models.Task_Running, CellId: "cell-1", CreatedAt: ago(time.Hour), UpdatedAt: ago(time.Hour)},
				}, 0, nil
			})
			f.cells.CellsCalls(func(context.Context, *slog.Logger) ([]*models.CellPresence, error) {
				record("cells")
				return []*models.CellPresence{{CellId: "cell-1"}}, nil
			})
			Expect(converge()).To(BeNil())
			Expect(order).To(Equal([]string{"tasks", "cells"}))
			Expect(f.tasks.ConvergeFailTaskCallCount()).To(Equal(1))
			_, _, read, reason := f.tasks.ConvergeFailTaskArgsForCall(0)
			Expect(read.TaskGuid).To(Equal("gone"))
			Expect(reason).To(Equal("cell disappeared before completion"))
		})

		It("auctions the pending tasks in one request, demotes and re-submits, deletes the expired", func() {
			def := &models.TaskDefinition{RootFs: "preloaded:x", CompletionCallbackUrl: "http://cc"}
			f.tasks.ConvergenceTasksReturns([]*models.Task{
				{TaskGuid: "p1", State: models.Task_Pending, CreatedAt: ago(time.Minute), UpdatedAt: ago(time.Minute), TaskDefinition: def},
				{TaskGuid: "p2", State: models.Task_Pending, CreatedAt: ago(time.Minute), UpdatedAt: ago(time.Minute), TaskDefinition: def},
				{TaskGuid: "r", State: models.Task_Resolving, FirstCompletedAt: ago(time.Minute), UpdatedAt: ago(time.Minute), TaskDefinition: def},
				{TaskGuid: "c", State: models.Task_Completed, FirstCompletedAt: ago(time.Minute), UpdatedAt: ago(time.Minute), TaskDefinition: def},
				{TaskGuid: "old", State: models.Task_Completed, FirstCompletedAt: ago(time.Hour), UpdatedAt: ago(time.Hour), TaskDefinition: def},
			}, 1, nil)
			demoted := &models.Task{TaskGuid: "r", State: models.Task_Completed, TaskDefinition: def}
			f.tasks.DemoteTaskReturns(demoted, nil)
			f.tasks.ConvergeFailTaskReturns(nil, errors.New("conflict")) // never called
			Expect(converge()).To(BeNil())

			Expect(f.auctioneer.RequestTaskAuctionsCallCount()).To(Equal(1))
			_, reqs := f.auctioneer.RequestTaskAuctionsArgsForCall(0)
			Expect([]string{reqs[0].TaskGuid, reqs[1].TaskGuid}).To(Equal([]string{"p1", "p2"}))
			Expect(f.tasks.DemoteTaskCallCount()).To(Equal(1))
			var submitted []string
			for i := range f.callbacks.SubmitCallCount() {
				submitted = append(submitted, f.callbacks.SubmitArgsForCall(i).TaskGuid)
			}
			Expect(submitted).To(ConsistOf("c", "r"))
			Expect(f.tasks.DeleteExpiredTaskCallCount()).To(Equal(1))
			_, _, read := f.tasks.DeleteExpiredTaskArgsForCall(0)
			Expect(read.TaskGuid).To(Equal("old"))
			Expect(f.tasks.ConvergeFailTaskCallCount()).To(BeZero())
		})

		It("does not re-submit a task whose demotion lost a race", func() {
			def := &models.TaskDefinition{CompletionCallbackUrl: "http://cc"}
			f.tasks.ConvergenceTasksReturns([]*models.Task{
				{TaskGuid: "r", State: models.Task_Resolving, FirstCompletedAt: ago(time.Minute), UpdatedAt: ago(time.Minute), TaskDefinition: def},
			}, 0, nil)
			f.tasks.DemoteTaskReturns(nil, models.ErrResourceConflict)
			Expect(converge()).To(BeNil())
			Expect(f.callbacks.SubmitCallCount()).To(BeZero())
		})

		It("answers the read error when the tasks cannot be listed", func() {
			f.tasks.ConvergenceTasksReturns(nil, 0, models.NewError(models.Error_UnknownError, "etcd down"))
			Expect(converge().GetType()).To(Equal(models.Error_UnknownError))
		})
	})

	Describe("LRPs", func() {
		info := func(pg string, instances int32) *models.DesiredLRPSchedulingInfo {
			return &models.DesiredLRPSchedulingInfo{
				DesiredLrpKey:      &models.DesiredLRPKey{ProcessGuid: pg, Domain: "apps"},
				DesiredLrpResource: &models.DesiredLRPResource{RootFs: "preloaded:x", MemoryMb: 64},
				Instances:          instances,
			}
		}
		lrp := func(pg string, index int32, state, cell string) *models.ActualLRP {
			a := &models.ActualLRP{ActualLrpKey: &models.ActualLRPKey{ProcessGuid: pg, Index: index, Domain: "apps"},
				State: state, Since: ago(time.Second), ActualLrpInstanceKey: &models.ActualLRPInstanceKey{}}
			if cell != "" {
				a.ActualLrpInstanceKey = &models.ActualLRPInstanceKey{InstanceGuid: "ig-" + cell, CellId: cell}
			}
			return a
		}
		converge := func() *models.Error {
			var resp models.ConvergeLRPsResponse
			status, body := f.post(bbs.ConvergeLRPsRoute, nil)
			Expect(status).To(Equal(200))
			Expect(proto.Unmarshal(body, &resp)).To(Succeed())
			return resp.Error
		}

		BeforeEach(func() {
			f.domains.FreshDomainsReturns([]string{"apps"}, nil)
			f.cells.CellsReturns([]*models.CellPresence{{CellId: "cell-1", RepAddress: "http://rep"}}, nil)
		})

		It("reads the actuals before the desireds, then domains and cells", func() {
			var order []string
			var mu sync.Mutex
			record := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
			f.actual.ConvergenceActualLRPsCalls(func(context.Context, *slog.Logger) ([]*models.ActualLRP, []*models.ActualLRP, int, error) {
				record("actuals")
				return nil, nil, 0, nil
			})
			f.desired.ConvergenceSchedulingInfosCalls(func(_ context.Context, _ *slog.Logger, age time.Duration) ([]*models.DesiredLRPSchedulingInfo, db.DesiredLRPGatherStats, error) {
				record("desireds")
				Expect(age).To(Equal(time.Minute))
				return nil, db.DesiredLRPGatherStats{}, nil
			})
			f.domains.FreshDomainsCalls(func(context.Context, *slog.Logger) ([]string, error) { record("domains"); return nil, nil })
			f.cells.CellsCalls(func(context.Context, *slog.Logger) ([]*models.CellPresence, error) { record("cells"); return nil, nil })
			Expect(converge()).To(BeNil())
			Expect(order).To(Equal([]string{"actuals", "desireds", "domains", "cells"}))
		})

		It("creates a missing index and sends one auction request for it", func() {
			f.desired.ConvergenceSchedulingInfosReturns([]*models.DesiredLRPSchedulingInfo{info("pg", 2)}, db.DesiredLRPGatherStats{}, nil)
			f.actual.ConvergenceActualLRPsReturns([]*models.ActualLRP{lrp("pg", 0, models.ActualLRPStateRunning, "cell-1")}, nil, 0, nil)
			Expect(converge()).To(BeNil())
			Expect(f.actual.CreateUnclaimedActualLRPCallCount()).To(Equal(1))
			_, _, key := f.actual.CreateUnclaimedActualLRPArgsForCall(0)
			Expect(key).To(Equal(&models.ActualLRPKey{ProcessGuid: "pg", Index: 1, Domain: "apps"}))
			Expect(f.auctioneer.RequestLRPAuctionsCallCount()).To(Equal(1))
			_, reqs := f.auctioneer.RequestLRPAuctionsArgsForCall(0)
			Expect(reqs).To(HaveLen(1))
			Expect(reqs[0].ProcessGuid).To(Equal("pg"))
			Expect(reqs[0].Indices).To(Equal([]int{1}))
			Expect(reqs[0].MemoryMB).To(Equal(int32(64)))
		})

		It("applies every rule and auctions only the starts whose writes succeeded, in one request", func() {
			crashed := lrp("pg", 2, models.ActualLRPStateCrashed, "")
			crashed.CrashCount = 3
			crashed.Since = ago(time.Minute)
			stale := lrp("pg", 3, models.ActualLRPStateUnclaimed, "")
			stale.Since = ago(time.Minute)
			evacuating := lrp("pg", 1, models.ActualLRPStateRunning, "cell-gone")
			evacuating.Presence = models.ActualLRP_EVACUATING
			f.desired.ConvergenceSchedulingInfosReturns([]*models.DesiredLRPSchedulingInfo{info("pg", 4), info("other", 1)}, db.DesiredLRPGatherStats{}, nil)
			f.actual.ConvergenceActualLRPsReturns([]*models.ActualLRP{
				lrp("pg", 1, models.ActualLRPStateRunning, "cell-gone"), // missing-cell, recreated
				crashed, // restart-crash
				stale,   // stale-unclaimed
				lrp("pg", 4, models.ActualLRPStateUnclaimed, ""),        // extra
				lrp("undesired", 0, models.ActualLRPStateUnclaimed, ""), // no-longer-desired
			}, []*models.ActualLRP{evacuating}, 0, nil)
			// pg index 0 and other index 0 are missing; other's create loses a race.
			f.actual.CreateUnclaimedActualLRPStub = func(_ context.Context, _ *slog.Logger, k *models.ActualLRPKey) (*models.ActualLRP, error) {
				if k.ProcessGuid == "other" {
					return nil, models.ErrResourceExists
				}
				return &models.ActualLRP{ActualLrpKey: k}, nil
			}
			f.actual.RetireActualLRPReturns(nil, true, nil)
			Expect(converge()).To(BeNil())

			_, _, pg, index, ik := f.actual.RemoveActualLRPArgsForCall(0)
			Expect([]any{pg, index, ik.GetCellId()}).To(Equal([]any{"pg", int32(1), "cell-gone"}))
			Expect(f.actual.CreateUnclaimedActualLRPCallCount()).To(Equal(3)) // pg/0, pg/1 (recreate), other/0
			Expect(f.actual.UnclaimCrashedActualLRPCallCount()).To(Equal(1))
			_, _, key := f.actual.UnclaimCrashedActualLRPArgsForCall(0)
			Expect(key.GetIndex()).To(Equal(int32(2)))
			var retired []string
			for i := range f.actual.RetireActualLRPCallCount() {
				_, _, k := f.actual.RetireActualLRPArgsForCall(i)
				retired = append(retired, k.GetProcessGuid())
			}
			Expect(retired).To(ConsistOf("pg", "undesired"))
			_, _, ek, eik := f.actual.RemoveEvacuatingActualLRPArgsForCall(0)
			Expect(ek.GetIndex()).To(Equal(int32(1)))
			Expect(eik.GetCellId()).To(Equal("cell-gone"))

			Expect(f.auctioneer.RequestLRPAuctionsCallCount()).To(Equal(1))
			_, reqs := f.auctioneer.RequestLRPAuctionsArgsForCall(0)
			Expect(reqs).To(HaveLen(1))
			Expect(reqs[0].ProcessGuid).To(Equal("pg"))
			Expect(reqs[0].Indices).To(Equal([]int{0, 1, 2, 3}))
		})

		It("does not restart a crashed instance whose unclaim failed, and sends no empty request", func() {
			crashed := lrp("pg", 0, models.ActualLRPStateCrashed, "")
			crashed.CrashCount = 3
			crashed.Since = ago(time.Hour)
			f.desired.ConvergenceSchedulingInfosReturns([]*models.DesiredLRPSchedulingInfo{info("pg", 1)}, db.DesiredLRPGatherStats{}, nil)
			f.actual.ConvergenceActualLRPsReturns([]*models.ActualLRP{crashed}, nil, 0, nil)
			f.actual.UnclaimCrashedActualLRPReturns(nil, nil, models.ErrActualLRPCannotBeUnclaimed)
			Expect(converge()).To(BeNil())
			Expect(f.actual.UnclaimCrashedActualLRPCallCount()).To(Equal(1))
			Expect(f.auctioneer.RequestLRPAuctionsCallCount()).To(BeZero())
		})

		It("leaves actuals of an unfresh domain without a desired LRP alone", func() {
			f.domains.FreshDomainsReturns(nil, nil)
			f.actual.ConvergenceActualLRPsReturns([]*models.ActualLRP{lrp("undesired", 0, models.ActualLRPStateRunning, "cell-1")}, nil, 0, nil)
			Expect(converge()).To(BeNil())
			Expect(f.actual.RetireActualLRPCallCount()).To(BeZero())
			Expect(f.rep.StopLRPInstanceCallCount()).To(BeZero())
		})
	})
})
