// Package presence keeps the cell's presence in etcd while its executor
// answers (spec cell §4.8, §7.4 item 5): the maintainer waits for the
// executor, reads its total resources, writes the CellPresence under a
// lease through bbs/lock, pings the executor every retry interval, drops
// the presence when a ping fails and goes back to waiting, and releases it
// on shutdown.
package presence

import (
	"cmp"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/tedsuo/ifrit"

	"diego/bbs/lock"
	"diego/deploy/clock"
	"diego/deploy/logging"
	"diego/executor"
	"diego/models"
	"diego/rep"
	"diego/rep/config"
)

//go:generate go tool counterfeiter -generate

// ExecutorClient is what the maintainer asks of the executor
// (*executor/client.Client satisfies it).
//
//counterfeiter:generate . ExecutorClient
type ExecutorClient interface {
	Ping() error
	TotalResources() (executor.ExecutorResources, error)
}

// NewLeaseRunner builds the runner that holds one key under a lease. In
// cmd/rep it is
//
//	func(cfg lock.Config) ifrit.Runner { return lock.NewPresenceRunner(cfg, lock.Deps{Logger: logger, Client: etcdClient, Clock: clk}) }
//
// so that this package needs no etcd client of its own (DESIGN.md §3).
type NewLeaseRunner func(cfg lock.Config) ifrit.Runner

// ExecutorPollInterval is how often the maintainer pings an executor that
// has not answered yet (spec cell §4.8).
const ExecutorPollInterval = time.Second

// Config describes the cell's presence.
type Config struct {
	CellID string
	// RepAddress and RepURL are how the brain reaches the rep; both are
	// http://<ip>:1800 in diego (spec cell §7.4 item 1).
	RepAddress            string
	RepURL                string
	Zone                  string
	RootFSProviders       rep.RootFSProviders
	PlacementTags         []string
	OptionalPlacementTags []string

	// Root is the etcd key prefix ("/diego"); the key is
	// lock.PresenceKey(Root, CellID).
	Root string
	// TTL is the lease's TTL; RetryInterval is both how often the executor
	// is pinged while present and how often a lost lease is retried.
	TTL           time.Duration
	RetryInterval time.Duration
}

// Deps are the maintainer's collaborators.
type Deps struct {
	Logger   *slog.Logger
	Clock    clock.Clock
	Executor ExecutorClient
	// NewLease runs the presence lease (lock.NewPresenceRunner over the
	// etcd connection lock.Dial opened).
	NewLease NewLeaseRunner
}

// Maintainer is the presence runner.
type Maintainer struct {
	logger   *slog.Logger
	clock    clock.Clock
	executor ExecutorClient
	newLease NewLeaseRunner
	cfg      Config
}

// New returns the presence maintainer.
func New(cfg Config, deps Deps) *Maintainer {
	if cfg.Root == "" {
		cfg.Root = lock.DefaultRoot
	}
	if cfg.TTL <= 0 {
		cfg.TTL = lock.DefaultTTL
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = lock.DefaultRetryInterval
	}
	return &Maintainer{logger: deps.Logger, clock: deps.Clock, executor: deps.Executor, newLease: deps.NewLease, cfg: cfg}
}

// Run closes ready once the presence is first written. It returns nil on
// a signal, after releasing the presence. Neither an absent executor nor
// an unreachable etcd ends it: it keeps waiting and retrying.
func (m *Maintainer) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	logger := logging.Session(m.logger, "presence", "cell_id", m.cfg.CellID)
	logger.Info("starting")
	defer logger.Info("done")

	for {
		if !m.waitForExecutor(logger, signals) {
			return nil
		}
		total, err := m.executor.TotalResources()
		if err != nil {
			logger.Error("failed-to-get-total-resources", "error", err)
			if !m.sleep(signals, ExecutorPollInterval) {
				return nil
			}
			continue
		}
		value, err := json.Marshal(m.Presence(total))
		if err != nil {
			return fmt.Errorf("encoding the cell presence: %w", err)
		}
		if !m.maintain(logger, signals, value, &ready) {
			return nil
		}
	}
}

// waitForExecutor pings the executor every second until it answers
// (true) or a signal arrives (false).
func (m *Maintainer) waitForExecutor(logger *slog.Logger, signals <-chan os.Signal) bool {
	logged := false
	for {
		err := m.executor.Ping()
		if err == nil {
			logger.Info("executor-answered")
			return true
		}
		if !logged {
			logger.Info("waiting-for-executor", "error", err)
			logged = true
		}
		if !m.sleep(signals, ExecutorPollInterval) {
			return false
		}
	}
}

// sleep waits d on the clock; false if a signal came first.
func (m *Maintainer) sleep(signals <-chan os.Signal, d time.Duration) bool {
	timer := m.clock.NewTimer(d)
	defer timer.Stop()
	select {
	case <-signals:
		return false
	case <-timer.C():
		return true
	}
}

// maintain holds the presence while the executor answers: true when a
// ping fails (the presence is gone and the executor must be waited for
// again), false after a signal (the presence is released).
func (m *Maintainer) maintain(logger *slog.Logger, signals <-chan os.Signal, value []byte, ready *chan<- struct{}) bool {
	key := lock.PresenceKey(m.cfg.Root, m.cfg.CellID)
	lease := ifrit.Background(m.newLease(lock.Config{
		Key: key, Value: value, TTL: m.cfg.TTL, RetryInterval: m.cfg.RetryInterval,
	}))
	logger.Info("maintaining-presence", "key", key)

	stop := func() {
		lease.Signal(os.Interrupt)
		if err := <-lease.Wait(); err != nil {
			logger.Error("presence-release-failed", "error", err)
		}
	}

	ticker := m.clock.NewTicker(m.cfg.RetryInterval)
	defer ticker.Stop()
	leaseReady := lease.Ready()
	for {
		select {
		case <-signals:
			stop()
			logger.Info("presence-released")
			return false

		case <-leaseReady:
			leaseReady = nil
			logger.Info("presence-written")
			if *ready != nil {
				close(*ready)
				*ready = nil
			}

		case err := <-lease.Wait():
			// The lease runner of bbs/lock retries on its own and returns
			// only when signalled; anything else starts over.
			logger.Error("presence-runner-exited", "error", err)
			ticker.Stop()
			return m.sleep(signals, m.cfg.RetryInterval)

		case <-ticker.C():
			if err := m.executor.Ping(); err != nil {
				logger.Error("executor-ping-failed-dropping-presence", "error", err)
				stop()
				return true
			}
		}
	}
}

// Presence is the CellPresence the maintainer writes for an executor with
// the given total resources (spec cell §4.8).
func (m *Maintainer) Presence(total executor.ExecutorResources) *models.CellPresence {
	return &models.CellPresence{
		CellId:     m.cfg.CellID,
		RepAddress: m.cfg.RepAddress,
		RepUrl:     m.cfg.RepURL,
		Zone:       m.cfg.Zone,
		Capacity: &models.CellCapacity{
			MemoryMb:   int32(total.MemoryMB),
			DiskMb:     int32(total.DiskMB),
			Containers: int32(total.Containers),
		},
		RootfsProviders:       ProviderList(m.cfg.RootFSProviders),
		PlacementTags:         nonNil(m.cfg.PlacementTags),
		OptionalPlacementTags: nonNil(m.cfg.OptionalPlacementTags),
	}
}

// ProviderList is the presence's rootfs_provider_list: each scheme with
// its stacks (none for an arbitrary provider), preloaded and
// preloaded+layer first, then the others by name.
func ProviderList(providers rep.RootFSProviders) []*models.Provider {
	list := make([]*models.Provider, 0, len(providers))
	for name, p := range providers {
		properties := []string{}
		for stack := range p.Set {
			properties = append(properties, stack)
		}
		slices.Sort(properties)
		list = append(list, &models.Provider{Name: name, Properties: properties})
	}
	rank := func(name string) int {
		switch name {
		case config.PreloadedScheme:
			return 0
		case config.PreloadedLayerScheme:
			return 1
		}
		return 2
	}
	slices.SortFunc(list, func(a, b *models.Provider) int {
		return cmp.Or(cmp.Compare(rank(a.Name), rank(b.Name)), cmp.Compare(a.Name, b.Name))
	})
	return list
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
