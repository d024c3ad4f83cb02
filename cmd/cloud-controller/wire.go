package main

import (
	"diego/ccbridge/cloudcontroller"
	"diego/ccbridge/cloudcontroller/config"
	"diego/deploy/daemon"
	"diego/deploy/httpserver"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
)

// wire opens the store (failing fast when another process holds it),
// seeds it, writes the built-in buildpacks and serves the API.
func wire(cfg config.Config, kit *daemon.Kit) (daemon.Process, error) {
	store, err := cloudcontroller.OpenStore(cfg.StateDir)
	if err != nil {
		return daemon.Process{}, err
	}
	kit.Defer(func() { _ = store.Close() })
	if err := cloudcontroller.WriteBuildpacks(cfg.FileServerStaticDir); err != nil {
		return daemon.Process{}, err
	}
	bridge := cloudcontroller.NewHTTPBridge(cfg.StagerURL, cfg.NsyncURL, cfg.TPSURL, cfg.CommunicationTimeout.Duration())
	server, err := cloudcontroller.New(cfg, store, kit.Logger, kit.Clock, bridge)
	if err != nil {
		return daemon.Process{}, err
	}
	handler, err := server.Handler()
	if err != nil {
		return daemon.Process{}, err
	}
	return daemon.Process{Members: grouper.Members{
		{Name: "api", Runner: httpserver.New(cfg.ListenAddr, handler)},
		{Name: "janitor", Runner: ifrit.RunFunc(server.Janitor())},
	}}, nil
}
