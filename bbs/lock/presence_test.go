package lock_test

import (
	"context"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/tedsuo/ifrit"
	clientv3 "go.etcd.io/etcd/client/v3"

	"diego/bbs/lock"
	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
)

var _ = Describe("PresenceRunner", func() {
	var (
		key       string
		client    *clientv3.Client
		fakeClock *fakeclock.FakeClock
		logs      *gbytes.Buffer
	)

	newRunner := func(c *clientv3.Client, v string) ifrit.Runner {
		return lock.NewPresenceRunner(lock.Config{
			Key:           key,
			Value:         []byte(v),
			TTL:           2 * time.Second,
			RetryInterval: 5 * time.Second,
		}, lock.Deps{Logger: logging.New(logs, -8, "rep"), Client: c, Clock: fakeClock})
	}

	BeforeEach(func() {
		key = lock.PresenceKey(lock.DefaultRoot, "cell-z1-0")
		client = newClient()
		fakeClock = fakeclock.NewFakeClock(time.Now())
		logs = gbytes.NewBuffer()
	})

	It("keeps the key while running and removes it on a signal", func() {
		p := start(newRunner(client, `{"cell_id":"cell-z1-0"}`))
		Eventually(p.Ready()).Should(BeClosed())
		Expect(value(key)()).To(Equal(`{"cell_id":"cell-z1-0"}`))
		Consistently(value(key), 3*time.Second).Should(Equal(`{"cell_id":"cell-z1-0"}`))

		p.Signal(os.Interrupt)
		Eventually(p.Wait()).Should(Receive(BeNil()))
		Expect(getKV(key)().Kvs).To(BeEmpty())
		Expect(logs).To(gbytes.Say(`"session":"rep.presence.maintain"`))
	})

	It("writes the key again under a new lease when its lease is revoked", func() {
		p := start(newRunner(client, "v"))
		Eventually(p.Ready()).Should(BeClosed())
		lease := leaseOf(key)

		_, err := etcdClient.Revoke(ctxTimeout(), lease)
		Expect(err).NotTo(HaveOccurred())

		Eventually(func() clientv3.LeaseID {
			resp := getKV(key)()
			if len(resp.Kvs) == 0 {
				return 0
			}
			return clientv3.LeaseID(resp.Kvs[0].Lease)
		}).ShouldNot(Or(BeZero(), Equal(lease)))
		Expect(value(key)()).To(Equal("v"))
		Expect(logs).To(gbytes.Say(`presence-lost`))
		Consistently(p.Wait()).ShouldNot(Receive())
	})

	It("waits, logging it, while another lease holds the key, then takes over", func() {
		grant, err := etcdClient.Grant(ctxTimeout(), 60)
		Expect(err).NotTo(HaveOccurred())
		_, err = etcdClient.Put(ctxTimeout(), key, "impostor", clientv3.WithLease(grant.ID))
		Expect(err).NotTo(HaveOccurred())

		p := start(newRunner(client, "mine"))
		Eventually(logs).Should(gbytes.Say(`presence-claimed-by-another-lease.*impostor`))
		Consistently(p.Ready()).ShouldNot(BeClosed())

		_, err = etcdClient.Revoke(ctxTimeout(), grant.ID)
		Expect(err).NotTo(HaveOccurred())
		Eventually(p.Ready()).Should(BeClosed())
		Expect(value(key)()).To(Equal("mine"))
	})

	It("disappears within the TTL when the process dies without revoking", func() {
		dying, err := etcdRunner.Client()
		Expect(err).NotTo(HaveOccurred())
		p := start(newRunner(dying, "v"))
		Eventually(p.Ready()).Should(BeClosed())

		Expect(dying.Close()).To(Succeed())
		Eventually(value(key), 4*time.Second).Should(BeEmpty())
	})
})

var _ = Describe("Value and Presences", func() {
	It("reads what is stored", func() {
		key := lock.LockKey("/r", "auctioneer")
		_, err := lock.Value(ctxTimeout(), etcdClient, key)
		Expect(err).To(MatchError(lock.ErrNotFound))

		_, err = etcdClient.Put(ctxTimeout(), key, `{"auctioneer_address":"http://a:9016"}`)
		Expect(err).NotTo(HaveOccurred())
		v, err := lock.Value(ctxTimeout(), etcdClient, key)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(v)).To(Equal(`{"auctioneer_address":"http://a:9016"}`))
	})

	It("lists the presences under a root", func() {
		presences, err := lock.Presences(ctxTimeout(), etcdClient, "/r")
		Expect(err).NotTo(HaveOccurred())
		Expect(presences).To(BeEmpty())

		for key, v := range map[string]string{
			lock.PresenceKey("/r", "cell-a"):      "A",
			lock.PresenceKey("/r", "cell-b"):      "B",
			lock.PresenceKey("/other", "cell-c"):  "C",
			lock.LockKey("/r", "converger"):       "L",
			lock.PresenceKey("/r", "cell-a-long"): "AL",
		} {
			_, err := etcdClient.Put(ctxTimeout(), key, v)
			Expect(err).NotTo(HaveOccurred())
		}
		presences, err = lock.Presences(ctxTimeout(), etcdClient, "/r")
		Expect(err).NotTo(HaveOccurred())
		Expect(presences).To(Equal(map[string][]byte{
			"cell-a": []byte("A"), "cell-b": []byte("B"), "cell-a-long": []byte("AL"),
		}))
	})
})

var _ = Describe("WatchPresences", func() {
	var (
		events <-chan lock.PresenceEvent
		cancel context.CancelFunc
	)

	BeforeEach(func() {
		_, err := etcdClient.Put(ctxTimeout(), lock.PresenceKey("/r", "cell-old"), "old")
		Expect(err).NotTo(HaveOccurred())

		var ctx context.Context
		ctx, cancel = context.WithCancel(context.Background())
		DeferCleanup(func() {
			cancel()
			Eventually(events).Should(BeClosed())
		})
		events = lock.WatchPresences(ctx, logging.Discard(), newClient(), "/r")
	})

	It("reports the presences already there, then appearances and disappearances", func() {
		Eventually(events).Should(Receive(Equal(lock.PresenceEvent{CellID: "cell-old", Present: true})))

		p := start(lock.NewPresenceRunner(lock.Config{
			Key: lock.PresenceKey("/r", "cell-new"), Value: []byte("new"), TTL: time.Second,
		}, lock.Deps{Logger: logging.Discard(), Client: newClient(), Clock: fakeclock.NewFakeClock(time.Now())}))
		Eventually(p.Ready()).Should(BeClosed())
		Eventually(events).Should(Receive(Equal(lock.PresenceEvent{CellID: "cell-new", Present: true})))

		// Rewriting a presence in place is no appearance.
		_, err := etcdClient.Put(ctxTimeout(), lock.PresenceKey("/r", "cell-old"), "old, updated")
		Expect(err).NotTo(HaveOccurred())
		Consistently(events).ShouldNot(Receive())

		p.Signal(os.Interrupt)
		Eventually(p.Wait()).Should(Receive(BeNil()))
		Eventually(events).Should(Receive(Equal(lock.PresenceEvent{CellID: "cell-new", Present: false})))

		_, err = etcdClient.Delete(ctxTimeout(), lock.PresenceKey("/r", "cell-old"))
		Expect(err).NotTo(HaveOccurred())
		Eventually(events).Should(Receive(Equal(lock.PresenceEvent{CellID: "cell-old", Present: false})))
	})

	It("closes the channel when the context is done", func() {
		Eventually(events).Should(Receive())
		cancel()
		Eventually(events).Should(BeClosed())
	})

	It("lists again and reports the differences when its revision was compacted", func() {
		cancel() // the watch started in BeforeEach is not needed
		Eventually(events).Should(BeClosed())

		put, err := etcdClient.Put(ctxTimeout(), lock.PresenceKey("/r", "cell-a"), "A")
		Expect(err).NotTo(HaveOccurred())
		seen := put.Header.Revision
		_, err = etcdClient.Put(ctxTimeout(), lock.PresenceKey("/r", "cell-b"), "B")
		Expect(err).NotTo(HaveOccurred())
		_, err = etcdClient.Delete(ctxTimeout(), lock.PresenceKey("/r", "cell-a"))
		Expect(err).NotTo(HaveOccurred())
		last, err := etcdClient.Put(ctxTimeout(), "/unrelated", "x")
		Expect(err).NotTo(HaveOccurred())
		_, err = etcdClient.Compact(ctxTimeout(), last.Header.Revision)
		Expect(err).NotTo(HaveOccurred())

		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		logs := gbytes.NewBuffer()
		resumed := lock.WatchPresencesFrom(ctx, logging.New(logs, -8, "converger"), newClient(), "/r", []string{"cell-a", "cell-old"}, seen)

		var got []lock.PresenceEvent
		for range 2 {
			var ev lock.PresenceEvent
			Eventually(resumed).Should(Receive(&ev))
			got = append(got, ev)
		}
		Expect(got).To(ConsistOf(
			lock.PresenceEvent{CellID: "cell-a", Present: false},
			lock.PresenceEvent{CellID: "cell-b", Present: true},
		))
		Consistently(resumed).ShouldNot(Receive())
		Expect(logs).To(gbytes.Say(`"msg":"watch-compacted".*"session":"converger.presence.watch"`))
	})
})
