package main

import (
	"github.com/tedsuo/ifrit/grouper"

	bbsclient "diego/bbs/client"
	"diego/deploy/daemon"
	"diego/deploy/httpserver"
	"diego/receptor"
	"diego/receptor/config"
	"diego/receptor/handlers"
)

// version is what GET /v1/version reports for the receptor.
const version = "diego"

// wire builds the receptor's process group: the API, then "ready".
func wire(cfg config.Config, kit *daemon.Kit) (daemon.Process, error) {
	bbs, err := bbsclient.New(bbsclient.Config{
		URL: cfg.BBSAddress, CAFile: cfg.BBSCACertFile, CertFile: cfg.BBSClientCertFile, KeyFile: cfg.BBSClientKeyFile,
		Timeout: cfg.CommunicationTimeout.Duration(),
	})
	if err != nil {
		return daemon.Process{}, err
	}
	handler, err := handlers.New(handlers.Deps{
		Logger:      kit.Logger,
		BBS:         bbs,
		Events:      handlers.BBSEvents(bbs),
		Username:    cfg.Username,
		Password:    cfg.Password,
		CORSEnabled: cfg.CORSEnabled,
		Version:     receptor.VersionResponse{Receptor: version},
	})
	if err != nil {
		return daemon.Process{}, err
	}
	return daemon.Process{Members: grouper.Members{
		{Name: "api", Runner: httpserver.New(cfg.ListenAddr, handler)},
	}}, nil
}
