package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"

	bbsclient "diego/bbs/client"
	"diego/bbs/metricsserver"
	"diego/deploy/clock"
	"diego/deploy/daemon"
	"diego/deploy/httpserver"
	"diego/deploy/logging"
	"diego/metron/emitter"
)

// wire: the emitter first (so reports have somewhere to go), then the
// reporter and the JSON API.
func wire(cfg metricsserver.Config) (ifrit.Runner, *slog.Logger, func(), error) {
	level, _ := logging.ParseLevel(cfg.LogLevel)
	logger := logging.New(os.Stdout, level, "metrics-server")
	clk := clock.NewClock()
	bbs, err := bbsclient.New(bbsclient.Config{
		URL: cfg.BBSAddress, CAFile: cfg.BBSCACertFile, CertFile: cfg.BBSClientCertFile, KeyFile: cfg.BBSClientKeyFile,
		Timeout: cfg.CommunicationTimeout.Duration(),
	})
	if err != nil {
		return nil, nil, nil, err
	}
	emit, err := emitter.New(fmt.Sprintf("127.0.0.1:%d", cfg.DropsondePort), "metrics-server", clk)
	if err != nil {
		return nil, nil, nil, err
	}
	reporter := metricsserver.NewReporter(logger, clk, bbs, emit, cfg.ReportInterval.Duration(), cfg.CommunicationTimeout.Duration())
	handler, err := metricsserver.NewHandler(reporter)
	if err != nil {
		return nil, nil, nil, err
	}
	return grouper.NewOrdered(os.Interrupt, grouper.Members{
		{Name: "emitter", Runner: emit},
		{Name: "reporter", Runner: reporter},
		{Name: "api", Runner: httpserver.New(cfg.ListenAddr, handler)},
		{Name: "ready", Runner: daemon.Announce(logger)},
	}), logger, nil, nil
}
