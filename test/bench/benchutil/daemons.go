package benchutil

import (
	"time"

	auctioneerconfig "diego/auctioneer/config"
	"diego/deploy/cluster"
	"diego/deploy/config"
	"diego/test/ports"
)

// StartAuctioneer runs cmd/auctioneer against the BBS at bbsURL and the
// etcd at etcdURL, its config from deploy/cluster's Maker with a 3 s lock
// (the benchmarks' clusters start and stop within a minute) changed by
// mods, and its pprof listener on BENCH_AUCTIONEER_PPROF when that is set.
func StartAuctioneer(etcdURL, bbsURL string, mods ...func(*auctioneerconfig.Config)) *Process {
	m := cluster.Maker{ETCD: config.ETCD{Endpoints: []string{etcdURL}}, BBSURL: bbsURL, LogLevel: "error"}
	cfg := m.Auctioneer("bench-auctioneer", ports.Addr(), func(c *auctioneerconfig.Config) {
		c.LockTTL, c.LockRetryInterval = config.Duration(3*time.Second), config.Duration(500*time.Millisecond)
		if addr := AuctioneerPprof(); addr != "" {
			c.DebugAddress = addr
		}
	})
	for _, mod := range mods {
		mod(&cfg)
	}
	return StartBinary("auctioneer", cfg)
}

// WaitFor polls done every interval until it holds, and ends the benchmark
// with a failure naming what once limit has passed.
func WaitFor(limit, interval time.Duration, what string, done func() bool) {
	deadline := time.Now().Add(limit)
	for !done() {
		if time.Now().After(deadline) {
			Fatal("timed out waiting for %s", what)
		}
		time.Sleep(interval)
	}
}
