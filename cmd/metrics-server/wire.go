package main

import (
	"fmt"

	"github.com/tedsuo/ifrit/grouper"

	bbsclient "diego/bbs/client"
	"diego/bbs/metricsserver"
	"diego/deploy/daemon"
	"diego/deploy/httpserver"
	"diego/metron/emitter"
)

// wire: the emitter first (so reports have somewhere to go), then the
// reporter and the JSON API.
func wire(cfg metricsserver.Config, kit *daemon.Kit) (daemon.Process, error) {
	bbs, err := bbsclient.New(bbsclient.Config{
		URL: cfg.BBSAddress, CAFile: cfg.BBSCACertFile, CertFile: cfg.BBSClientCertFile, KeyFile: cfg.BBSClientKeyFile,
		Timeout: cfg.CommunicationTimeout.Duration(),
	})
	if err != nil {
		return daemon.Process{}, err
	}
	emit, err := emitter.New(fmt.Sprintf("127.0.0.1:%d", cfg.DropsondePort), "metrics-server", kit.Clock)
	if err != nil {
		return daemon.Process{}, err
	}
	reporter := metricsserver.NewReporter(
		metricsserver.ReporterConfig{Interval: cfg.ReportInterval.Duration(), Timeout: cfg.CommunicationTimeout.Duration()},
		metricsserver.ReporterDeps{Logger: kit.Logger, Clock: kit.Clock, BBS: bbs, Emitter: emit})
	handler, err := metricsserver.NewHandler(reporter)
	if err != nil {
		return daemon.Process{}, err
	}
	return daemon.Process{Members: grouper.Members{
		{Name: "emitter", Runner: emit},
		{Name: "reporter", Runner: reporter},
		{Name: "api", Runner: httpserver.New(cfg.ListenAddr, handler)},
	}}, nil
}
