package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"

	bbsclient "diego/bbs/client"
	"diego/bbs/db/etcddb"
	"diego/bbs/lock"
	"diego/deploy/clock"
	"diego/deploy/daemon"
	"diego/deploy/httpserver"
	"diego/deploy/logging"
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
func wire(cfg config.Config) (ifrit.Runner, *slog.Logger, func(), error) {
	level, _ := logging.ParseLevel(cfg.LogLevel)
	logger := logging.New(os.Stdout, level, "rep")
	clk := clock.NewClock()
	timeout := cfg.CommunicationTimeout.Duration()

	exec := executorclient.New(cfg.ExecutorAddress, timeout)
	bbs, err := bbsclient.New(bbsclient.Config{
		URL: cfg.BBSAddress, CAFile: cfg.BBSCACertFile, CertFile: cfg.BBSClientCertFile, KeyFile: cfg.BBSClientKeyFile,
		Timeout: timeout,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	etcd, err := etcddb.NewClient(etcddb.ClientConfig{
		Endpoints: cfg.ETCDEndpoints, CAFile: cfg.ETCDCAFile, CertFile: cfg.ETCDCertFile, KeyFile: cfg.ETCDKeyFile,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	cleanup := func() { _ = etcd.Close() }
	metrics, err := emitter.New(fmt.Sprintf("127.0.0.1:%d", cfg.DropsondePort), "rep", clk)
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}

	flag := evacuator.NewFlag()
	address := cfg.Address()
	cellRep := auctioncellrep.New(auctioncellrep.Config{
		CellID: cfg.CellID, RepURL: address, Zone: cfg.Zone, StackPathMap: cfg.StackPathMap(),
		RootFSProviders: cfg.RootFSProviders(), PlacementTags: cfg.PlacementTags, OptionalPlacementTags: cfg.OptionalPlacementTags,
	}, auctioncellrep.Deps{Executor: exec, Evacuation: flag})
	api, err := handlers.New(handlers.Deps{Logger: logger, CellRep: cellRep, Executor: exec, Evacuation: flag})
	if err != nil {
		cleanup()
		return nil, nil, nil, err
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
		cleanup()
		return nil, nil, nil, err
	}

	maintainer := presence.New(presence.Config{
		CellID: cfg.CellID, RepAddress: address, RepURL: address, Zone: cfg.Zone,
		RootFSProviders: cfg.RootFSProviders(), PlacementTags: cfg.PlacementTags,
		OptionalPlacementTags: cfg.OptionalPlacementTags, Root: cfg.Root,
		TTL: cfg.LockTTL.Duration(), RetryInterval: cfg.LockRetryInterval.Duration(),
	}, presence.Deps{Logger: logger, Clock: clk, Executor: exec, NewLease: func(c lock.Config) ifrit.Runner {
		return lock.NewPresenceRunner(logger, etcd, clk, c)
	}})
	evac := evacuator.New(evacuator.Config{
		CellID: cfg.CellID, EvacuationTimeout: cfg.EvacuationTimeout.Duration(),
		PollingInterval: cfg.EvacuationPollingInterval.Duration(), CommunicationTimeout: timeout,
	}, evacuator.Deps{
		Logger: logger, Clock: clk, Executor: exec, Flag: flag, BBS: bbs, Metrics: metrics, AppLog: metrics,
	})

	members := grouper.Members{
		{Name: "metrics", Runner: metrics},
		{Name: "api", Runner: httpserver.New(cfg.ListenAddr, api)},
		{Name: "generator", Runner: gen.Runner()},
		{Name: "presence", Runner: maintainer},
		{Name: "evacuator", Runner: evac},
		{Name: "ready", Runner: daemon.Announce(logger)},
	}
	if cfg.DebugAddress != "" {
		members = append(grouper.Members{{Name: "debug", Runner: daemon.Debug(cfg.DebugAddress)}}, members...)
	}
	group := grouper.NewOrdered(os.Interrupt, members)
	return evacuator.TrapSignals(logger, group, flag, cfg.EvacuateOnShutdown), logger, cleanup, nil
}
