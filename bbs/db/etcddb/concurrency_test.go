package etcddb_test

import (
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/models"
)

var _ = Describe("Racing writers", func() {
	It("let exactly one of 50 cells start a pending task", func() {
		store := newStore(etcdClient, fakeclock.NewFakeClock(time.Unix(0, 0)), "")
		logger := logging.Discard()
		_, err := store.DesireTask(ctx(), logger, taskDefinition(), "contested", "dom")
		Expect(err).NotTo(HaveOccurred())

		type result struct {
			cell        string
			shouldStart bool
			err         error
		}
		const racers = 50
		results := make(chan result, racers)
		startGate := make(chan struct{})
		var wg sync.WaitGroup
		c := ctx()
		for i := range racers {
			cell := fmt.Sprintf("cell-%02d", i)
			wg.Go(func() {
				<-startGate
				_, _, should, err := store.StartTask(c, logger, "contested", cell)
				results <- result{cell, should, err}
			})
		}
		close(startGate)
		wg.Wait()
		close(results)

		var winners []string
		for r := range results {
			if r.err == nil {
				Expect(r.shouldStart).To(BeTrue(), "only the winner sees no error")
				winners = append(winners, r.cell)
				continue
			}
			// A loser re-reads and is judged as if it came second: never
			// ResourceConflict (decision 40).
			Expect(r.err).To(MatchError(models.NewTaskTransitionError(models.Task_Running, models.Task_Running)), "loser %s", r.cell)
			Expect(r.err.Error()).To(ContainSubstring("Cannot transition from Running to Running"))
		}
		Expect(winners).To(HaveLen(1))

		task, err := store.TaskByGuid(ctx(), logger, "contested")
		Expect(err).NotTo(HaveOccurred())
		Expect(task.GetState()).To(Equal(models.Task_Running))
		Expect(task.GetCellId()).To(Equal(winners[0]))
		Expect(rawKeys(store.Keys().IndexPrefix() + "task-by-cell/")).To(ConsistOf(store.Keys().TaskByCell(winners[0], "contested")))
	})
})
