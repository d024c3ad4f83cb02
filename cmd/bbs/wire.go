package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/tedsuo/ifrit/grouper"

	"diego/bbs/config"
	"diego/bbs/db/etcddb"
	"diego/bbs/events"
	"diego/bbs/handlers"
	"diego/bbs/lock"
	"diego/bbs/peers"
	"diego/bbs/taskcallback"
	"diego/deploy/daemon"
	"diego/deploy/httpserver"
	"diego/deploy/logging"
	"diego/deploy/tlsconfig"
	"diego/metron/emitter"
	repclient "diego/rep/client"
)

// wire builds the BBS's process group: the API (503 until ready), the
// health listener, the event watcher and the callback workers; the API
// opens once the watcher follows the store.
func wire(cfg config.Config, kit *daemon.Kit) (daemon.Process, error) {
	logger, clk := kit.Logger, kit.Clock
	etcd, err := lock.Dial(cfg.ETCD)
	if err != nil {
		return daemon.Process{}, err
	}
	kit.Defer(func() { _ = etcd.Close() })
	store := etcddb.New(etcddb.Config{Root: cfg.Root, SerialCommits: !cfg.GroupCommit}, etcddb.Deps{Client: etcd, Clock: clk})
	var cache grouper.Members
	if cfg.RecordCache {
		cache = grouper.Members{{Name: "record-cache", Runner: store.RecordCache(logging.Session(logger, "record-cache"))}}
	}

	metrics, err := emitter.New(fmt.Sprintf("127.0.0.1:%d", cfg.DropsondePort), "bbs", clk)
	if err != nil {
		return daemon.Process{}, err
	}
	timeout := cfg.CommunicationTimeout.Duration()
	peerHTTP := peerClient(timeout)
	at := cfg.AuctioneerTLS()
	auctioneer, err := peers.NewAuctioneer(lock.NewReader(etcd), lock.LockKey(cfg.Root, "auctioneer"), peerClient(timeout),
		peers.AuctioneerTLS{CAFile: at.CACert, CertFile: at.ClientCert, KeyFile: at.ClientKey, Require: at.RequireTLS})
	if err != nil {
		return daemon.Process{}, err
	}
	rt := cfg.RepTLS()
	repClients, err := peers.NewReps(peerClient(timeout),
		repclient.TLS{CAFile: rt.CACert, CertFile: rt.ClientCert, KeyFile: rt.ClientKey, Require: rt.RequireTLS})
	if err != nil {
		return daemon.Process{}, err
	}
	hub := events.NewHub()
	callbacks := taskcallback.New(taskcallback.Config{Workers: cfg.TaskCallbackWorkers},
		taskcallback.Deps{Logger: logger, Store: store, HTTPClient: peerHTTP})
	server, err := handlers.New(handlers.Deps{
		Logger:             logger,
		Clock:              clk,
		Tasks:              store,
		DesiredLRPs:        store,
		ActualLRPs:         store,
		Domains:            store,
		Cells:              store,
		Auctioneer:         auctioneer,
		Reps:               reps{repClients},
		Callbacks:          callbacks,
		Metrics:            metrics,
		Hub:                hub,
		MaxTaskRetries:     cfg.MaxTaskRetries,
		MaxRequestBytes:    cfg.MaxRequestBytes,
		ConvergenceWorkers: cfg.ConvergenceWorkers,
	})
	if err != nil {
		return daemon.Process{}, err
	}

	api := httpserver.New(cfg.ListenAddr, server)
	if cfg.TLS() {
		tc, err := tlsconfig.ServerConfig(cfg.CertFile, cfg.KeyFile, cfg.CAFile)
		if err != nil {
			return daemon.Process{}, err
		}
		api = httpserver.NewTLS(cfg.ListenAddr, server, tc)
	}
	api.ErrorLog = kit.ErrorLog()
	health := httpserver.New(cfg.HealthAddress, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ping" {
			http.NotFound(w, r)
		}
	}))

	return daemon.Process{
		Members: append(grouper.Members{
			{Name: "metrics", Runner: metrics},
			{Name: "api", Runner: api},
			{Name: "health", Runner: health},
			{Name: "callbacks", Runner: callbacks},
			{Name: "event-watcher", Runner: events.NewWatcher(events.WatcherDeps{Logger: logger, Source: store, Hub: hub})},
		}, cache...),
		// The API answers 503 until the cache has loaded and the watcher
		// follows the store.
		OnReady: server.MarkReady,
	}, nil
}

// reps adapts peers.Reps to the handlers' interface.
type reps struct{ *peers.Reps }

func (r reps) Rep(address, url string) (handlers.RepClient, error) {
	c, err := r.Reps.Rep(address, url)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// peerIdleConnsPerHost is how many idle connections the BBS keeps to each
// peer (the auctioneer, a rep, a task's callback host). http.DefaultTransport
// keeps 2, so the concurrent auction requests and callbacks of a busy BBS
// closed most connections after one request and dialled anew (decision 160).
// It matches task_callback_workers' default, the most callbacks in flight to
// one host (decision 202); idle ones close after the default 90 s.
const peerIdleConnsPerHost = 1000

// peerClient is an HTTP client of the BBS's peers with its own transport
// (the auctioneer's and the reps' get their TLS settings on theirs).
func peerClient(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = peerIdleConnsPerHost
	t.MaxIdleConns = 0 // the default transport's 100 in total would cap every host's pool
	return &http.Client{Timeout: timeout, Transport: t}
}
