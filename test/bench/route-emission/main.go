// Command route-emission is benchmark B7 (../shared/benchmarks.md): the
// route-emitter's watcher and NATS emitter with 50,000 routed RUNNING
// instances. It measures the full sync (table built from the receptor's
// lists, every registration published and delivered through an embedded
// NATS server) and the latency from one receptor event to its
// router.register arriving; the same-run anchor is raw nats.go publishing
// of the same payloads.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tedsuo/ifrit"

	"diego/deploy/clock"
	"diego/deploy/logging"
	"diego/receptor"
	receptorclient "diego/receptor/client"
	"diego/routeemitter"
	emitterconfig "diego/routeemitter/config"
	"diego/routeemitter/emitter"
	"diego/routeemitter/routingtable"
	"diego/routeemitter/watcher"
	"diego/test/bench/benchutil"
	"diego/test/natsrunner"
)

// natsCeiling is benchmarks.md's measured NATS delivery rate of
// registration-sized messages on this class of machine; the 0.5 s full-sync
// target becomes the fixed ratio (50,000 / 0.5 s) ÷ this, so that a loaded
// machine slows anchor and system alike and the ratio still decides.
const natsCeiling = 1.1e6

const (
	processes = 10_000
	instances = 5 // running per process; each desires one more for the events
	total     = processes * instances
	events    = 1_000
)

func main() {
	stopProfile := benchutil.Profile()
	defer stopProfile()

	n := natsrunner.New(0)
	natsProc := ifrit.Invoke(n)
	select {
	case <-natsProc.Ready():
	case err := <-natsProc.Wait():
		benchutil.Fatal("nats: %v", err)
	}
	defer stop(natsProc)

	desired, actual := fixtures()

	// The anchor: the same registrations, marshalled and published raw.
	table := routingtable.New()
	for _, d := range desired {
		table.SetDesired(d)
	}
	for _, a := range actual {
		table.AddEndpoint(a)
	}
	msgs := table.Registrations().Registrations
	if len(msgs) != total {
		benchutil.Fatal("the table holds %d registrations, want %d", len(msgs), total)
	}
	counter := newCounter(n.URL())
	raw, err := nats.Connect(n.URL())
	if err != nil {
		benchutil.Fatal("%v", err)
	}
	counter.reset(total)
	anchorStart := time.Now()
	for _, m := range msgs {
		body, _ := json.Marshal(m)
		if err := raw.Publish(routeemitter.RegisterSubject, body); err != nil {
			benchutil.Fatal("raw publish: %v", err)
		}
	}
	counter.wait()
	anchorTime := time.Since(anchorStart)
	raw.Close()

	// The system: the watcher's first sync through the real NATS emitter.
	logger := logging.New(io.Discard, 8, "route-emitter")
	em, err := emitter.Connect(logger, emitter.Config{NATS: emitterconfig.NATS{NATSAddresses: fmt.Sprintf("127.0.0.1:%d", n.Port())},
		Workers: 20, Name: "bench"})
	if err != nil {
		benchutil.Fatal("%v", err)
	}
	defer em.Close()
	source := &eventSource{events: make(chan receptor.Event)}
	w := watcher.New(watcher.Config{SyncInterval: time.Hour, JitterFactor: 0.2, DefaultRegisterInterval: time.Hour,
		CommunicationTimeout: time.Minute},
		watcher.Deps{Logger: logger, Clock: clock.NewClock(), Emitter: em,
			Receptor:  receptorAPI(desired, actual),
			Subscribe: func(context.Context) (watcher.EventSource, error) { return source, nil }})
	counter.reset(total)
	syncStart := time.Now()
	proc := ifrit.Background(w)
	counter.wait()
	syncTime := time.Since(syncStart)
	<-proc.Ready()
	defer stop(proc)

	// Event → register: one instance at a time turns RUNNING.
	var lat benchutil.Latencies
	for i := range events {
		pg := fmt.Sprintf("pg-%05d", i*(processes/events))
		before := actualLRP(pg, instances, receptor.ActualLRPStateClaimed)
		after := actualLRP(pg, instances, receptor.ActualLRPStateRunning)
		after.ModificationTag.Index++
		counter.reset(1)
		start := time.Now()
		source.events <- &receptor.ActualLRPChangedEvent{Before: before, After: after}
		counter.wait()
		lat.Add(time.Since(start))
	}

	value := float64(total) / syncTime.Seconds()
	anchor := float64(total) / anchorTime.Seconds()
	p50, p99 := lat.Percentile(50), lat.Percentile(99)
	targetRatio := (float64(total) / 0.5) / natsCeiling
	benchutil.Result{
		Bench: "route-emission", Value: value, Unit: "registrations/s (full sync)",
		Anchor: "raw-nats-publish", AnchorValue: anchor, Ratio: value / anchor, Target: targetRatio,
		Pass: value/anchor >= targetRatio && p99 < 50, P50ms: p50, P99ms: p99,
		Conditions: map[string]any{
			"instances": total, "processes": processes, "full_sync_s": syncTime.Seconds(), "anchor_s": anchorTime.Seconds(),
			"receptor": "the real client over HTTP against in-memory lists", "events": events, "event_latency": "receptor event → router.register delivered (ms)",
			"ratio_note": "target is the ratio a 0.5 s full sync needs against benchmarks.md's NATS ceiling: (instances / 0.5 s) ÷ 1.1M/s; pass also needs event p99 < 50 ms",
		},
	}.Print()
}

// fixtures are the desired LRPs (one route each) and their RUNNING
// instances.
func fixtures() ([]receptor.DesiredLRPResponse, []receptor.ActualLRPResponse) {
	var desired []receptor.DesiredLRPResponse
	var actual []receptor.ActualLRPResponse
	for p := range processes {
		pg := fmt.Sprintf("pg-%05d", p)
		routes, _ := json.Marshal([]routeemitter.CFRoute{{Hostnames: []string{pg + ".apps.localhost"}, Port: 8080}})
		d := receptor.DesiredLRPResponse{ModificationTag: receptor.ModificationTag{Epoch: "d-" + pg, Index: 1}}
		d.ProcessGuid, d.Domain, d.Instances, d.LogGuid = pg, "cf-apps", instances+1, pg
		d.Routes = receptor.RoutingInfo{routeemitter.CFRouter: routes}
		desired = append(desired, d)
		for i := range instances {
			actual = append(actual, actualLRP(pg, int32(i), receptor.ActualLRPStateRunning))
		}
	}
	return desired, actual
}

func actualLRP(pg string, index int32, state string) receptor.ActualLRPResponse {
	ig := fmt.Sprintf("%s-%d", pg, index)
	return receptor.ActualLRPResponse{ProcessGuid: pg, InstanceGuid: ig, CellID: "cell", Domain: "cf-apps", Index: index,
		Address: "10.0.0.5", Ports: []receptor.PortMapping{{ContainerPort: 8080, HostPort: 61001 + uint32(index)}},
		State: state, Since: time.Now().UnixNano(), ModificationTag: receptor.ModificationTag{Epoch: "a-" + ig, Index: 1}}
}

// counter counts router.register deliveries on its own connection.
type counter struct {
	mu     sync.Mutex
	want   int64
	got    atomic.Int64
	done   chan struct{}
	closed bool
}

func newCounter(url string) *counter {
	c := &counter{done: make(chan struct{})}
	conn, err := nats.Connect(url)
	if err != nil {
		benchutil.Fatal("%v", err)
	}
	sub, err := conn.Subscribe(routeemitter.RegisterSubject, func(*nats.Msg) {
		if c.got.Add(1) == c.wantNow() {
			c.finish()
		}
	})
	if err != nil {
		benchutil.Fatal("%v", err)
	}
	_ = sub.SetPendingLimits(-1, -1)
	if err := conn.Flush(); err != nil {
		benchutil.Fatal("%v", err)
	}
	return c
}

func (c *counter) wantNow() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.want
}

func (c *counter) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.done)
	}
}

func (c *counter) reset(want int64) {
	c.mu.Lock()
	c.want, c.done, c.closed = want, make(chan struct{}), false
	c.mu.Unlock()
	c.got.Store(0)
}

func (c *counter) wait() {
	c.mu.Lock()
	done := c.done
	c.mu.Unlock()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		benchutil.Fatal("only %d of %d registrations arrived", c.got.Load(), c.wantNow())
	}
}

// receptorAPI serves the receptor's three list routes from memory over
// HTTP, so the sync pays for the real client's requests and JSON decoding;
// what it measures is the emitter, not the receptor and the BBS behind it.
func receptorAPI(desired []receptor.DesiredLRPResponse, actual []receptor.ActualLRPResponse) *receptorclient.Client {
	bodies := map[string][]byte{}
	for path, v := range map[string]any{"/v1/desired_lrps": desired, "/v1/actual_lrps": actual, "/v1/domains": []string{"cf-apps"}} {
		bodies[path], _ = json.Marshal(v)
	}
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	c, err := receptorclient.New(receptorclient.Config{URL: server.URL})
	if err != nil {
		benchutil.Fatal("%v", err)
	}
	return c
}

type eventSource struct{ events chan receptor.Event }

func (s *eventSource) Next() (receptor.Event, error) {
	e, ok := <-s.events
	if !ok {
		return nil, io.EOF
	}
	return e, nil
}
func (s *eventSource) Close() error { return nil }

// stop interrupts a runner and waits for it.
func stop(p ifrit.Process) {
	p.Signal(os.Interrupt)
	<-p.Wait()
}
