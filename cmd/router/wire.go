package main

import (
	"fmt"
	"net"

	"github.com/google/uuid"
	"github.com/tedsuo/ifrit/grouper"

	"diego/deploy/daemon"
	"diego/deploy/httpserver"
	"diego/routeemitter"
	"diego/routeemitter/router"
	"diego/routeemitter/router/config"
)

// wire serves the status port, then follows NATS, waits the start delay,
// then proxies: requests are taken only once the router has had the
// delay to receive registrations.
func wire(cfg config.Config, kit *daemon.Kit) (daemon.Process, error) {
	logger, clk := kit.Logger, kit.Clock
	host, _, _ := net.SplitHostPort(cfg.ListenAddr)
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	threshold := cfg.StaleThreshold()
	registry := router.NewRegistry(threshold)
	start := routeemitter.RouterStart{
		ID:                               fmt.Sprintf("%d-%s", cfg.Index, uuid.NewString()),
		Hosts:                            []string{host},
		MinimumRegisterIntervalInSeconds: int(cfg.StartResponseDelayInterval.Duration().Seconds()),
		PruneThresholdInSeconds:          int(threshold.Seconds()),
	}
	subscriber := router.NewSubscriber(logger, clk, registry, router.SubscriberConfig{
		NATS: cfg.NATS, Start: start,
		PublishStartInterval:    cfg.PublishStartMessageInterval.Duration(),
		PruneInterval:           cfg.PruneStaleDropletsInterval.Duration(),
		SuspendPruningWhileDown: cfg.SuspendPruningIfNATSUnavailable,
	})
	proxy := router.NewProxy(logger, registry, cfg.EndpointDialTimeout.Duration())
	health := &router.Health{}
	return daemon.Process{Members: grouper.Members{
		{Name: "status", Runner: httpserver.New(cfg.StatusAddress, router.StatusHandler(registry, health, cfg.StatusUsername, cfg.StatusPassword))},
		{Name: "nats", Runner: subscriber},
		{Name: "warmup", Runner: router.NewWarmup(logger, clk, cfg.StartResponseDelayInterval.Duration(), subscriber.Connected(), health)},
		{Name: "proxy", Runner: httpserver.New(cfg.ListenAddr, proxy)},
	}}, nil
}
