package main

import (
	"context"
	"os"

	"github.com/tedsuo/ifrit/grouper"

	"diego/bbs/lock"
	"diego/ccbridge/ccclient"
	"diego/ccbridge/tps"
	"diego/ccbridge/tps/config"
	"diego/deploy/daemon"
	"diego/deploy/httpserver"
	receptorclient "diego/receptor/client"
)

// lockName is the watcher's lock, /v1/locks/tps_watcher (spec bridge §9.9).
const lockName = "tps_watcher"

// wire serves the listener at once; the watcher runs behind its lock in the
// background, so that every TPS answers the CC while one reports. Losing
// the lock ends the process (non-zero).
func wire(cfg config.Config, kit *daemon.Kit) (daemon.Process, error) {
	logger, clk := kit.Logger, kit.Clock
	timeout := cfg.CommunicationTimeout.Duration()
	rc, err := receptorclient.New(receptorclient.Config{
		URL: cfg.ReceptorURL, Username: cfg.ReceptorUsername, Password: cfg.ReceptorPassword, Timeout: timeout,
	})
	if err != nil {
		return daemon.Process{}, err
	}
	doppler, err := tps.NewDopplerClient(cfg.DopplerURL, timeout)
	if err != nil {
		return daemon.Process{}, err
	}
	cc, err := ccclient.NewAppsClient(ccclient.AppsConfig{
		BaseURL: cfg.CCBaseURL, Username: cfg.CCBasicAuthUsername, Password: cfg.CCBasicAuthPassword, Timeout: timeout,
	})
	if err != nil {
		return daemon.Process{}, err
	}
	handler, err := tps.NewListener(tps.ListenerConfig{
		MaxInFlightRequests: cfg.MaxInFlightRequests, BulkWorkers: cfg.BulkLRPStatusWorkers,
	}, tps.ListenerDeps{Logger: logger, Clock: clk, Receptor: rc, Doppler: doppler})
	if err != nil {
		return daemon.Process{}, err
	}

	held, etcd, err := lock.DialLock(cfg.Lock, lockName, map[string]string{"tps_id": cfg.ID}, logger, clk)
	if err != nil {
		return daemon.Process{}, err
	}
	kit.Defer(func() { _ = etcd.Close() })
	watcher := tps.NewWatcher(tps.WatcherConfig{
		MaxEventHandlingWorkers: cfg.MaxEventHandlingWorkers, CommunicationTimeout: timeout,
	}, tps.WatcherDeps{Logger: logger, Clock: clk, Subscriber: subscriber{rc}, CC: cc})

	return daemon.Process{Members: grouper.Members{
		{Name: "listener", Runner: httpserver.New(cfg.ListenAddr, handler)},
		{Name: "watcher", Runner: daemon.Background(grouper.NewOrdered(os.Interrupt, grouper.Members{
			{Name: "lock", Runner: held},
			{Name: "watcher", Runner: watcher},
		}))},
	}}, nil
}

// subscriber adapts the receptor client's concrete event source.
type subscriber struct{ c *receptorclient.Client }

func (s subscriber) SubscribeToEvents(ctx context.Context) (tps.EventSource, error) {
	return s.c.SubscribeToEvents(ctx)
}
