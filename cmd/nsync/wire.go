package main

import (
	"os"

	"github.com/tedsuo/ifrit/grouper"

	"diego/bbs/lock"
	"diego/ccbridge/ccclient"
	"diego/ccbridge/nsync"
	"diego/ccbridge/nsync/config"
	"diego/deploy/daemon"
	"diego/deploy/httpserver"
	receptorclient "diego/receptor/client"
)

// lockName is the bulker's lock, /v1/locks/nsync_bulker (spec bridge §9.9).
const lockName = "nsync_bulker"

// wire serves the listener at once; the bulker runs behind its lock in the
// background, so that every nsync serves the CC while one reconciles.
// Losing the lock ends the process (non-zero), as for the brain.
func wire(cfg config.Config, kit *daemon.Kit) (daemon.Process, error) {
	logger, clk := kit.Logger, kit.Clock
	rc, err := receptorclient.New(receptorclient.Config{
		URL: cfg.ReceptorURL, Username: cfg.ReceptorUsername, Password: cfg.ReceptorPassword,
		Timeout: cfg.CommunicationTimeout.Duration(),
	})
	if err != nil {
		return daemon.Process{}, err
	}
	cc, err := ccclient.NewAppsClient(ccclient.AppsConfig{
		BaseURL: cfg.CCBaseURL, Username: cfg.CCBasicAuthUsername, Password: cfg.CCBasicAuthPassword,
		Timeout: cfg.CommunicationTimeout.Duration(),
	})
	if err != nil {
		return daemon.Process{}, err
	}
	lifecycles, err := nsync.ParseLifecycles(cfg.Lifecycles)
	if err != nil {
		return daemon.Process{}, err
	}
	recipes := nsync.RecipeBuilder{Lifecycles: lifecycles, FileServerURL: cfg.FileServerURL}

	handler, err := nsync.NewListener(nsync.ListenerDeps{Logger: logger, Receptor: rc, Recipes: recipes})
	if err != nil {
		return daemon.Process{}, err
	}
	server := httpserver.New(cfg.ListenAddr, handler)

	held, etcd, err := lock.DialLock(cfg.Lock, lockName, map[string]string{"nsync_id": cfg.ID}, logger, clk)
	if err != nil {
		return daemon.Process{}, err
	}
	kit.Defer(func() { _ = etcd.Close() })
	bulker := nsync.NewBulker(nsync.BulkerConfig{
		PollingInterval:      cfg.CCPollingInterval.Duration(),
		BatchSize:            cfg.CCBulkBatchSize,
		DomainTTL:            cfg.DomainTTL.Duration(),
		UpdateLRPWorkers:     cfg.BBSUpdateLRPWorkers,
		CommunicationTimeout: cfg.CommunicationTimeout.Duration(),
	}, nsync.BulkerDeps{Logger: logger, Clock: clk, Receptor: rc, CC: cc, Recipes: recipes})

	return daemon.Process{Members: grouper.Members{
		{Name: "listener", Runner: server},
		{Name: "bulker", Runner: daemon.Background(grouper.NewOrdered(os.Interrupt, grouper.Members{
			{Name: "lock", Runner: held},
			{Name: "bulker", Runner: bulker},
		}))},
	}}, nil
}
