package etcddb_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/bbs/db/etcddb"
	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
)

var _ = Describe("Task index keys", func() {
	var (
		store *etcddb.ETCDDB
		keys  etcddb.Keys
	)
	logger := logging.Discard()

	BeforeEach(func() {
		store = newStore(etcdClient, fakeclock.NewFakeClock(time.Unix(0, 0)), "/custom-root")
		keys = store.Keys()
	})

	indexKeys := func() []string {
		GinkgoHelper()
		return rawKeys(keys.IndexPrefix())
	}

	It("follow the task's domain and cell through its life", func() {
		_, err := store.DesireTask(ctx(), logger, taskDefinition(), "g", "dom")
		Expect(err).NotTo(HaveOccurred())
		Expect(indexKeys()).To(ConsistOf("/custom-root/v1/index/task-by-domain/dom/g"))
		value, ok := rawValue(keys.TaskByDomain("dom", "g"))
		Expect(ok).To(BeTrue())
		Expect(value).To(BeEmpty())

		_, _, _, err = store.StartTask(ctx(), logger, "g", "cell-a")
		Expect(err).NotTo(HaveOccurred())
		Expect(indexKeys()).To(ConsistOf(
			"/custom-root/v1/index/task-by-domain/dom/g",
			"/custom-root/v1/index/task-by-cell/cell-a/g",
		))

		_, _, err = store.RejectTask(ctx(), logger, "g", "no room", 3)
		Expect(err).NotTo(HaveOccurred())
		Expect(indexKeys()).To(ConsistOf("/custom-root/v1/index/task-by-domain/dom/g"))

		_, _, _, err = store.StartTask(ctx(), logger, "g", "cell-b")
		Expect(err).NotTo(HaveOccurred())
		Expect(indexKeys()).To(ConsistOf(
			"/custom-root/v1/index/task-by-domain/dom/g",
			"/custom-root/v1/index/task-by-cell/cell-b/g",
		))

		_, _, err = store.CompleteTask(ctx(), logger, "g", "cell-b", false, "", "")
		Expect(err).NotTo(HaveOccurred())
		Expect(indexKeys()).To(ConsistOf("/custom-root/v1/index/task-by-domain/dom/g"))

		_, _, err = store.ResolvingTask(ctx(), logger, "g")
		Expect(err).NotTo(HaveOccurred())
		Expect(indexKeys()).To(ConsistOf("/custom-root/v1/index/task-by-domain/dom/g"))

		_, err = store.DeleteTask(ctx(), logger, "g")
		Expect(err).NotTo(HaveOccurred())
		Expect(indexKeys()).To(BeEmpty())
		Expect(rawKeys("/custom-root/")).To(BeEmpty())
	})

	It("drop the cell entry when a running task is cancelled or failed", func() {
		for _, g := range []string{"cancelled", "failed"} {
			_, err := store.DesireTask(ctx(), logger, taskDefinition(), g, "dom")
			Expect(err).NotTo(HaveOccurred())
			_, _, _, err = store.StartTask(ctx(), logger, g, "cell-a")
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(rawKeys(keys.TaskByCellPrefix("cell-a"))).To(HaveLen(2))

		_, _, cell, err := store.CancelTask(ctx(), logger, "cancelled")
		Expect(err).NotTo(HaveOccurred())
		Expect(cell).To(Equal("cell-a"))
		_, _, err = store.FailTask(ctx(), logger, "failed", "x")
		Expect(err).NotTo(HaveOccurred())

		Expect(rawKeys(keys.TaskByCellPrefix("cell-a"))).To(BeEmpty())
		Expect(rawKeys(keys.TaskByDomainPrefix("dom"))).To(HaveLen(2))
	})

	It("write nothing for an empty domain", func() {
		_, err := store.DesireTask(ctx(), logger, taskDefinition(), "g", "")
		Expect(err).NotTo(HaveOccurred())
		Expect(indexKeys()).To(BeEmpty())
	})

	It("stay under their own root", func() {
		other := newStore(etcdClient, fakeclock.NewFakeClock(time.Unix(0, 0)), "")
		_, err := other.DesireTask(ctx(), logger, taskDefinition(), "g", "dom")
		Expect(err).NotTo(HaveOccurred())
		_, err = store.TaskByGuid(ctx(), logger, "g")
		Expect(err).To(HaveOccurred())
		Expect(indexKeys()).To(BeEmpty())
		Expect(rawKeys("/diego/v1/index/")).To(HaveLen(1))
	})
})
