package main

import (
	"context"
	"net/http"

	"github.com/tedsuo/ifrit/grouper"

	"diego/bbs/lock"
	"diego/deploy/daemon"
	"diego/deploy/httpserver"
	receptorclient "diego/receptor/client"
	"diego/routeemitter/config"
	"diego/routeemitter/emitter"
	"diego/routeemitter/watcher"
)

// lockName is the route-emitter's lock, /v1/locks/route_emitter (spec
// bridge §9.9).
const lockName = "route_emitter"

// wire holds the lock first: only the holder connects its watcher and
// emits; losing the lock ends the process.
func wire(cfg config.Config, kit *daemon.Kit) (daemon.Process, error) {
	logger, clk := kit.Logger, kit.Clock
	rc, err := receptorclient.New(receptorclient.Config{
		URL: cfg.ReceptorURL, Username: cfg.ReceptorUsername, Password: cfg.ReceptorPassword,
		Timeout: cfg.CommunicationTimeout.Duration(),
	})
	if err != nil {
		return daemon.Process{}, err
	}
	held, etcd, err := lock.DialLock(cfg.Lock, lockName, map[string]string{"route_emitter_id": cfg.ID}, logger, clk)
	if err != nil {
		return daemon.Process{}, err
	}
	kit.Defer(func() { _ = etcd.Close() })
	nats, err := emitter.Connect(logger, emitter.Config{NATS: cfg.NATS, Workers: cfg.RouteEmittingWorkers, Name: "route-emitter-" + cfg.ID})
	if err != nil {
		return daemon.Process{}, err
	}
	kit.Defer(nats.Close)

	w := watcher.New(watcher.Config{
		SyncInterval:            cfg.SyncInterval.Duration(),
		JitterFactor:            cfg.JitterFactor,
		DefaultRegisterInterval: cfg.DefaultRegisterInterval.Duration(),
		CommunicationTimeout:    cfg.CommunicationTimeout.Duration(),
		UnregistrationInterval:  cfg.UnregistrationInterval.Duration(),
		UnregistrationSendCount: cfg.UnregistrationSendCount,
	}, watcher.Deps{
		Logger: logger, Clock: clk, Receptor: rc, Emitter: nats,
		Subscribe: func(ctx context.Context) (watcher.EventSource, error) { return rc.SubscribeToEvents(ctx) },
	})
	members := grouper.Members{
		{Name: "lock", Runner: held},
		{Name: "nats", Runner: nats},
		{Name: "watcher", Runner: w},
	}
	if cfg.HealthcheckAddress != "" {
		members = append(members, grouper.Member{Name: "healthcheck", Runner: httpserver.New(cfg.HealthcheckAddress,
			http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { rw.WriteHeader(http.StatusOK) }))})
	}
	return daemon.Process{Members: members}, nil
}
