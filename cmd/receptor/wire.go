package main

import (
	"log/slog"
	"os"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"

	bbsclient "diego/bbs/client"
	"diego/deploy/daemon"
	"diego/deploy/httpserver"
	"diego/deploy/logging"
	"diego/receptor"
	"diego/receptor/config"
	"diego/receptor/handlers"
)

// version is what GET /v1/version reports for the receptor.
const version = "diego"

// wire builds the receptor's process group: the API, then "ready".
func wire(cfg config.Config) (ifrit.Runner, *slog.Logger, func(), error) {
	level, _ := logging.ParseLevel(cfg.LogLevel)
	logger := logging.New(os.Stdout, level, "receptor")

	bbs, err := bbsclient.New(bbsclient.Config{
		URL:      cfg.BBSAddress,
		CAFile:   cfg.BBSCACertFile,
		CertFile: cfg.BBSClientCertFile,
		KeyFile:  cfg.BBSClientKeyFile,
		Timeout:  cfg.CommunicationTimeout.Duration(),
	})
	if err != nil {
		return nil, nil, nil, err
	}
	handler, err := handlers.New(handlers.Deps{
		Logger:      logger,
		BBS:         bbs,
		Events:      handlers.BBSEvents(bbs),
		Username:    cfg.Username,
		Password:    cfg.Password,
		CORSEnabled: cfg.CORSEnabled,
		Version:     receptor.VersionResponse{Receptor: version},
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return grouper.NewOrdered(os.Interrupt, grouper.Members{
		{Name: "api", Runner: httpserver.New(cfg.ListenAddr, handler)},
		{Name: "ready", Runner: daemon.Announce(logger)},
	}), logger, nil, nil
}
