package main

import (
	"context"

	"github.com/tedsuo/ifrit/grouper"

	bbsclient "diego/bbs/client"
	"diego/bbs/lock"
	"diego/converger"
	"diego/converger/config"
	"diego/deploy/daemon"
)

// lockName is the converger's lock, /v1/locks/converger (spec core §5.9).
const lockName = "converger"

// wire holds the lock first; the process runs only while it is held, and
// losing it ends the group (the process exits non-zero).
func wire(cfg config.Config, kit *daemon.Kit) (daemon.Process, error) {
	logger, clk := kit.Logger, kit.Clock
	bbs, err := bbsclient.New(bbsclient.Config{
		URL: cfg.BBSAddress, CAFile: cfg.BBSCACertFile, CertFile: cfg.BBSClientCertFile, KeyFile: cfg.BBSClientKeyFile,
		Timeout: cfg.CommunicationTimeout.Duration(),
	})
	if err != nil {
		return daemon.Process{}, err
	}
	held, etcd, err := lock.DialLock(cfg.Lock, lockName, map[string]string{"converger_id": cfg.ID}, logger, clk)
	if err != nil {
		return daemon.Process{}, err
	}
	kit.Defer(func() { _ = etcd.Close() })
	watch := func(ctx context.Context) <-chan lock.PresenceEvent {
		return lock.WatchPresences(ctx, logger, etcd, cfg.Root)
	}
	process := converger.New(converger.Config{
		RepeatInterval:              cfg.ConvergeRepeatInterval.Duration(),
		KickTaskDuration:            cfg.KickTaskDuration.Duration(),
		ExpirePendingTaskDuration:   cfg.ExpirePendingTaskDuration.Duration(),
		ExpireCompletedTaskDuration: cfg.ExpireCompletedTaskDuration.Duration(),
		CommunicationTimeout:        cfg.CommunicationTimeout.Duration(),
	}, converger.Deps{Logger: logger, Clock: clk, BBS: bbs, Watch: watch})
	return daemon.Process{Members: grouper.Members{
		{Name: "lock", Runner: held},
		{Name: "converger", Runner: process},
	}}, nil
}
