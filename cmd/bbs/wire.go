package main

import (
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"

	"diego/bbs/config"
	"diego/bbs/db/etcddb"
	"diego/bbs/events"
	"diego/bbs/handlers"
	"diego/bbs/lock"
	"diego/bbs/peers"
	"diego/bbs/taskcallback"
	"diego/deploy/clock"
	"diego/deploy/daemon"
	"diego/deploy/httpserver"
	"diego/deploy/logging"
	"diego/deploy/tlsconfig"
	"diego/metron/emitter"
)

// wire builds the BBS's process group: the API (503 until ready), the
// health listener, the event watcher and the callback workers; the API
// opens once the watcher follows the store.
func wire(cfg config.Config) (ifrit.Runner, *slog.Logger, func(), error) {
	level, _ := logging.ParseLevel(cfg.LogLevel)
	logger := logging.New(os.Stdout, level, "bbs")
	clk := clock.NewClock()

	etcd, err := etcddb.NewClient(etcddb.ClientConfig{
		Endpoints: cfg.ETCD.Endpoints, CAFile: cfg.ETCD.CAFile, CertFile: cfg.ETCD.CertFile, KeyFile: cfg.ETCD.KeyFile,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	cleanup := func() { _ = etcd.Close() }
	store := etcddb.New(etcd, clk, cfg.Root)

	metrics, err := emitter.New(fmt.Sprintf("127.0.0.1:%d", cfg.DropsondePort), "bbs", clk)
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	peerHTTP := &http.Client{Timeout: cfg.CommunicationTimeout.Duration()}
	hub := events.NewHub()
	callbacks := taskcallback.New(logger, store, peerHTTP, cfg.TaskCallbackWorkers)
	server, err := handlers.New(handlers.Deps{
		Logger:             logger,
		Clock:              clk,
		Tasks:              store,
		DesiredLRPs:        store,
		ActualLRPs:         store,
		Domains:            store,
		Cells:              store,
		Auctioneer:         peers.NewAuctioneer(lock.NewReader(etcd), lock.LockKey(cfg.Root, "auctioneer"), peerHTTP),
		Reps:               reps{peers.NewReps(peerHTTP)},
		Callbacks:          callbacks,
		Metrics:            metrics,
		Hub:                hub,
		MaxTaskRetries:     cfg.MaxTaskRetries,
		MaxRequestBytes:    cfg.MaxRequestBytes,
		ConvergenceWorkers: cfg.ConvergenceWorkers,
	})
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}

	api := httpserver.New(cfg.ListenAddr, server)
	if cfg.TLS() {
		tc, err := tlsconfig.ServerConfig(cfg.CertFile, cfg.KeyFile, cfg.CAFile)
		if err != nil {
			cleanup()
			return nil, nil, nil, err
		}
		api = httpserver.NewTLS(cfg.ListenAddr, server, tc)
	}
	api.ErrorLog = log.New(slogWriter{logger}, "", 0)
	health := httpserver.New(cfg.HealthAddress, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ping" {
			http.NotFound(w, r)
		}
	}))

	open := ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
		server.MarkReady()
		logger.Info("ready")
		close(ready)
		<-signals
		return nil
	})
	members := grouper.Members{
		{Name: "metrics", Runner: metrics},
		{Name: "api", Runner: api},
		{Name: "health", Runner: health},
		{Name: "callbacks", Runner: callbacks},
		{Name: "event-watcher", Runner: events.NewWatcher(logger, store, hub)},
		{Name: "open", Runner: open},
	}
	if cfg.DebugAddress != "" {
		members = append(grouper.Members{{Name: "debug", Runner: daemon.Debug(cfg.DebugAddress)}}, members...)
	}
	return grouper.NewOrdered(os.Interrupt, members), logger, cleanup, nil
}

// reps adapts peers.Reps to the handlers' interface.
type reps struct{ *peers.Reps }

func (r reps) Rep(address string) handlers.RepClient { return r.Reps.Rep(address) }

// slogWriter sends the HTTP server's own errors (TLS handshakes) to the log.
type slogWriter struct{ logger *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.logger.Info("http-server", "message", string(p))
	return len(p), nil
}
