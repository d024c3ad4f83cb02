package doppler_test

import (
	"log/slog"
	"sync"
	"time"

	"github.com/tedsuo/ifrit/ginkgomon_v2"

	"diego/deploy/clock/fakeclock"
	"diego/metron"
	"diego/metron/doppler"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

type counters struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (c *counters) AddToCounter(name string, delta uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[name] += delta
}

func (c *counters) get(name string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[name]
}

var _ = Describe("Reporter", func() {
	It("sends the ingest's counts as deltas on its interval", func() {
		clock := fakeclock.NewFakeClock(time.Unix(0, 0))
		store := doppler.NewStore(clock, 100, time.Minute)
		ingest := doppler.NewIngest("127.0.0.1:0", secret, store, slog.New(slog.NewTextHandler(GinkgoWriter, nil)))
		got := &counters{m: map[string]uint64{}}
		p := ginkgomon_v2.Invoke(&doppler.Reporter{Ingest: ingest, Store: store, Metrics: got, Clock: clock, Interval: time.Second})
		defer ginkgomon_v2.Interrupt(p)

		ingest.Handle(signed(logEnv("app", "x", 1, "0")))
		ingest.Handle([]byte("short"))
		ingest.Handle(metron.Sign([]byte("other"), []byte("whatever")))
		clock.Increment(time.Second)
		Eventually(func() uint64 { return got.get(doppler.ReceivedCount) }).Should(BeEquivalentTo(3))
		Eventually(func() uint64 { return got.get(doppler.UnsignedCount) }).Should(BeEquivalentTo(1))
		Eventually(func() uint64 { return got.get(doppler.BadSignatureCount) }).Should(BeEquivalentTo(1))

		ingest.Handle(signed(logEnv("app", "y", 2, "0")))
		clock.Increment(time.Second)
		Eventually(func() uint64 { return got.get(doppler.ReceivedCount) }).Should(BeEquivalentTo(4), "deltas, not totals again")
		Consistently(func() uint64 { return got.get(doppler.UnsignedCount) }, 200*time.Millisecond).Should(BeEquivalentTo(1))
	})
})
