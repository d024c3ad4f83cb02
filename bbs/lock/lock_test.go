package lock_test

import (
	"fmt"
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

var _ = Describe("keys", func() {
	It("puts locks and presences under the root", func() {
		Expect(lock.LockKey(lock.DefaultRoot, "auctioneer")).To(Equal("/diego/v1/locks/auctioneer"))
		Expect(lock.PresenceKey("/r", "cell-1")).To(Equal("/r/v1/cell/cell-1"))
		Expect(lock.DefaultTTL).To(Equal(15 * time.Second))
		Expect(lock.DefaultRetryInterval).To(Equal(5 * time.Second))
	})
})

var _ = Describe("LockRunner", func() {
	var (
		key       string
		client    *clientv3.Client
		fakeClock *fakeclock.FakeClock
		logs      *gbytes.Buffer
	)

	newRunner := func(owner string) ifrit.Runner {
		return lock.NewLockRunner(lock.Config{
			Key:           key,
			Value:         []byte(owner),
			TTL:           time.Second,
			RetryInterval: 5 * time.Second,
		}, lock.Deps{Logger: logging.New(logs, -8, "test"), Client: client, Clock: fakeClock})
	}

	BeforeEach(func() {
		key = lock.LockKey(lock.DefaultRoot, "auctioneer")
		client = newClient()
		fakeClock = fakeclock.NewFakeClock(time.Now())
		logs = gbytes.NewBuffer()
	})

	It("is ready only once it holds the lock, with its value under a lease", func() {
		p := start(newRunner(`{"auctioneer_id":"a1"}`))
		Eventually(p.Ready()).Should(BeClosed())
		Expect(value(key)()).To(Equal(`{"auctioneer_id":"a1"}`))
		Expect(leaseOf(key)).NotTo(BeZero())
		Expect(logs).To(gbytes.Say(`"msg":"acquired".*"session":"test.lock.hold"`))
	})

	It("keeps the lock past its TTL", func() {
		p := start(newRunner("a"))
		Eventually(p.Ready()).Should(BeClosed())
		lease := leaseOf(key)
		Consistently(p.Wait(), 3*time.Second).ShouldNot(Receive())
		Expect(leaseOf(key)).To(Equal(lease))
	})

	It("makes a second runner wait until the first releases, then acquires via the watch", func() {
		first := start(newRunner("first"))
		Eventually(first.Ready()).Should(BeClosed())

		second := start(newRunner("second"))
		Eventually(logs).Should(gbytes.Say(`lock-taken`))
		Consistently(second.Ready()).ShouldNot(BeClosed())
		Expect(value(key)()).To(Equal("first"))

		first.Signal(os.Interrupt)
		Eventually(first.Wait()).Should(Receive(BeNil()))

		// The fake clock never moves, so only the watch can wake it.
		Eventually(second.Ready(), 2*time.Second).Should(BeClosed())
		Expect(value(key)()).To(Equal("second"))
	})

	It("retries every retry interval on the clock", func() {
		first := start(newRunner("first"))
		Eventually(first.Ready()).Should(BeClosed())

		second := start(newRunner("second"))
		Eventually(logs).Should(gbytes.Say(`lock-taken`))
		Eventually(fakeClock.WatcherCount).Should(Equal(1))
		Consistently(logs).ShouldNot(gbytes.Say(`lock-taken`))

		fakeClock.Increment(5 * time.Second)
		Eventually(logs).Should(gbytes.Say(`lock-taken`))
		Expect(isReady(second)).To(BeFalse())
	})

	Context("when the lock is lost", func() {
		var p ifrit.Process

		BeforeEach(func() {
			p = start(newRunner("holder"))
			Eventually(p.Ready()).Should(BeClosed())
		})

		It("exits with ErrLockLost when its lease expires or is revoked", func() {
			_, err := etcdClient.Revoke(ctxTimeout(), leaseOf(key))
			Expect(err).NotTo(HaveOccurred())

			var exitErr error
			Eventually(p.Wait(), 2*time.Second).Should(Receive(&exitErr))
			Expect(exitErr).To(MatchError(lock.ErrLockLost))
			Expect(logs).To(gbytes.Say(`"msg":"lost"`))
		})

		It("exits with ErrLockLost when the key is deleted", func() {
			_, err := etcdClient.Delete(ctxTimeout(), key)
			Expect(err).NotTo(HaveOccurred())

			var exitErr error
			Eventually(p.Wait(), 2*time.Second).Should(Receive(&exitErr))
			Expect(exitErr).To(MatchError(lock.ErrLockLost))
			Expect(exitErr.Error()).To(ContainSubstring("key deleted"))
		})

		It("exits with ErrLockLost when the key is overwritten", func() {
			_, err := etcdClient.Put(ctxTimeout(), key, "usurper")
			Expect(err).NotTo(HaveOccurred())

			var exitErr error
			Eventually(p.Wait(), 2*time.Second).Should(Receive(&exitErr))
			Expect(exitErr).To(MatchError(lock.ErrLockLost))
			Expect(exitErr.Error()).To(ContainSubstring("key overwritten"))
		})

		It("exits with ErrLockLost when its client goes away", func() {
			Expect(client.Close()).To(Succeed())
			DeferCleanup(func() { GinkgoWriter.Println(string(logs.Contents())) })

			var exitErr error
			Eventually(p.Wait(), 2*time.Second).Should(Receive(&exitErr))
			Expect(exitErr).To(MatchError(lock.ErrLockLost))
		})
	})

	It("stops trying and returns nil when signalled before acquiring", func() {
		_, err := etcdClient.Put(ctxTimeout(), key, "someone else")
		Expect(err).NotTo(HaveOccurred())

		p := start(newRunner("waiter"))
		Eventually(logs).Should(gbytes.Say(`lock-taken`))
		p.Signal(os.Interrupt)
		Eventually(p.Wait()).Should(Receive(BeNil()))
		Expect(isReady(p)).To(BeFalse())
		Expect(value(key)()).To(Equal("someone else"))
	})

	It("releases the lock (revokes its lease) and returns nil when signalled while holding", func() {
		p := start(newRunner("holder"))
		Eventually(p.Ready()).Should(BeClosed())
		lease := leaseOf(key)

		p.Signal(os.Interrupt)
		Eventually(p.Wait()).Should(Receive(BeNil()))
		Expect(getKV(key)().Kvs).To(BeEmpty())
		ttl, err := etcdClient.TimeToLive(ctxTimeout(), lease)
		Expect(err).NotTo(HaveOccurred())
		Expect(ttl.TTL).To(BeNumerically("==", -1))
	})

	It("lets exactly one of several competing runners hold the lock at any moment", func() {
		const n = 5
		running := map[string]ifrit.Process{}
		for i := range n {
			owner := fmt.Sprintf("owner-%d", i)
			running[owner] = start(newRunner(owner))
		}

		holder := func() string {
			var ready []string
			for owner, p := range running {
				if isReady(p) {
					ready = append(ready, owner)
				}
			}
			if len(ready) != 1 {
				return fmt.Sprintf("%d ready: %v", len(ready), ready)
			}
			return ready[0]
		}

		for range n {
			Eventually(holder).Should(HavePrefix("owner-"))
			owner := holder()
			Consistently(holder, 300*time.Millisecond).Should(Equal(owner))
			Expect(value(key)()).To(Equal(owner))

			p := running[owner]
			delete(running, owner)
			p.Signal(os.Interrupt)
			Eventually(p.Wait()).Should(Receive(BeNil()))
		}
		Expect(getKV(key)().Kvs).To(BeEmpty())
	})
})
