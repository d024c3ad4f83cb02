package presence_test

import (
	"errors"
	"os"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/tedsuo/ifrit"

	"diego/bbs/lock"
	"diego/deploy/clock"
	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/executor"
	"diego/models"
	"diego/rep"
	"diego/rep/presence"
	"diego/rep/presence/presencefakes"
)

const expectedPresence = `{
	"cell_id": "cell-z1-0",
	"rep_address": "http://10.0.0.5:1800",
	"rep_url": "http://10.0.0.5:1800",
	"zone": "z1",
	"capacity": {"memory_mb": 8000, "disk_mb": 30000, "containers": 250},
	"rootfs_provider_list": [
		{"name": "preloaded", "properties": ["busybox", "cflinuxfs4"]},
		{"name": "preloaded+layer", "properties": ["busybox", "cflinuxfs4"]},
		{"name": "docker"}
	],
	"placement_tags": ["gpu"],
	"annotations": null
}`

var _ = Describe("Maintainer", func() {
	var (
		fakeExecutor *presencefakes.FakeExecutorClient
		fakeClock    *fakeclock.FakeClock
		logs         *gbytes.Buffer
		cfg          presence.Config
		key          string

		mu       sync.Mutex
		pingErr  error
		leaseCfg []lock.Config
	)

	setPing := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		pingErr = err
	}

	BeforeEach(func() {
		fakeExecutor = new(presencefakes.FakeExecutorClient)
		fakeClock = fakeclock.NewFakeClock(time.Now())
		logs = gbytes.NewBuffer()
		pingErr = errors.New("connection refused")
		leaseCfg = nil
		fakeExecutor.PingStub = func() error {
			mu.Lock()
			defer mu.Unlock()
			return pingErr
		}
		fakeExecutor.TotalResourcesReturns(executor.ExecutorResources{MemoryMB: 8000, DiskMB: 30000, Containers: 250}, nil)
		cfg = presence.Config{
			CellID:     "cell-z1-0",
			RepAddress: "http://10.0.0.5:1800",
			RepURL:     "http://10.0.0.5:1800",
			Zone:       "z1",
			RootFSProviders: rep.RootFSProviders{
				"docker":          rep.NewArbitraryProvider(),
				"preloaded":       rep.NewFixedSetProvider("cflinuxfs4", "busybox"),
				"preloaded+layer": rep.NewFixedSetProvider("cflinuxfs4", "busybox"),
			},
			PlacementTags: []string{"gpu"},
			Root:          "/diego",
			TTL:           2 * time.Second,
			RetryInterval: 5 * time.Second,
		}
		key = lock.PresenceKey("/diego", "cell-z1-0")
	})

	start := func() ifrit.Process {
		client := newEtcdClient()
		newLease := func(c lock.Config) ifrit.Runner {
			mu.Lock()
			leaseCfg = append(leaseCfg, c)
			mu.Unlock()
			return lock.NewPresenceRunner(c, lock.Deps{Logger: logging.New(logs, -8, "rep"), Client: client, Clock: clock.NewClock()})
		}
		p := ifrit.Background(presence.New(cfg, presence.Deps{Logger: logging.New(logs, -8, "rep"), Clock: fakeClock, Executor: fakeExecutor, NewLease: newLease}))
		DeferCleanup(func() {
			p.Signal(os.Interrupt)
			Eventually(p.Wait(), 10*time.Second).Should(Receive())
		})
		return p
	}

	// waitingForExecutor: the maintainer has pinged and its 1 s timer is set.
	waitingForExecutor := func() {
		Eventually(logs).Should(gbytes.Say("waiting-for-executor"))
		Eventually(fakeClock.WatcherCount).Should(Equal(1))
	}

	It("appears within a second of the executor answering, as the spec's CellPresence", func() {
		p := start()
		waitingForExecutor()
		fakeClock.Increment(time.Second)
		Eventually(fakeExecutor.PingCallCount).Should(Equal(2))
		Eventually(fakeClock.WatcherCount).Should(Equal(1))
		Consistently(value(key)).Should(BeEmpty())
		Expect(p.Ready()).NotTo(BeClosed())

		setPing(nil)
		fakeClock.Increment(time.Second)
		Eventually(value(key)).Should(MatchJSON(expectedPresence))
		Eventually(p.Ready()).Should(BeClosed())

		mu.Lock()
		Expect(leaseCfg).To(HaveLen(1))
		Expect(leaseCfg[0].Key).To(Equal("/diego/v1/cell/cell-z1-0"))
		Expect(leaseCfg[0].TTL).To(Equal(2 * time.Second))
		Expect(leaseCfg[0].RetryInterval).To(Equal(5 * time.Second))
		mu.Unlock()

		var written models.CellPresence
		Expect(written.UnmarshalJSON([]byte(value(key)()))).To(Succeed())
		Expect(written.GetCapacity().GetMemoryMb()).To(Equal(int32(8000)))
	})

	It("writes at once when the executor already answers", func() {
		setPing(nil)
		p := start()
		Eventually(p.Ready()).Should(BeClosed())
		Expect(value(key)()).To(MatchJSON(expectedPresence))
		Expect(fakeClock.WatcherCount()).To(Equal(1)) // only the ping ticker
	})

	It("drops the presence when a ping fails and brings it back when the executor answers again", func() {
		setPing(nil)
		p := start()
		Eventually(p.Ready()).Should(BeClosed())
		Eventually(fakeClock.WatcherCount).Should(Equal(1))

		// A healthy ping keeps it.
		fakeClock.Increment(5 * time.Second)
		Eventually(fakeExecutor.PingCallCount).Should(Equal(2))
		Consistently(value(key)).ShouldNot(BeEmpty())

		setPing(errors.New("executor gone"))
		fakeClock.Increment(5 * time.Second)
		Eventually(value(key)).Should(BeEmpty())
		Expect(logs).To(gbytes.Say("executor-ping-failed-dropping-presence"))
		waitingForExecutor()
		Consistently(value(key)).Should(BeEmpty())

		setPing(nil)
		fakeClock.Increment(time.Second)
		Eventually(value(key)).Should(MatchJSON(expectedPresence))
		Consistently(p.Wait()).ShouldNot(Receive())
	})

	It("retries after a second when the total resources cannot be read", func() {
		setPing(nil)
		fakeExecutor.TotalResourcesReturnsOnCall(0, executor.ExecutorResources{}, errors.New("not yet"))
		p := start()
		Eventually(logs).Should(gbytes.Say("failed-to-get-total-resources"))
		Eventually(fakeClock.WatcherCount).Should(Equal(1))
		Consistently(value(key)).Should(BeEmpty())
		fakeClock.Increment(time.Second)
		Eventually(p.Ready()).Should(BeClosed())
		Expect(value(key)()).To(MatchJSON(expectedPresence))
	})

	It("releases the presence on a signal", func() {
		setPing(nil)
		p := start()
		Eventually(p.Ready()).Should(BeClosed())
		Expect(value(key)()).NotTo(BeEmpty())

		p.Signal(os.Interrupt)
		Eventually(p.Wait()).Should(Receive(BeNil()))
		Expect(value(key)()).To(BeEmpty())
		Expect(logs).To(gbytes.Say("presence-released"))
	})

	It("returns on a signal while waiting for the executor", func() {
		p := start()
		waitingForExecutor()
		p.Signal(os.Interrupt)
		Eventually(p.Wait()).Should(Receive(BeNil()))
		Expect(value(key)()).To(BeEmpty())
	})

	It("starts over when the lease runner exits by itself", func() {
		setPing(nil)
		var calls int
		runner := presence.New(cfg, presence.Deps{Logger: logging.New(logs, -8, "rep"), Clock: fakeClock, Executor: fakeExecutor,
			NewLease: func(lock.Config) ifrit.Runner {
				mu.Lock()
				calls++
				mu.Unlock()
				return ifrit.RunFunc(func(<-chan os.Signal, chan<- struct{}) error { return errors.New("etcd gone") })
			}})
		p := ifrit.Background(runner)
		DeferCleanup(func() {
			p.Signal(os.Interrupt)
			Eventually(p.Wait()).Should(Receive())
		})
		Eventually(logs).Should(gbytes.Say("presence-runner-exited"))
		Eventually(fakeClock.WatcherCount).Should(Equal(1))
		fakeClock.Increment(5 * time.Second)
		Eventually(func() int { mu.Lock(); defer mu.Unlock(); return calls }).Should(Equal(2))
	})

	It("lists arbitrary providers without stacks and orders the preloaded schemes first", func() {
		list := presence.ProviderList(rep.RootFSProviders{
			"docker": rep.NewArbitraryProvider(), "zfs": rep.NewArbitraryProvider(),
			"preloaded+layer": rep.NewFixedSetProvider("b", "a"), "preloaded": rep.NewFixedSetProvider("a"),
		})
		var names []string
		for _, p := range list {
			names = append(names, p.GetName())
		}
		Expect(names).To(Equal([]string{"preloaded", "preloaded+layer", "docker", "zfs"}))
		Expect(list[1].GetProperties()).To(Equal([]string{"a", "b"}))
		Expect(list[2].GetProperties()).To(BeEmpty())
	})
})
