package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/tedsuo/ifrit/grouper"

	"diego/auctioneer"
	"diego/auctioneer/config"
	"diego/auctioneer/handlers"
	"diego/auctioneer/runner"
	bbsclient "diego/bbs/client"
	"diego/bbs/lock"
	"diego/deploy/daemon"
	"diego/deploy/httpserver"
	"diego/metron/emitter"
	repclient "diego/rep/client"
)

// wire builds the auctioneer's ordered group: the lock first, so that the
// runner and the API start only once the lock is held; losing the lock
// ends the group, and the process exits non-zero.
func wire(cfg config.Config, kit *daemon.Kit) (daemon.Process, error) {
	logger, clk := kit.Logger, kit.Clock
	bbs, err := bbsclient.New(bbsclient.Config{
		URL: cfg.BBSAddress, CAFile: cfg.BBSCACertFile, CertFile: cfg.BBSClientCertFile, KeyFile: cfg.BBSClientKeyFile,
		Timeout: cfg.CommunicationTimeout.Duration(),
	})
	if err != nil {
		return daemon.Process{}, err
	}
	held, etcd, err := lock.DialLock(cfg.Lock, auctioneer.LockName, auctioneer.Presence{ID: cfg.ID, Address: cfg.Advertise()}, logger, clk)
	if err != nil {
		return daemon.Process{}, err
	}
	kit.Defer(func() { _ = etcd.Close() })

	metrics, err := emitter.New(fmt.Sprintf("127.0.0.1:%d", cfg.DropsondePort), "auctioneer", clk)
	if err != nil {
		return daemon.Process{}, err
	}
	auctions := runner.New(runner.Config{
		Scheduler:            cfg.Scheduler(),
		Workers:              cfg.AuctionRunnerWorkers,
		CellStateTimeout:     cfg.CellStateTimeout.Duration(),
		CommunicationTimeout: cfg.CommunicationTimeout.Duration(),
	}, runner.Deps{
		Logger:  logger,
		Clock:   clk,
		BBS:     bbs,
		Reps:    newRepFactory(cfg.AuctionRunnerWorkers),
		Metrics: metrics,
	})
	handler, err := handlers.New(handlers.Deps{Logger: logger, Runner: auctions})
	if err != nil {
		return daemon.Process{}, err
	}
	api := httpserver.New(cfg.ListenAddr, handler)
	api.ErrorLog = kit.ErrorLog()

	return daemon.Process{Members: grouper.Members{
		{Name: "lock", Runner: held},
		{Name: "metrics", Runner: metrics},
		{Name: "auction-runner", Runner: auctions},
		{Name: "api", Runner: api},
	}}, nil
}

// repFactory builds rep clients over one shared HTTP client; each request
// is bounded by the runner's context timeouts (cell_state_timeout for
// /state, communication_timeout for /work).
type repFactory struct{ http *http.Client }

func newRepFactory(workers int) repFactory {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = workers
	transport.MaxIdleConnsPerHost = 4
	transport.IdleConnTimeout = 90 * time.Second
	return repFactory{http: &http.Client{Transport: transport}}
}

func (f repFactory) CreateClient(address string) runner.RepClient {
	return repclient.New(f.http, address)
}
