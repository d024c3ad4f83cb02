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
	dconfig "diego/deploy/config"
	"diego/deploy/daemon"
	"diego/deploy/httpserver"
	"diego/deploy/tlsconfig"
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
	reps, err := newRepFactory(cfg.AuctionRunnerWorkers, cfg.RepTLS())
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
		Reps:    reps,
		Metrics: metrics,
	})
	handler, err := handlers.New(handlers.Deps{Logger: logger, Runner: auctions})
	if err != nil {
		return daemon.Process{}, err
	}
	api := httpserver.New(cfg.ListenAddr, handler)
	if cfg.TLS() {
		tc, err := tlsconfig.ServerConfig(cfg.ServerCertFile, cfg.ServerKeyFile, cfg.CACertFile)
		if err != nil {
			return daemon.Process{}, fmt.Errorf("auctioneer server TLS: %w", err)
		}
		api = httpserver.NewTLS(cfg.ListenAddr, handler, tc)
	}
	api.ErrorLog = kit.ErrorLog()

	return daemon.Process{Members: grouper.Members{
		{Name: "lock", Runner: held},
		{Name: "metrics", Runner: metrics},
		{Name: "auction-runner", Runner: auctions},
		{Name: "api", Runner: api},
	}}, nil
}

// repFactory builds rep clients over one shared HTTP client, with the
// rep_* client certificate when set; each request is bounded by the
// runner's context timeouts (cell_state_timeout for /state,
// communication_timeout for /work).
type repFactory struct{ *repclient.Factory }

func newRepFactory(workers int, t dconfig.ClientTLS) (repFactory, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = workers
	transport.MaxIdleConnsPerHost = 4
	transport.IdleConnTimeout = 90 * time.Second
	f, err := repclient.NewFactory(&http.Client{Transport: transport}, repclient.TLS{
		CAFile: t.CACert, CertFile: t.ClientCert, KeyFile: t.ClientKey, Require: t.RequireTLS,
	})
	return repFactory{f}, err
}

func (f repFactory) CreateClient(address, url string) (runner.RepClient, error) {
	c, err := f.Client(address, url)
	if err != nil {
		return nil, err
	}
	return c, nil
}
