package converge_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/bbs/converge"
	"diego/models"
)

var _ = Describe("ConvergeTasks", func() {
	var (
		now   = time.Unix(100000, 0)
		cfg   = converge.TaskConfig{KickTaskDuration: 30 * time.Second, ExpirePendingTaskDuration: 30 * time.Minute, ExpireCompletedTaskDuration: 120 * time.Second}
		cells = map[string]bool{"cell-1": true}
		ago   = func(d time.Duration) int64 { return now.Add(-d).UnixNano() }
	)

	task := func(guid string, state models.Task_State, mutate func(*models.Task)) *models.Task {
		t := &models.Task{TaskGuid: guid, State: state, CreatedAt: ago(time.Second), UpdatedAt: ago(time.Second),
			TaskDefinition: &models.TaskDefinition{}}
		if mutate != nil {
			mutate(t)
		}
		return t
	}
	withCallback := func(t *models.Task) { t.TaskDefinition.CompletionCallbackUrl = "http://cc/done" }
	plan := func(tasks ...*models.Task) converge.TaskPlan {
		return converge.ConvergeTasks(now, tasks, cells, cfg)
	}

	Describe("PENDING", func() {
		It("fails a task exactly at the pending expiry, with its reason and log name", func() {
			t := task("t", models.Task_Pending, func(t *models.Task) { t.CreatedAt = ago(30 * time.Minute); t.UpdatedAt = t.CreatedAt })
			p := plan(t)
			Expect(p.Fail).To(Equal([]converge.TaskFailure{{Task: t, Reason: "not started within time limit", Log: "failed-to-start-in-time"}}))
			Expect(p.Auction).To(BeEmpty())
			Expect(p.Kicked).To(Equal(1))
		})

		It("does not fail a task a nanosecond before the expiry, and kicks it instead", func() {
			t := task("t", models.Task_Pending, func(t *models.Task) {
				t.CreatedAt = ago(30*time.Minute - time.Nanosecond)
				t.UpdatedAt = ago(time.Minute)
			})
			p := plan(t)
			Expect(p.Fail).To(BeEmpty())
			Expect(p.Auction).To(ConsistOf(t))
		})

		It("auctions a rejected task on every pass, however recently it was rejected", func() {
			rejected := func(guid string, since time.Duration) *models.Task {
				return task(guid, models.Task_Pending, func(t *models.Task) {
					t.CreatedAt = ago(time.Minute)
					t.UpdatedAt = ago(since)
					t.RejectionCount = 1
				})
			}
			old, young, justNow := rejected("old", 30*time.Second), rejected("young", 30*time.Second-time.Nanosecond), rejected("just-now", 0)
			p := plan(old, young, justNow)
			Expect(p.Auction).To(Equal([]*models.Task{old, young, justNow}))
			Expect(p.Kicked).To(Equal(3))
			Expect(p.Counts.Pending).To(Equal(3))
		})

		It("leaves a task never rejected to its desire's own auction until it is kicked", func() {
			kicked := task("kicked", models.Task_Pending, func(t *models.Task) { t.CreatedAt = ago(30 * time.Second); t.UpdatedAt = t.CreatedAt })
			young := task("young", models.Task_Pending, func(t *models.Task) {
				t.CreatedAt = ago(30*time.Second - time.Nanosecond)
				t.UpdatedAt = t.CreatedAt
			})
			p := plan(kicked, young)
			Expect(p.Auction).To(Equal([]*models.Task{kicked}))
			Expect(p.Kicked).To(Equal(1))
			Expect(p.Counts.Pending).To(Equal(2))
		})

		It("re-auctions a task rejected a moment ago on the next pass, so its retries go at the convergence cadence", func() {
			// The auctioneer's RejectTask refreshed updated_at one second
			// before this pass; a kick-based rule would wait 30 s more.
			rejected := task("rejected", models.Task_Pending, func(t *models.Task) {
				t.CreatedAt = ago(31 * time.Second)
				t.UpdatedAt = ago(time.Second)
				t.RejectionCount = 1
				t.RejectionReason = "insufficient resources: memory"
			})
			Expect(plan(rejected).Auction).To(Equal([]*models.Task{rejected}))

			// Passes 2 s apart (a short repeat interval) auction it on
			// each pass, each right after the previous pass's rejection.
			clockNow := now
			for pass := range 3 {
				rejected.UpdatedAt = clockNow.Add(-100 * time.Millisecond).UnixNano()
				rejected.RejectionCount = int32(pass + 1)
				p := converge.ConvergeTasks(clockNow, []*models.Task{rejected}, cells, cfg)
				Expect(p.Auction).To(HaveLen(1), "pass %d", pass)
				clockNow = clockNow.Add(2 * time.Second)
			}
		})

		It("stops auctioning a task once it is past the pending expiry", func() {
			t := task("t", models.Task_Pending, func(t *models.Task) { t.CreatedAt = ago(time.Hour); t.UpdatedAt = ago(time.Second) })
			p := plan(t)
			Expect(p.Auction).To(BeEmpty())
			Expect(p.Fail).To(HaveLen(1))
		})
	})

	Describe("RUNNING", func() {
		It("fails a task on a cell that is not present", func() {
			gone := task("gone", models.Task_Running, func(t *models.Task) { t.CellId = "cell-2" })
			here := task("here", models.Task_Running, func(t *models.Task) { t.CellId = "cell-1"; t.UpdatedAt = ago(time.Hour) })
			p := plan(gone, here)
			Expect(p.Fail).To(Equal([]converge.TaskFailure{{Task: gone, Reason: "cell disappeared before completion", Log: "cell-disappeared"}}))
			Expect(p.Counts.Running).To(Equal(2))
		})

		It("fails every running task when no cell is present", func() {
			t := task("t", models.Task_Running, func(t *models.Task) { t.CellId = "cell-1" })
			Expect(converge.ConvergeTasks(now, []*models.Task{t}, nil, cfg).Fail).To(HaveLen(1))
		})
	})

	Describe("COMPLETED", func() {
		It("deletes a task exactly at the completed expiry, measured from first_completed_at", func() {
			t := task("t", models.Task_Completed, func(t *models.Task) {
				t.FirstCompletedAt = ago(120 * time.Second)
				t.UpdatedAt = ago(time.Second)
			})
			p := plan(t)
			Expect(p.Delete).To(Equal([]converge.TaskDeletion{{Task: t, Log: "failed-to-start-resolving-in-time"}}))
			Expect(p.Kicked).To(BeZero())
		})

		It("submits a kicked task with a callback URL again, and leaves one without a URL alone", func() {
			cb := task("cb", models.Task_Completed, func(t *models.Task) {
				withCallback(t)
				t.FirstCompletedAt = ago(30 * time.Second)
				t.UpdatedAt = ago(30 * time.Second)
			})
			noURL := task("no-url", models.Task_Completed, func(t *models.Task) {
				t.FirstCompletedAt = ago(30 * time.Second)
				t.UpdatedAt = ago(30 * time.Second)
			})
			fresh := task("fresh", models.Task_Completed, func(t *models.Task) {
				withCallback(t)
				t.FirstCompletedAt = ago(10 * time.Second)
				t.UpdatedAt = ago(10 * time.Second)
			})
			p := plan(cb, noURL, fresh)
			Expect(p.Callback).To(Equal([]*models.Task{cb}))
			Expect(p.Delete).To(BeEmpty())
			Expect(p.Counts.Completed).To(Equal(3))
			Expect(p.Kicked).To(Equal(1))
		})
	})

	Describe("RESOLVING", func() {
		It("deletes a task past the completed expiry", func() {
			t := task("t", models.Task_Resolving, func(t *models.Task) { t.FirstCompletedAt = ago(121 * time.Second) })
			Expect(plan(t).Delete).To(Equal([]converge.TaskDeletion{{Task: t, Log: "failed-to-resolve-in-time"}}))
		})

		It("demotes a kicked task, and leaves a recent one alone", func() {
			kicked := task("kicked", models.Task_Resolving, func(t *models.Task) {
				t.FirstCompletedAt = ago(60 * time.Second)
				t.UpdatedAt = ago(30 * time.Second)
			})
			recent := task("recent", models.Task_Resolving, func(t *models.Task) {
				t.FirstCompletedAt = ago(60 * time.Second)
				t.UpdatedAt = ago(29 * time.Second)
			})
			p := plan(kicked, recent)
			Expect(p.Demote).To(Equal([]*models.Task{kicked}))
			Expect(p.Delete).To(BeEmpty())
			Expect(p.Counts.Resolving).To(Equal(2))
		})
	})

	It("counts every state and acts on each task at most once", func() {
		tasks := []*models.Task{
			task("p", models.Task_Pending, nil),
			task("r", models.Task_Running, func(t *models.Task) { t.CellId = "cell-1" }),
			task("c", models.Task_Completed, func(t *models.Task) { t.FirstCompletedAt = ago(time.Second) }),
			task("s", models.Task_Resolving, func(t *models.Task) { t.FirstCompletedAt = ago(time.Second) }),
			nil,
		}
		p := plan(tasks...)
		Expect(p.Counts).To(Equal(converge.TaskCounts{Pending: 1, Running: 1, Completed: 1, Resolving: 1}))
		Expect(p.Fail).To(BeEmpty())
		Expect(p.Auction).To(BeEmpty(), "a task desired a second ago waits for its own auction")
		Expect(p.Demote).To(BeEmpty())
		Expect(p.Callback).To(BeEmpty())
		Expect(p.Delete).To(BeEmpty())
		Expect(p.Kicked).To(BeZero())
	})
})
