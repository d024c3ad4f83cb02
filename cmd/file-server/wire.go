package main

import (
	"github.com/tedsuo/ifrit/grouper"

	"diego/ccbridge/fileserver"
	"diego/ccbridge/fileserver/config"
	"diego/deploy/daemon"
	"diego/deploy/httpserver"
)

// wire builds the file-server's process group: its one HTTP server.
func wire(cfg config.Config, kit *daemon.Kit) (daemon.Process, error) {
	handler, err := fileserver.New(fileserver.Config{
		StaticDirectory:      cfg.StaticDirectory,
		CCJobPollingInterval: cfg.CCJobPollingInterval.Duration(),
		CommunicationTimeout: cfg.CommunicationTimeout.Duration(),
		SkipCertVerify:       cfg.SkipCertVerify,
	}, fileserver.Deps{Logger: kit.Logger, Clock: kit.Clock})
	if err != nil {
		return daemon.Process{}, err
	}
	return daemon.Process{Members: grouper.Members{
		{Name: "api", Runner: httpserver.New(cfg.ListenAddr, handler)},
	}}, nil
}
