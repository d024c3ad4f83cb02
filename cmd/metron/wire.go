package main

import (
	"github.com/tedsuo/ifrit/grouper"

	"diego/deploy/daemon"
	"diego/metron/agent"
	"diego/metron/agent/config"
)

func wire(cfg config.Config, kit *daemon.Kit) (daemon.Process, error) {
	a := agent.New(agent.Config{
		ListenAddr: cfg.ListenAddr(), DopplerAddr: cfg.DopplerAddress, SharedSecret: cfg.SharedSecret,
		Deployment: cfg.Deployment, Job: cfg.Job, Index: cfg.Index, IP: cfg.IP,
		ReportInterval: cfg.MetricBatchInterval.Duration(), QueueSize: cfg.QueueSize,
	}, agent.Deps{Logger: kit.Logger, Clock: kit.Clock})
	return daemon.Process{Members: grouper.Members{{Name: "agent", Runner: a}}}, nil
}
