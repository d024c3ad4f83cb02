package main

import (
	"fmt"

	"github.com/tedsuo/ifrit/grouper"

	"diego/ccbridge/stager/config"
	"diego/ccbridge/stager/handlers"
	"diego/ccbridge/stager/recipe"
	"diego/deploy/daemon"
	"diego/deploy/httpserver"
	"diego/metron/emitter"
	receptorclient "diego/receptor/client"
)

// wire builds the stager's process group: the metrics emitter (when a
// dropsonde_port is set), then the API.
func wire(cfg config.Config, kit *daemon.Kit) (daemon.Process, error) {
	rc, err := receptorclient.New(receptorclient.Config{
		URL: cfg.ReceptorAddress, Username: cfg.ReceptorUsername, Password: cfg.ReceptorPassword,
		Timeout: cfg.CommunicationTimeout.Duration(),
	})
	if err != nil {
		return daemon.Process{}, err
	}
	lifecycles, err := recipe.ParseLifecycles(cfg.Lifecycles)
	if err != nil {
		return daemon.Process{}, err
	}
	var members grouper.Members
	deps := handlers.Deps{Logger: kit.Logger, Clock: kit.Clock, Receptor: rc}
	if cfg.DropsondePort > 0 {
		metrics, err := emitter.New(fmt.Sprintf("127.0.0.1:%d", cfg.DropsondePort), "stager", kit.Clock)
		if err != nil {
			return daemon.Process{}, err
		}
		deps.Metrics = metrics
		members = append(members, grouper.Member{Name: "metrics", Runner: metrics})
	}
	handler, err := handlers.New(recipe.Config{
		CallbackURL:    cfg.StagingTaskCallbackURL,
		FileServerURL:  cfg.FileServerURL,
		CCUploaderURL:  cfg.CCUploaderURL,
		Lifecycles:     lifecycles,
		Privileged:     cfg.DiegoPrivilegedContainers,
		SkipCertVerify: cfg.SkipCertVerify,
	}, handlers.CC{
		BaseURL: cfg.CCBaseURL, Username: cfg.CCBasicAuthUsername, Password: cfg.CCBasicAuthPassword,
	}, deps)
	if err != nil {
		return daemon.Process{}, err
	}
	members = append(members, grouper.Member{Name: "api", Runner: httpserver.New(cfg.ListenAddr, handler)})
	return daemon.Process{Members: members}, nil
}
