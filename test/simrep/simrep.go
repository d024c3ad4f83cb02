// Package simrep is a simulated cell for benchmarks and integration tests of
// the brain: it keeps a real presence lease in etcd, serves the rep's /state
// and /work, and, given work, claims and starts the instances (and starts and
// completes the tasks) through the real BBS, as a rep does once its executor
// has the containers. Kill drops it without releasing anything, like a VM
// that died.
package simrep

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/google/uuid"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	bbsclient "diego/bbs/client"
	"diego/bbs/lock"
	"diego/deploy/routes"
	"diego/models"
	"diego/rep"
)

// Config describes one simulated cell.
type Config struct {
	CellID, Zone  string
	ETCDEndpoints []string
	Root          string // "/diego" when empty
	PresenceTTL   time.Duration
	BBS           *bbsclient.Client
	Total         rep.Resources
}

// Rep is one running simulated cell.
type Rep struct {
	cfg       Config
	server    *httptest.Server
	etcd      *clientv3.Client
	lease     clientv3.LeaseID
	keepAlive context.CancelFunc

	mu    sync.Mutex
	lrps  map[string]rep.LRP // by instance guid
	tasks map[string]rep.Task
	dead  bool
}

// Start brings the cell up and waits until its presence is written.
func Start(cfg Config) (*Rep, error) {
	if cfg.Root == "" {
		cfg.Root = lock.DefaultRoot
	}
	etcd, err := clientv3.New(clientv3.Config{Endpoints: cfg.ETCDEndpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, err
	}
	r := &Rep{cfg: cfg, etcd: etcd, lrps: map[string]rep.LRP{}, tasks: map[string]rep.Task{}}
	if err := r.start(); err != nil {
		_ = etcd.Close()
		if r.server != nil {
			r.server.Close()
		}
		return nil, err
	}
	return r, nil
}

// start serves the rep API and writes the presence.
func (r *Rep) start() error {
	cfg, etcd := r.cfg, r.etcd
	handler, err := routes.NewRouter(rep.Routes, map[string]http.Handler{
		rep.StateRoute:           http.HandlerFunc(r.state),
		rep.PerformRoute:         http.HandlerFunc(r.perform),
		rep.StopLRPInstanceRoute: http.HandlerFunc(r.stop),
		rep.CancelTaskRoute:      http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }),
		rep.PingRoute:            http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
		rep.EvacuateRoute:        http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }),
	})
	if err != nil {
		return err
	}
	r.server = httptest.NewServer(handler)
	value, _ := json.Marshal(&models.CellPresence{
		CellId: cfg.CellID, RepAddress: r.server.URL, RepUrl: r.server.URL, Zone: cfg.Zone,
		Capacity:        &models.CellCapacity{MemoryMb: cfg.Total.MemoryMB, DiskMb: cfg.Total.DiskMB, Containers: int32(cfg.Total.Containers)},
		RootfsProviders: []*models.Provider{{Name: "preloaded", Properties: []string{"cflinuxfs4"}}},
	})
	// The presence is held here rather than by bbs/lock's runner, so that
	// Kill can stop its keep-alives without any chance of a revoke: a dead
	// cell's presence must live out its TTL.
	ctx := context.Background()
	grant, err := etcd.Grant(ctx, int64((cfg.PresenceTTL+time.Second-1)/time.Second))
	if err != nil {
		return fmt.Errorf("presence of %s: %w", cfg.CellID, err)
	}
	if _, err := etcd.Put(ctx, lock.PresenceKey(cfg.Root, cfg.CellID), string(value), clientv3.WithLease(grant.ID)); err != nil {
		return fmt.Errorf("presence of %s: %w", cfg.CellID, err)
	}
	kctx, cancel := context.WithCancel(ctx)
	acks, err := etcd.KeepAlive(kctx, grant.ID)
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

// Kill makes the cell vanish: it stops answering and its presence lease is
// left to expire.
func (r *Rep) Kill() {
	r.mu.Lock()
	r.dead = true
	r.mu.Unlock()
	r.server.CloseClientConnections()
	r.server.Close()
	r.keepAlive() // no revoke: etcd expires the lease after the TTL
	_ = r.etcd.Close()
}

// Stop shuts the cell down cleanly (its presence is released at once).
func (r *Rep) Stop() {
	r.keepAlive()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = r.etcd.Revoke(ctx, r.lease)
	r.server.Close()
	_ = r.etcd.Close()
}

// Instances is how many LRP instances the cell runs.
func (r *Rep) Instances() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.lrps)
}

func (r *Rep) state(w http.ResponseWriter, _ *http.Request) {
	r.mu.Lock()
	s := rep.CellState{
		RepURL: r.server.URL, CellID: r.cfg.CellID, Zone: r.cfg.Zone,
		RootFSProviders: rep.RootFSProviders{"preloaded": rep.NewFixedSetProvider("cflinuxfs4")},
		TotalResources:  r.cfg.Total, AvailableResources: r.cfg.Total,
	}
	use := func(res rep.Resource) {
		s.AvailableResources.MemoryMB -= res.MemoryMB
		s.AvailableResources.DiskMB -= res.DiskMB
		s.AvailableResources.Containers--
	}
	for _, l := range r.lrps {
		s.LRPs = append(s.LRPs, l)
		use(l.Resource)
	}
	for _, t := range r.tasks {
		s.Tasks = append(s.Tasks, t)
		use(t.Resource)
	}
	r.mu.Unlock()
	_ = json.NewEncoder(w).Encode(s)
}

// perform reserves the work and answers at once; claiming and starting
// follow, as they follow a real rep's container events.
func (r *Rep) perform(w http.ResponseWriter, req *http.Request) {
	var work rep.Work
	if err := json.NewDecoder(io.LimitReader(req.Body, 16<<20)).Decode(&work); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for i := range work.LRPs {
		work.LRPs[i].InstanceGUID = uuid.NewString()
		work.LRPs[i].State = models.ActualLRPStateClaimed
		r.lrps[work.LRPs[i].InstanceGUID] = work.LRPs[i]
	}
	for _, t := range work.Tasks {
		r.tasks[t.TaskGuid] = t
	}
	r.mu.Unlock()
	_ = json.NewEncoder(w).Encode(rep.Work{})
	go r.run(work)
}

func (r *Rep) run(work rep.Work) {
	ctx := context.Background()
	for _, l := range work.LRPs {
		key := &models.ActualLRPKey{ProcessGuid: l.ProcessGuid, Index: l.Index, Domain: l.Domain}
		ik := &models.ActualLRPInstanceKey{InstanceGuid: l.InstanceGUID, CellId: r.cfg.CellID}
		if r.isDead() || r.cfg.BBS.ClaimActualLRP(ctx, key, ik) != nil {
			r.forget(l.InstanceGUID)
			continue
		}
		err := r.cfg.BBS.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: key, ActualLrpInstanceKey: ik,
			ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61001}}}})
		if err != nil {
			r.forget(l.InstanceGUID)
			continue
		}
		r.mu.Lock()
		if lrp, ok := r.lrps[l.InstanceGUID]; ok {
			lrp.State = models.ActualLRPStateRunning
			r.lrps[l.InstanceGUID] = lrp
		}
		r.mu.Unlock()
	}
	for _, t := range work.Tasks {
		if r.isDead() {
			return
		}
		if _, err := r.cfg.BBS.StartTask(ctx, t.TaskGuid, r.cfg.CellID); err == nil {
			_ = r.cfg.BBS.CompleteTask(ctx, t.TaskGuid, r.cfg.CellID, false, "", "")
		}
		r.mu.Lock()
		delete(r.tasks, t.TaskGuid)
		r.mu.Unlock()
	}
}

func (r *Rep) stop(w http.ResponseWriter, req *http.Request) {
	ig := routes.Param(req, "instance_guid")
	r.mu.Lock()
	l, ok := r.lrps[ig]
	delete(r.lrps, ig)
	r.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	if ok {
		go func() {
			key := &models.ActualLRPKey{ProcessGuid: l.ProcessGuid, Index: l.Index, Domain: l.Domain}
			_ = r.cfg.BBS.RemoveActualLRP(context.Background(), key, &models.ActualLRPInstanceKey{InstanceGuid: ig, CellId: r.cfg.CellID})
		}()
	}
}

func (r *Rep) forget(instanceGuid string) {
	r.mu.Lock()
	delete(r.lrps, instanceGuid)
	r.mu.Unlock()
}

func (r *Rep) isDead() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dead
}
