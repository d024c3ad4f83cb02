package lock_test

import (
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"diego/bbs/lock"
	"diego/deploy/clock/fakeclock"
	"diego/deploy/config"
	"diego/deploy/logging"
)

var _ = Describe("DialLock", func() {
	var (
		cfg  config.Lock
		logs *gbytes.Buffer
		clk  *fakeclock.FakeClock
	)

	BeforeEach(func() {
		cfg = config.Lock{
			ETCD: config.ETCD{Endpoints: []string{etcdRunner.ClientURL()}}, Root: "/dial-lock",
			LockTTL: config.Duration(2 * time.Second), LockRetryInterval: config.Duration(time.Second),
		}
		logs = gbytes.NewBuffer()
		clk = fakeclock.NewFakeClock(time.Now())
	})

	It("holds the named lock under the block's root, with the owner as JSON, over a client the caller keeps", func() {
		held, client, err := lock.DialLock(cfg, "converger", map[string]string{"converger_id": "c1"}, logging.New(logs, -8, "test"), clk)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _ = client.Close() })

		p := start(held)
		Eventually(p.Ready()).Should(BeClosed())
		key := lock.LockKey("/dial-lock", "converger")
		Expect(value(key)()).To(MatchJSON(`{"converger_id":"c1"}`))
		resp, err := etcdClient.TimeToLive(ctxTimeout(), leaseOf(key))
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.GrantedTTL).To(BeEquivalentTo(2))

		By("the client stays usable while the lock is held")
		got, err := lock.Value(ctxTimeout(), client, key)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(MatchJSON(`{"converger_id":"c1"}`))

		p.Signal(os.Interrupt)
		Eventually(p.Wait()).Should(Receive(BeNil()))
		Expect(value(key)()).To(BeEmpty())
	})

	It("refuses an owner that cannot be JSON, and a block without endpoints", func() {
		_, _, err := lock.DialLock(cfg, "tps_watcher", func() {}, logging.New(logs, -8, "test"), clk)
		Expect(err).To(MatchError(ContainSubstring("lock tps_watcher: encoding its value")))

		cfg.ETCD.Endpoints = nil
		_, _, err = lock.DialLock(cfg, "tps_watcher", map[string]string{"tps_id": "t"}, logging.New(logs, -8, "test"), clk)
		Expect(err).To(MatchError("etcd client: no endpoints"))
	})
})
