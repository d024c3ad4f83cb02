package etcddb_test

import (
	"os"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/bbs/db"
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

	Describe("a write's first read (no barrier, decision 131)", func() {
		var (
			other *etcddb.ETCDDB // writes etcd directly, unseen by the cache until released
			hold  chan struct{}
			key   *models.ActualLRPKey
		)
		a, b := &models.ActualLRPInstanceKey{InstanceGuid: "ig-a", CellId: "cell-a"}, &models.ActualLRPInstanceKey{InstanceGuid: "ig-b", CellId: "cell-b"}

		// holdCache stops the cache applying the watch until release.
		holdCache := func() (release func()) {
			hold = make(chan struct{})
			held := hold
			etcddb.SetCacheApplyHook(func() { <-held })
			var once sync.Once
			release = func() { once.Do(func() { close(held) }) }
			DeferCleanup(func() { release(); etcddb.SetCacheApplyHook(nil) })
			return release
		}
		instance := func() *models.ActualLRP {
			GinkgoHelper()
			lrps, err := other.ActualLRPs(ctx(), logger, db.ActualLRPFilter{ProcessGuid: "pg-1"})
			Expect(err).NotTo(HaveOccurred())
			Expect(lrps).To(HaveLen(1))
			return lrps[0]
		}

		BeforeEach(func() {
			clk := fakeclock.NewFakeClock(time.Unix(1000, 0))
			store = newStore(etcdClient, clk, "")
			other = etcddb.New(etcddb.Config{}, etcddb.Deps{Client: etcdClient, Clock: clk})
			key = &models.ActualLRPKey{ProcessGuid: "pg-1", Index: 0, Domain: "d"}
			Expect(store.CreateUnclaimedActualLRP(ctx(), logger, key)).Error().NotTo(HaveOccurred())
			// A read through the barrier: the cache holds the record.
			Expect(store.ActualLRPs(ctx(), logger, db.ActualLRPFilter{ProcessGuid: "pg-1"})).To(HaveLen(1))
		})
		AfterEach(func() { etcddb.SetRaceHook(nil) })

		It("loses its compare when the cache is behind, and judges the record that won", func() {
			release := holdCache()
			Expect(other.ClaimActualLRP(ctx(), logger, "pg-1", 0, a)).Error().NotTo(HaveOccurred())
			rounds := 0
			etcddb.SetRaceHook(func(op string, _ int) {
				if op == "claim-actual-lrp" {
					rounds++
					release() // the next round's barrier waits for the cache to catch up
				}
			})
			_, _, err := store.ClaimActualLRP(ctx(), logger, "pg-1", 0, b)
			Expect(err).To(MatchError(models.ErrActualLRPCannotBeClaimed))
			Expect(rounds).To(Equal(2), "the stale round lost its compare and a fresh one judged the claim by cell-a")
			Expect(instance().ActualLrpInstanceKey.GetInstanceGuid()).To(Equal("ig-a"))
		})

		It("confirms through the barrier a decision not to write", func() {
			Expect(store.ClaimActualLRP(ctx(), logger, "pg-1", 0, b)).Error().NotTo(HaveOccurred())
			Expect(store.ActualLRPs(ctx(), logger, db.ActualLRPFilter{ProcessGuid: "pg-1"})).To(HaveLen(1))
			release := holdCache()
			Expect(other.UnclaimActualLRP(ctx(), logger, key)).Error().NotTo(HaveOccurred())
			etcddb.SetRaceHook(func(op string, _ int) {
				if op == "claim-actual-lrp" {
					release()
				}
			})
			// The cache still says CLAIMED by b, which would make this
			// claim a no-op; the record in etcd is UNCLAIMED.
			_, after, err := store.ClaimActualLRP(ctx(), logger, "pg-1", 0, b)
			Expect(err).NotTo(HaveOccurred())
			Expect(after.State).To(Equal(models.ActualLRPStateClaimed))
			got := instance()
			Expect(got.State).To(Equal(models.ActualLRPStateClaimed))
			Expect(got.ActualLrpInstanceKey.GetInstanceGuid()).To(Equal("ig-b"))
		})

		It("sees this store's own earlier write without waiting for the cache", func() {
			release := holdCache()
			Expect(store.ClaimActualLRP(ctx(), logger, "pg-1", 0, b)).Error().NotTo(HaveOccurred())
			rounds := 0
			etcddb.SetRaceHook(func(op string, _ int) {
				if op == "start-actual-lrp" {
					rounds++
				}
			})
			// The claim is in etcd but not in the cache: the start judges
			// the claim it made, not the UNCLAIMED record the cache holds,
			// and its compare holds at the first round.
			before, _, err := store.StartActualLRP(ctx(), logger, key, b, &models.ActualLRPNetInfo{Address: "1.1.1.1"}, nil, nil, nil, "")
			Expect(err).NotTo(HaveOccurred())
			Expect(before.State).To(Equal(models.ActualLRPStateClaimed))
			Expect(rounds).To(Equal(1))
			Expect(instance().State).To(Equal(models.ActualLRPStateRunning))
			release()
		})
	})

	It("follows deletions made under it straight to etcd", func() {
		Expect(store.DesireTask(ctx(), logger, taskDefinition(), "t-1", "d")).Error().NotTo(HaveOccurred())
		Expect(etcdRunner.Reset()).To(Succeed()) // deletes everything under the cache's feet
		_, err := store.TaskByGuid(ctx(), logger, "t-1")
		Expect(err).To(MatchError(models.ErrResourceNotFound))
	})
})
