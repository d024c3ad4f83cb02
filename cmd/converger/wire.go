package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"

	bbsclient "diego/bbs/client"
	"diego/bbs/db/etcddb"
	"diego/bbs/lock"
	"diego/converger"
	"diego/converger/config"
	"diego/deploy/clock"
	"diego/deploy/daemon"
	"diego/deploy/logging"
)

// lockName is the converger's lock, /v1/locks/converger (spec core §5.9).
const lockName = "converger"

// wire holds the lock first; the process runs only while it is held, and
// losing it ends the group (the process exits non-zero).
func wire(cfg config.Config) (ifrit.Runner, *slog.Logger, func(), error) {
	level, _ := logging.ParseLevel(cfg.LogLevel)
	logger := logging.New(os.Stdout, level, "converger")
	clk := clock.NewClock()

	bbs, err := bbsclient.New(bbsclient.Config{
		URL: cfg.BBSAddress, CAFile: cfg.BBSCACertFile, CertFile: cfg.BBSClientCertFile, KeyFile: cfg.BBSClientKeyFile,
		Timeout: cfg.CommunicationTimeout.Duration(),
	})
	if err != nil {
		return nil, nil, nil, err
	}
	etcd, err := etcddb.NewClient(etcddb.ClientConfig{Endpoints: cfg.ETCDEndpoints})
	if err != nil {
		return nil, nil, nil, err
	}
	cleanup := func() { _ = etcd.Close() }

	owner, _ := json.Marshal(map[string]string{"converger_id": cfg.ID})
	held := lock.NewLockRunner(logger, etcd, clk, lock.Config{
		Key: lock.LockKey(cfg.Root, lockName), Value: owner,
		TTL: cfg.LockTTL.Duration(), RetryInterval: cfg.LockRetryInterval.Duration(),
	})
	watch := func(ctx context.Context) <-chan lock.PresenceEvent {
		return lock.WatchPresences(ctx, logger, etcd, cfg.Root)
	}
	process := converger.New(logger, clk, bbs, watch, converger.Config{
		RepeatInterval:              cfg.ConvergeRepeatInterval.Duration(),
		KickTaskDuration:            cfg.KickTaskDuration.Duration(),
		ExpirePendingTaskDuration:   cfg.ExpirePendingTaskDuration.Duration(),
		ExpireCompletedTaskDuration: cfg.ExpireCompletedTaskDuration.Duration(),
		CommunicationTimeout:        cfg.CommunicationTimeout.Duration(),
	})
	group := grouper.NewOrdered(os.Interrupt, grouper.Members{
		{Name: "lock", Runner: held},
		{Name: "converger", Runner: process},
		{Name: "ready", Runner: daemon.Announce(logger)},
	})
	return group, logger, cleanup, nil
}
