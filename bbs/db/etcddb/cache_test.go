package etcddb_test

import (
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/bbs/db/etcddb"
	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/models"
)

var _ = Describe("the record cache", func() {
	var store *etcddb.ETCDDB
	logger := logging.Discard()

	BeforeEach(func() {
		if os.Getenv("ETCDDB_NO_CACHE") != "" {
			Skip("the suite runs without the cache")
		}
		store = newStore(etcdClient, fakeclock.NewFakeClock(time.Unix(0, 0)), "")
	})

	It("answers reads from memory", func() {
		Expect(store.DesireTask(ctx(), logger, taskDefinition(), "t-1", "d")).Error().NotTo(HaveOccurred())
		before, _ := store.CacheServed()
		t, err := store.TaskByGuid(ctx(), logger, "t-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(t.TaskGuid).To(Equal("t-1"))
		after, _ := store.CacheServed()
		Expect(after).To(BeNumerically(">", before))
	})

	It("sees a write made by another writer as soon as it completes (the read barrier)", func() {
		other := etcddb.New(etcddb.Config{}, etcddb.Deps{Client: etcdClient, Clock: fakeclock.NewFakeClock(time.Unix(0, 0))})
		for i := 0; i < 50; i++ {
			guid := "t-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
			Expect(other.DesireTask(ctx(), logger, taskDefinition(), guid, "d")).Error().NotTo(HaveOccurred())
			t, err := store.TaskByGuid(ctx(), logger, guid)
			Expect(err).NotTo(HaveOccurred())
			Expect(t.State).To(Equal(models.Task_Pending))
			_, _, _, err = other.StartTask(ctx(), logger, guid, "cell")
			Expect(err).NotTo(HaveOccurred())
			t, err = store.TaskByGuid(ctx(), logger, guid)
			Expect(err).NotTo(HaveOccurred())
			Expect(t.State).To(Equal(models.Task_Running))
		}
	})

	It("follows deletions made under it straight to etcd", func() {
		Expect(store.DesireTask(ctx(), logger, taskDefinition(), "t-1", "d")).Error().NotTo(HaveOccurred())
		Expect(etcdRunner.Reset()).To(Succeed()) // deletes everything under the cache's feet
		_, err := store.TaskByGuid(ctx(), logger, "t-1")
		Expect(err).To(MatchError(models.ErrResourceNotFound))
	})
})
