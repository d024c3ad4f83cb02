package main

import (
	"fmt"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"

	bbsclient "diego/bbs/client"
	"diego/bbs/lock"
	"diego/deploy/daemon"
	"diego/deploy/httpserver"
	executorclient "diego/executor/client"
	"diego/metron/emitter"
	"diego/rep/auctioncellrep"
	"diego/rep/config"
	"diego/rep/evacuator"
	"diego/rep/handlers"
	"diego/rep/presence"
	repsync "diego/rep/sync"
)

// wire builds the rep: the API first (the auctioneer may ask at once), then
// the BBS sync, the presence, the evacuator (whose return ends the rep) and
// "ready"; signals pass through TrapSignals, which turns SIGUSR1 (and, when
// configured, SIGTERM/SIGINT) into an evacuation.
func wire(cfg config.Config, kit *daemon.Kit) (daemon.Process, error) {
	logger, clk := kit.Logger, kit.Clock
	timeout := cfg.CommunicationTimeout.Duration()

	exec := executorclient.New(cfg.ExecutorAddress, timeout)
	bbs, err := bbsclient.New(bbsclient.Config{
		URL: cfg.BBSAddress, CAFile: cfg.BBSCACertFile, CertFile: cfg.BBSClientCertFile, KeyFile: cfg.BBSClientKeyFile,
		Timeout: timeout,
	})
	if err != nil {
		return daemon.Process{}, err
	}
	etcd, err := lock.Dial(cfg.ETCD)
	if err != nil {
		return daemon.Process{}, err
	}
	kit.Defer(func() { _ = etcd.Close() })
	metrics, err := emitter.New(fmt.Sprintf("127.0.0.1:%d", cfg.DropsondePort), "rep", clk)
	if err != nil {
		return daemon.Process{}, err
	}

	flag := evacuator.NewFlag()
	address := cfg.Address()
	cellRep := auctioncellrep.New(auctioncellrep.Config{
		CellID: cfg.CellID, RepURL: address, Zone: cfg.Zone, StackPathMap: cfg.StackPathMap(),
		RootFSProviders: cfg.RootFSProviders(), PlacementTags: cfg.PlacementTags, OptionalPlacementTags: cfg.OptionalPlacementTags,
	}, auctioncellrep.Deps{Executor: exec, Evacuation: flag})
	api, err := handlers.New(handlers.Deps{Logger: logger, CellRep: cellRep, Executor: exec, Evacuation: flag})
	if err != nil {
		return daemon.Process{}, err
	}

	gen, err := repsync.New(repsync.Config{
		CellID: cfg.CellID, Zone: cfg.Zone, PollingInterval: cfg.PollingInterval.Duration(),
		EvacuationPollingInterval: cfg.EvacuationPollingInterval.Duration(),
		EvacuationTimeout:         cfg.EvacuationTimeout.Duration(), StackPathMap: cfg.StackPathMap(),
	}, repsync.Deps{
		Logger: logger, Clock: clk, Executor: exec, Events: repsync.ExecutorEvents(exec), BBS: bbs,
		Flag: flag, Metrics: metrics, AppLog: metrics,
	})
	if err != nil {
		return daemon.Process{}, err
	}

	maintainer := presence.New(presence.Config{
		CellID: cfg.CellID, RepAddress: address, RepURL: address, Zone: cfg.Zone,
		RootFSProviders: cfg.RootFSProviders(), PlacementTags: cfg.PlacementTags,
		OptionalPlacementTags: cfg.OptionalPlacementTags, Root: cfg.Root,
		TTL: cfg.LockTTL.Duration(), RetryInterval: cfg.LockRetryInterval.Duration(),
	}, presence.Deps{Logger: logger, Clock: clk, Executor: exec, NewLease: func(c lock.Config) ifrit.Runner {
		return lock.NewPresenceRunner(c, lock.Deps{Logger: logger, Client: etcd, Clock: clk})
	}})
	evac := evacuator.New(evacuator.Config{
		CellID: cfg.CellID, EvacuationTimeout: cfg.EvacuationTimeout.Duration(),
		PollingInterval: cfg.EvacuationPollingInterval.Duration(), CommunicationTimeout: timeout,
	}, evacuator.Deps{
		Logger: logger, Clock: clk, Executor: exec, Flag: flag, BBS: bbs, Metrics: metrics, AppLog: metrics,
	})

	return daemon.Process{
		Members: grouper.Members{
			{Name: "metrics", Runner: metrics},
			{Name: "api", Runner: httpserver.New(cfg.ListenAddr, api)},
			{Name: "sync", Runner: gen.Runner()},
			{Name: "presence", Runner: maintainer},
			{Name: "evacuator", Runner: evac},
		},
		Wrap: func(group ifrit.Runner) ifrit.Runner {
			return evacuator.TrapSignals(logger, group, flag, cfg.EvacuateOnShutdown)
		},
	}, nil
}
