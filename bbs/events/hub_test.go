package events_test

import (
	"context"
	"time"

	"diego/bbs/events"
	"diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func lrpOn(cell string) *models.ActualLRP {
	return &models.ActualLRP{State: "RUNNING", ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: "ig-" + cell, CellId: cell}}
}

func next(s *events.Subscription) (models.Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return s.Next(ctx)
}

var _ = Describe("Hub", func() {
	var hub *events.Hub

	BeforeEach(func() { hub = events.NewHub() })

	It("routes each event to its streams", func() {
		groups, _ := hub.Subscribe(events.LRPGroupStream, "")
		instances, _ := hub.Subscribe(events.LRPInstanceStream, "")
		tasks, _ := hub.Subscribe(events.TaskStream, "")

		desired := &models.DesiredLRPCreatedEvent{DesiredLrp: &models.DesiredLRP{ProcessGuid: "pg"}}
		group := &models.ActualLRPCreatedEvent{ActualLrpGroup: &models.ActualLRPGroup{Instance: lrpOn("c1")}}
		instance := &models.ActualLRPInstanceCreatedEvent{ActualLrp: lrpOn("c1")}
		crashed := &models.ActualLRPCrashedEvent{ActualLrpInstanceKey: lrpOn("c1").ActualLrpInstanceKey}
		task := &models.TaskCreatedEvent{Task: &models.Task{TaskGuid: "t"}}
		for _, e := range []models.Event{desired, group, instance, crashed, task} {
			hub.Emit(e)
		}

		for _, want := range []models.Event{desired, group, crashed} {
			Expect(next(groups)).To(BeIdenticalTo(want))
		}
		for _, want := range []models.Event{desired, instance, crashed} {
			Expect(next(instances)).To(BeIdenticalTo(want))
		}
		Expect(next(tasks)).To(BeIdenticalTo(task))
	})

	It("filters by cell, dropping desired events", func() {
		c1, _ := hub.Subscribe(events.LRPInstanceStream, "c1")
		hub.Emit(&models.DesiredLRPCreatedEvent{DesiredLrp: &models.DesiredLRP{}})
		hub.Emit(&models.ActualLRPInstanceCreatedEvent{ActualLrp: lrpOn("c2")})
		moved := &models.ActualLRPInstanceChangedEvent{ActualLrpInstanceKey: &models.ActualLRPInstanceKey{}}
		hub.Emit(moved, "c1") // the instance left c1
		mine := &models.ActualLRPInstanceCreatedEvent{ActualLrp: lrpOn("c1")}
		hub.Emit(mine)
		Expect(next(c1)).To(BeIdenticalTo(moved))
		Expect(next(c1)).To(BeIdenticalTo(mine))
	})

	It("drops a subscriber that falls a full buffer behind", func() {
		slow, _ := hub.Subscribe(events.TaskStream, "")
		for i := 0; i <= events.SubscriberBuffer; i++ {
			hub.Emit(&models.TaskCreatedEvent{Task: &models.Task{}})
		}
		Expect(hub.SubscriberCount()).To(Equal(0))
		for i := 0; i < events.SubscriberBuffer; i++ {
			_, err := next(slow)
			Expect(err).NotTo(HaveOccurred(), "what was queued is still delivered")
		}
		_, err := next(slow)
		Expect(err).To(MatchError(events.ErrSlowConsumer))
	})

	It("ends every subscription on close and refuses new ones", func() {
		s, _ := hub.Subscribe(events.TaskStream, "")
		hub.Close()
		_, err := next(s)
		Expect(err).To(MatchError(events.ErrHubClosed))
		_, err = hub.Subscribe(events.TaskStream, "")
		Expect(err).To(MatchError(events.ErrHubClosed))
	})

	It("stops waiting when the context ends, and closes cleanly", func() {
		s, _ := hub.Subscribe(events.TaskStream, "")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := s.Next(ctx)
		Expect(err).To(MatchError(context.Canceled))
		s.Close()
		Expect(hub.SubscriberCount()).To(Equal(0))
	})
})
