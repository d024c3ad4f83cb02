package main

import (
	"fmt"
	"os"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"

	"diego/deploy/daemon"
	"diego/deploy/httpserver"
	"diego/metron/doppler"
	"diego/metron/doppler/config"
	"diego/metron/emitter"
)

func wire(cfg config.Config, kit *daemon.Kit) (daemon.Process, error) {
	logger, clk := kit.Logger, kit.Clock
	store := doppler.NewStore(clk, cfg.MaxRetainedLogMessages, cfg.ContainerMetricTTL.Duration())
	ingest := doppler.NewIngest(cfg.IncomingUDPAddr, cfg.SharedSecret, store, logger)
	api, err := doppler.NewAPI(doppler.HandlerConfig{
		AuthMode: cfg.AuthMode, AuthToken: cfg.AuthToken, CCLogAccessURL: cfg.CCLogAccessURL, OperatorToken: cfg.OperatorToken,
		PingInterval: cfg.WebsocketPingInterval.Duration(),
	}, store, clk, logger)
	if err != nil {
		return daemon.Process{}, err
	}
	server := httpserver.New(cfg.ListenAddr, api)
	server.ErrorLog = kit.ErrorLog()
	metrics, err := emitter.New(fmt.Sprintf("127.0.0.1:%d", cfg.DropsondePort), "DopplerServer", clk)
	if err != nil {
		return daemon.Process{}, err
	}
	reporter := &doppler.Reporter{Ingest: ingest, Store: store, Metrics: metrics, Clock: clk, Interval: cfg.ReportInterval.Duration()}
	return daemon.Process{Members: grouper.Members{
		{Name: "metrics", Runner: metrics},
		{Name: "ingest", Runner: ingest},
		{Name: "reporter", Runner: reporter},
		{Name: "api", Runner: closeStreams(server, api)},
	}}, nil
}

// closeStreams ends the open websockets when the server stops: hijacked
// connections outlive http.Server.Shutdown.
func closeStreams(server ifrit.Runner, api *doppler.API) ifrit.Runner {
	return ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
		inner := make(chan os.Signal, 1)
		done := make(chan error, 1)
		go func() { done <- server.Run(inner, ready) }()
		select {
		case sig := <-signals:
			api.Close()
			inner <- sig
			return <-done
		case err := <-done:
			api.Close()
			return err
		}
	})
}
