package main

import (
	"fmt"
	"log"
	"slices"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"

	bbsclient "diego/bbs/client"
	"diego/bbs/lock"
	"diego/deploy/daemon"
	"diego/deploy/httpserver"
	"diego/deploy/tlsconfig"
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
	address, repURL := cfg.Address(), cfg.URL()
	cellRep := auctioncellrep.New(auctioncellrep.Config{
		CellID: cfg.CellID, RepURL: repURL, Zone: cfg.Zone, StackPathMap: cfg.StackPathMap(),
		RootFSProviders: cfg.RootFSProviders(), PlacementTags: cfg.PlacementTags, OptionalPlacementTags: cfg.OptionalPlacementTags,
	}, auctioncellrep.Deps{Executor: exec, Evacuation: flag})
	apis, err := listeners(cfg, handlers.Deps{Logger: logger, CellRep: cellRep, Executor: exec, Evacuation: flag}, kit.ErrorLog())
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
		CellID: cfg.CellID, RepAddress: address, RepURL: repURL, Zone: cfg.Zone,
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
		Members: slices.Concat(grouper.Members{{Name: "metrics", Runner: metrics}}, apis, grouper.Members{
			{Name: "sync", Runner: gen.Runner()},
			{Name: "presence", Runner: maintainer},
			{Name: "evacuator", Runner: evac},
		}),
		Wrap: func(group ifrit.Runner) ifrit.Runner {
			return evacuator.TrapSignals(logger, group, flag, cfg.EvacuateOnShutdown)
		},
	}, nil
}

// listeners serves the whole API on listen_addr, or, with
// listen_addr_securable, the admin routes there and the rest on the
// securable listener, over mutual TLS when require_tls is set.
// Each server's own errors (TLS handshakes refused) go to errorLog.
func listeners(cfg config.Config, deps handlers.Deps, errorLog *log.Logger) (grouper.Members, error) {
	if cfg.ListenAddrSecurable == "" {
		api, err := handlers.New(deps)
		if err != nil {
			return nil, err
		}
		server := httpserver.New(cfg.ListenAddr, api)
		server.ErrorLog = errorLog
		return grouper.Members{{Name: "api", Runner: server}}, nil
	}
	admin, err := handlers.NewAdmin(deps)
	if err != nil {
		return nil, err
	}
	api, err := handlers.NewSecurable(deps)
	if err != nil {
		return nil, err
	}
	secure := httpserver.New(cfg.ListenAddrSecurable, api)
	if cfg.RequireTLS {
		tc, err := tlsconfig.ServerConfig(cfg.ServerCertFile, cfg.ServerKeyFile, cfg.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("rep server TLS: %w", err)
		}
		secure = httpserver.NewTLS(cfg.ListenAddrSecurable, api, tc)
	}
	adminServer := httpserver.New(cfg.ListenAddr, admin)
	adminServer.ErrorLog, secure.ErrorLog = errorLog, errorLog
	return grouper.Members{{Name: "admin-api", Runner: adminServer}, {Name: "api", Runner: secure}}, nil
}
