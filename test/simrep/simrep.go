// Package simrep is a simulated cell for benchmarks and integration tests of
// the brain: the real rep code (its auction state and work, its API
// handlers, its BBS sync) over an in-memory executor backend (Executor), and
// a real presence lease in etcd. Containers start at once and tasks succeed
// at once, so what is measured is the rep, the BBS and the auctioneer. Kill
// drops the cell without releasing anything, like a VM that died.
package simrep

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tedsuo/ifrit"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	bbsclient "diego/bbs/client"
	"diego/bbs/lock"
	"diego/deploy/clock"
	"diego/executor"
	"diego/models"
	"diego/rep"
	"diego/rep/auctioncellrep"
	"diego/rep/evacuator"
	"diego/rep/handlers"
	repsync "diego/rep/sync"
)

// Stack is the one preloaded stack the simulated cells offer.
const Stack = "cflinuxfs4"

// Config describes one simulated cell.
type Config struct {
	CellID, Zone  string
	ETCDEndpoints []string
	Root          string // "/diego" when empty
	PresenceTTL   time.Duration
	BBS           *bbsclient.Client
	Total         rep.Resources
	// PollingInterval is the rep's bulk sync period (30 s when zero).
	PollingInterval time.Duration
	// Logger receives the rep's logs; nil discards them.
	Logger *slog.Logger
}

// Rep is one running simulated cell.
type Rep struct {
	cfg       Config
	Executor  *Executor
	server    *httptest.Server
	sync      ifrit.Process
	etcd      *clientv3.Client
	lease     clientv3.LeaseID
	keepAlive context.CancelFunc
	started   atomic.Int64
	fetches   atomic.Int64
	seen      sync.Map
}

// countingBBS counts the instances the rep started in the BBS, so that a
// benchmark sees progress without reading every record, and the rep's
// desired-LRP fetches. Each instance counts once: the rep's bulk sync starts
// its RUNNING containers' instances again every polling interval (an
// idempotent start), which must not count as progress.
type countingBBS struct {
	*bbsclient.Client
	started *atomic.Int64
	fetches *atomic.Int64
	seen    *sync.Map // instance guid → struct{}
}

func (c countingBBS) DesiredLRPs(ctx context.Context, f bbsclient.DesiredLRPFilter) ([]*models.DesiredLRP, error) {
	c.fetches.Add(1)
	return c.Client.DesiredLRPs(ctx, f)
}

func (c countingBBS) StartActualLRP(ctx context.Context, req *models.StartActualLRPRequest) error {
	err := c.Client.StartActualLRP(ctx, req)
	if err == nil {
		if _, again := c.seen.LoadOrStore(req.GetActualLrpInstanceKey().GetInstanceGuid(), struct{}{}); !again {
			c.started.Add(1)
		}
	}
	return err
}

// Started is how many distinct instances the rep has started in the BBS.
func (r *Rep) Started() int64 { return r.started.Load() }

// DesiredFetches is how many desired-LRP requests the rep has sent.
func (r *Rep) DesiredFetches() int64 { return r.fetches.Load() }

// Start brings the cell up and waits until its presence is written.
func Start(cfg Config) (*Rep, error) {
	if cfg.Root == "" {
		cfg.Root = lock.DefaultRoot
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	etcd, err := clientv3.New(clientv3.Config{Endpoints: cfg.ETCDEndpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, err
	}
	r := &Rep{cfg: cfg, etcd: etcd, Executor: NewExecutor(executor.ExecutorResources{
		MemoryMB: int(cfg.Total.MemoryMB), DiskMB: int(cfg.Total.DiskMB), Containers: cfg.Total.Containers,
	})}
	if err := r.start(); err != nil {
		r.halt()
		_ = etcd.Close()
		return nil, err
	}
	return r, nil
}

// start runs the rep's sync, serves its API and writes the presence.
func (r *Rep) start() error {
	cfg, logger := r.cfg, r.cfg.Logger.With("cell_id", r.cfg.CellID)
	stacks := map[string]string{Stack: "/var/lib/diego/rootfs/" + Stack}
	flag := evacuator.NewFlag()
	r.server = httptest.NewUnstartedServer(nil)
	url := "http://" + r.server.Listener.Addr().String()
	cellRep := auctioncellrep.New(auctioncellrep.Config{
		CellID: cfg.CellID, RepURL: url, Zone: cfg.Zone, StackPathMap: stacks,
		RootFSProviders: rep.RootFSProviders{"preloaded": rep.NewFixedSetProvider(Stack)},
	}, auctioncellrep.Deps{Executor: r.Executor, Evacuation: flag})
	api, err := handlers.New(handlers.Deps{Logger: logger, CellRep: cellRep, Executor: r.Executor, Evacuation: flag})
	if err != nil {
		return err
	}
	gen, err := repsync.New(repsync.Config{CellID: cfg.CellID, Zone: cfg.Zone, PollingInterval: cfg.PollingInterval, StackPathMap: stacks},
		repsync.Deps{Logger: logger, Clock: clock.NewClock(), Executor: r.Executor, Events: r.Executor, BBS: countingBBS{cfg.BBS, &r.started, &r.fetches, &r.seen}, Flag: flag})
	if err != nil {
		return err
	}
	r.sync = ifrit.Background(gen.Runner())
	select {
	case <-r.sync.Ready():
	case err := <-r.sync.Wait():
		return fmt.Errorf("sync of %s: %w", cfg.CellID, err)
	}
	r.server.Config.Handler = api
	r.server.Start()

	value, _ := json.Marshal(&models.CellPresence{
		CellId: cfg.CellID, RepAddress: url, RepUrl: url, Zone: cfg.Zone,
		Capacity:        &models.CellCapacity{MemoryMb: cfg.Total.MemoryMB, DiskMb: cfg.Total.DiskMB, Containers: int32(cfg.Total.Containers)},
		RootfsProviders: []*models.Provider{{Name: "preloaded", Properties: []string{Stack}}},
	})
	// The presence is held here rather than by bbs/lock's runner, so that
	// Kill can stop its keep-alives without any chance of a revoke: a dead
	// cell's presence must live out its TTL.
	ctx := context.Background()
	grant, err := r.etcd.Grant(ctx, int64((cfg.PresenceTTL+time.Second-1)/time.Second))
	if err != nil {
		return fmt.Errorf("presence of %s: %w", cfg.CellID, err)
	}
	if _, err := r.etcd.Put(ctx, lock.PresenceKey(cfg.Root, cfg.CellID), string(value), clientv3.WithLease(grant.ID)); err != nil {
		return fmt.Errorf("presence of %s: %w", cfg.CellID, err)
	}
	kctx, cancel := context.WithCancel(ctx)
	acks, err := r.etcd.KeepAlive(kctx, grant.ID)
	if err != nil {
		cancel()
		return fmt.Errorf("presence of %s: %w", cfg.CellID, err)
	}
	go func() {
		for range acks {
		}
	}()
	r.lease, r.keepAlive = grant.ID, cancel
	return nil
}

// halt stops the rep's API and sync and its executor's event streams.
func (r *Rep) halt() {
	if r.server != nil {
		r.server.CloseClientConnections()
		r.server.Close()
	}
	if r.sync != nil {
		r.sync.Signal(os.Interrupt)
		<-r.sync.Wait()
	}
	r.Executor.Close()
}

// Kill makes the cell vanish: it stops answering and acting, and its
// presence lease is left to expire.
func (r *Rep) Kill() {
	r.keepAlive() // no revoke: etcd expires the lease after the TTL
	r.halt()
	_ = r.etcd.Close()
}

// Stop shuts the cell down cleanly (its presence is released at once).
func (r *Rep) Stop() {
	r.keepAlive()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = r.etcd.Revoke(ctx, r.lease)
	r.halt()
	_ = r.etcd.Close()
}

// Instances is how many LRP instances the cell holds containers for.
func (r *Rep) Instances() int {
	cs, _ := r.Executor.ListContainers(executor.Tags{repsync.LifecycleTag: repsync.LRPLifecycle})
	return len(cs)
}

// ID is the cell's id.
func (r *Rep) ID() string { return r.cfg.CellID }
