package events_test

import (
	"context"
	"time"

	"diego/bbs/db/etcddb"
	"diego/bbs/events"
	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/models"
	"diego/test/etcdrunner"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/testing/protocmp"
)

var _ = Describe("Watcher", func() {
	var (
		etcd    ifrit.Process
		runner  *etcdrunner.Runner
		client  *clientv3.Client
		db      *etcddb.ETCDDB
		hub     *events.Hub
		watcher ifrit.Process
		ctx     = context.Background()
		logger  = logging.Discard()
	)

	BeforeEach(func() {
		runner = etcdrunner.New(etcdrunner.Config{LogWriter: GinkgoWriter})
		etcd = ginkgomon_v2.Invoke(runner)
		DeferCleanup(func() { ginkgomon_v2.Interrupt(etcd, 10*time.Second); _ = runner.Cleanup() })
		var err error
		client, err = runner.Client()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(client.Close)
		db = etcddb.New(etcddb.Config{}, etcddb.Deps{Client: client, Clock: fakeclock.NewFakeClock(time.Unix(100, 0))})
		hub = events.NewHub()
		watcher = ginkgomon_v2.Invoke(events.NewWatcher(events.WatcherDeps{Logger: logger, Source: db, Hub: hub}))
		DeferCleanup(func() { ginkgomon_v2.Interrupt(watcher, 5*time.Second) })
	})

	It("turns a task's life into created, changed and removed events", func() {
		sub, err := hub.Subscribe(events.TaskStream, "")
		Expect(err).NotTo(HaveOccurred())
		def := &models.TaskDefinition{RootFs: "preloaded:x", Action: models.WrapAction(&models.RunAction{Path: "/bin/true", User: "vcap"})}
		_, err = db.DesireTask(ctx, logger, def, "t1", "d")
		Expect(err).NotTo(HaveOccurred())
		_, _, _, err = db.StartTask(ctx, logger, "t1", "cell-1")
		Expect(err).NotTo(HaveOccurred())
		_, _, _, err = db.CancelTask(ctx, logger, "t1")
		Expect(err).NotTo(HaveOccurred())
		_, _, err = db.ResolvingTask(ctx, logger, "t1")
		Expect(err).NotTo(HaveOccurred())
		_, err = db.DeleteTask(ctx, logger, "t1")
		Expect(err).NotTo(HaveOccurred())

		e, err := next(sub)
		Expect(err).NotTo(HaveOccurred())
		Expect(e.(*models.TaskCreatedEvent).Task.State).To(Equal(models.Task_Pending))
		e, _ = next(sub)
		Expect(e.(*models.TaskChangedEvent).After.State).To(Equal(models.Task_Running))
		e, _ = next(sub)
		Expect(e.(*models.TaskChangedEvent).After.FailureReason).To(Equal("task was cancelled"))
		e, _ = next(sub)
		Expect(e.(*models.TaskChangedEvent).After.State).To(Equal(models.Task_Resolving))
		e, _ = next(sub)
		Expect(e.(*models.TaskRemovedEvent).Task.TaskGuid).To(Equal("t1"))
	})

	It("names a crashed-and-restarted instance by the instance key it had", func() {
		sub, err := hub.Subscribe(events.LRPInstanceStream, "")
		Expect(err).NotTo(HaveOccurred())
		key := &models.ActualLRPKey{ProcessGuid: "pg", Index: 0, Domain: "d"}
		instance := &models.ActualLRPInstanceKey{InstanceGuid: "ig-1", CellId: "cell-1"}
		Expect(db.DesireLRP(ctx, logger, &models.DesiredLRP{ProcessGuid: "pg", Domain: "d", Instances: 1, RootFs: "preloaded:x",
			Action: models.WrapAction(&models.RunAction{Path: "/bin/true", User: "vcap"})})).To(Succeed())
		_, err = db.CreateUnclaimedActualLRP(ctx, logger, key)
		Expect(err).NotTo(HaveOccurred())
		_, _, err = db.ClaimActualLRP(ctx, logger, "pg", 0, instance)
		Expect(err).NotTo(HaveOccurred())
		_, after, _, err := db.CrashActualLRP(ctx, logger, key, instance, "boom")
		Expect(err).NotTo(HaveOccurred())
		Expect(after.State).To(Equal(models.ActualLRPStateUnclaimed))
		Expect(after.ActualLrpInstanceKey.GetInstanceGuid()).To(BeEmpty())

		var changes []*models.ActualLRPInstanceChangedEvent
		Eventually(func() int {
			e, err := next(sub)
			Expect(err).NotTo(HaveOccurred())
			if c, ok := e.(*models.ActualLRPInstanceChangedEvent); ok {
				changes = append(changes, c)
			}
			return len(changes)
		}).Should(Equal(2))
		Expect(changes[0].After.State).To(Equal(models.ActualLRPStateClaimed))
		Expect(changes[0].ActualLrpInstanceKey).To(BeComparableTo(instance, protocmp.Transform()))
		Expect(changes[1].After.State).To(Equal(models.ActualLRPStateUnclaimed))
		Expect(changes[1].ActualLrpInstanceKey).To(BeComparableTo(instance, protocmp.Transform()))
		Expect(changes[1].ActualLrpKey).To(BeComparableTo(key, protocmp.Transform()))
	})

	It("ends its subscribers when it stops", func() {
		sub, _ := hub.Subscribe(events.TaskStream, "")
		ginkgomon_v2.Interrupt(watcher, 5*time.Second)
		_, err := next(sub)
		Expect(err).To(MatchError(events.ErrHubClosed))
	})
})
