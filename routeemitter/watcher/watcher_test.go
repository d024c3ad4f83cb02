package watcher_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/receptor"
	"diego/routeemitter"
	"diego/routeemitter/routingtable"
	"diego/routeemitter/watcher"
)

type fakeReceptor struct {
	mu      sync.Mutex
	desired []receptor.DesiredLRPResponse
	actual  []receptor.ActualLRPResponse
	domains []string
	fail    error
	fetched []string
	// block, when set, holds a full fetch until closed; waiting, when
	// set, is told once a fetch is held.
	block, waiting chan struct{}
}

func (f *fakeReceptor) state() ([]receptor.DesiredLRPResponse, []receptor.ActualLRPResponse, []string, error, chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.desired, f.actual, f.domains, f.fail, f.block
}

func (f *fakeReceptor) DesiredLRPs(context.Context) ([]receptor.DesiredLRPResponse, error) {
	d, _, _, err, block := f.state()
	if block != nil {
		f.mu.Lock()
		waiting := f.waiting
		f.mu.Unlock()
		if waiting != nil {
			waiting <- struct{}{}
		}
		<-block
	}
	return d, err
}
func (f *fakeReceptor) ActualLRPs(context.Context) ([]receptor.ActualLRPResponse, error) {
	_, a, _, err, _ := f.state()
	return a, err
}
func (f *fakeReceptor) Domains(context.Context) ([]string, error) {
	_, _, d, err, _ := f.state()
	return d, err
}
func (f *fakeReceptor) GetDesiredLRP(_ context.Context, pg string) (receptor.DesiredLRPResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fetched = append(f.fetched, pg)
	for _, d := range f.desired {
		if d.ProcessGuid == pg {
			return d, nil
		}
	}
	return receptor.DesiredLRPResponse{}, receptor.NewError(receptor.DesiredLRPNotFound, pg)
}

type fakeSource struct {
	events chan receptor.Event
	ended  chan error
}

func (s *fakeSource) Next() (receptor.Event, error) {
	select {
	case e := <-s.events:
		return e, nil
	case err := <-s.ended:
		return nil, err
	}
}
func (s *fakeSource) Close() error { return nil }

type fakeEmitter struct {
	mu          sync.Mutex
	emitted     []routingtable.Messages
	starts      chan routeemitter.RouterStart
	reconnected chan struct{}
}

func (f *fakeEmitter) Emit(m routingtable.Messages) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.emitted = append(f.emitted, m)
}
func (f *fakeEmitter) Starts() <-chan routeemitter.RouterStart { return f.starts }
func (f *fakeEmitter) Reconnected() <-chan struct{}            { return f.reconnected }

// registrations and unregistrations count the messages for uri so far.
func (f *fakeEmitter) count(uri string) (reg, unreg int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.emitted {
		for _, r := range m.Registrations {
			if r.URIs[0] == uri {
				reg++
			}
		}
		for _, u := range m.Unregistrations {
			if u.URIs[0] == uri {
				unreg++
			}
		}
	}
	return
}

func desiredLRP(pg string, index uint32, domain string, hosts ...string) receptor.DesiredLRPResponse {
	routes, _ := json.Marshal([]routeemitter.CFRoute{{Hostnames: hosts, Port: 8080}})
	d := receptor.DesiredLRPResponse{ModificationTag: receptor.ModificationTag{Epoch: "d", Index: index}}
	d.ProcessGuid, d.Domain, d.Instances, d.LogGuid = pg, domain, 2, pg
	d.Routes = receptor.RoutingInfo{routeemitter.CFRouter: routes}
	return d
}

func runningLRP(pg, ig string, index int32) receptor.ActualLRPResponse {
	return receptor.ActualLRPResponse{ProcessGuid: pg, InstanceGuid: ig, Index: index, State: receptor.ActualLRPStateRunning,
		Address: "10.0.0.1", Ports: []receptor.PortMapping{{ContainerPort: 8080, HostPort: 61000 + uint32(index)}},
		ModificationTag: receptor.ModificationTag{Epoch: ig, Index: 1}}
}

var _ = Describe("The watcher", func() {
	var (
		clk        *fakeclock.FakeClock
		api        *fakeReceptor
		em         *fakeEmitter
		sources    chan *fakeSource
		subscribes int
		subMu      sync.Mutex
		process    ifrit.Process
		cfg        watcher.Config
	)

	BeforeEach(func() {
		clk = fakeclock.NewFakeClock(time.Unix(1000, 0))
		api = &fakeReceptor{desired: []receptor.DesiredLRPResponse{desiredLRP("pg", 1, "cf-apps", "a.example.com")},
			actual: []receptor.ActualLRPResponse{runningLRP("pg", "ig-0", 0)}, domains: []string{"cf-apps"}}
		em = &fakeEmitter{starts: make(chan routeemitter.RouterStart, 1), reconnected: make(chan struct{}, 1)}
		sources = make(chan *fakeSource, 10)
		subscribes = 0
		cfg = watcher.Config{SyncInterval: time.Hour, DefaultRegisterInterval: 10 * time.Hour, RetryInterval: time.Second,
			CommunicationTimeout: time.Second, UnregistrationInterval: 30 * time.Second, UnregistrationSendCount: 3}
	})

	start := func() {
		GinkgoHelper()
		w := watcher.New(cfg, watcher.Deps{
			Logger: logging.New(GinkgoWriter, -4, "route-emitter"), Clock: clk, Receptor: api, Emitter: em,
			Subscribe: func(context.Context) (watcher.EventSource, error) {
				subMu.Lock()
				defer subMu.Unlock()
				subscribes++
				s := &fakeSource{events: make(chan receptor.Event), ended: make(chan error, 1)}
				sources <- s
				return s, nil
			},
		})
		process = ifrit.Background(w)
		Eventually(process.Ready()).Should(BeClosed())
		DeferCleanup(func() {
			process.Signal(os.Interrupt)
			Eventually(process.Wait()).Should(Receive(BeNil()))
		})
	}
	regs := func(uri string) func() int { return func() int { r, _ := em.count(uri); return r } }
	unregs := func(uri string) func() int { return func() int { _, u := em.count(uri); return u } }

	It("is ready once the first sync is emitted, and follows events", func() {
		start()
		Expect(regs("a.example.com")()).To(Equal(1))
		source := <-sources
		source.events <- &receptor.ActualLRPCreatedEvent{ActualLRPResponse: runningLRP("pg", "ig-1", 1)}
		Eventually(regs("a.example.com")).Should(Equal(2))
	})

	It("fetches the routes of a process it does not know before adding its instance", func() {
		start()
		api.mu.Lock()
		api.desired = append(api.desired, desiredLRP("new", 1, "cf-apps", "new.example.com"))
		api.mu.Unlock()
		(<-sources).events <- &receptor.ActualLRPCreatedEvent{ActualLRPResponse: runningLRP("new", "ig-n", 0)}
		Eventually(regs("new.example.com")).Should(Equal(1))
		Expect(api.fetched).To(Equal([]string{"new"}))
	})

	It("re-emits everything each interval a router gives, and after a NATS reconnect", func() {
		start()
		em.starts <- routeemitter.RouterStart{MinimumRegisterIntervalInSeconds: 2}
		Eventually(regs("a.example.com")).Should(Equal(2), "at once (no jitter: factor 0)")
		// The emit timer, re-armed for 2 s, beside the sync and unregistration tickers.
		Eventually(clk.WatcherCount).Should(Equal(3))
		clk.Increment(2 * time.Second)
		Eventually(regs("a.example.com")).Should(Equal(3))
		em.reconnected <- struct{}{}
		Eventually(regs("a.example.com")).Should(Equal(4))
	})

	It("repeats an unregistration until the send count, unless the route comes back", func() {
		start()
		source := <-sources
		source.events <- &receptor.ActualLRPRemovedEvent{ActualLRPResponse: runningLRP("pg", "ig-0", 0)}
		Eventually(unregs("a.example.com")).Should(Equal(1))
		for i := 2; i <= 3; i++ {
			clk.Increment(30 * time.Second)
			Eventually(unregs("a.example.com")).Should(Equal(i))
		}
		clk.Increment(30 * time.Second)
		Consistently(unregs("a.example.com"), 200*time.Millisecond).Should(Equal(3), "three sends in all")

		source.events <- &receptor.ActualLRPCreatedEvent{ActualLRPResponse: runningLRP("pg", "ig-0", 0)}
		Eventually(regs("a.example.com")).Should(Equal(2))
		source.events <- &receptor.ActualLRPRemovedEvent{ActualLRPResponse: runningLRP("pg", "ig-0", 0)}
		Eventually(unregs("a.example.com")).Should(Equal(4))
		source.events <- &receptor.ActualLRPCreatedEvent{ActualLRPResponse: runningLRP("pg", "ig-0", 0)}
		Eventually(regs("a.example.com")).Should(Equal(3))
		clk.Increment(30 * time.Second)
		Consistently(unregs("a.example.com"), 200*time.Millisecond).Should(Equal(4), "the registration cancelled the repeats")
	})

	It("syncs every interval: unregisters what a fresh domain dropped, keeps what a stale one did", func() {
		api.desired = append(api.desired, desiredLRP("old", 1, "legacy", "old.example.com"))
		api.actual = append(api.actual, runningLRP("old", "ig-old", 0))
		cfg.SyncInterval = time.Minute
		start()
		api.mu.Lock()
		api.desired, api.actual = nil, []receptor.ActualLRPResponse{runningLRP("old", "ig-old", 0)}
		api.mu.Unlock()
		clk.Increment(time.Minute)
		Eventually(unregs("a.example.com")).Should(Equal(1), "cf-apps is fresh: its route goes")
		Consistently(unregs("old.example.com"), 200*time.Millisecond).Should(BeZero(), "legacy is not fresh: its route stays")
	})

	It("replays the events that arrive during a sync into the new table", func() {
		cfg.SyncInterval = time.Minute
		start()
		source := <-sources
		block, waiting := make(chan struct{}), make(chan struct{}, 1)
		api.mu.Lock()
		api.block, api.waiting = block, waiting
		api.mu.Unlock()
		clk.Increment(time.Minute)
		Eventually(waiting).Should(Receive(), "the sync starts and waits on the fetch")
		source.events <- &receptor.ActualLRPCreatedEvent{ActualLRPResponse: runningLRP("pg", "ig-1", 1)}
		Eventually(regs("a.example.com")).Should(Equal(2))
		api.mu.Lock()
		api.block = nil
		api.mu.Unlock()
		close(block) // the fetch (without ig-1) completes
		Consistently(unregs("a.example.com"), 300*time.Millisecond).Should(BeZero(), "ig-1 came from an event during the sync")
	})

	It("resubscribes and syncs after the event stream ends", func() {
		start()
		(<-sources).ended <- io.EOF
		api.mu.Lock()
		api.actual = append(api.actual, runningLRP("pg", "ig-1", 1))
		api.mu.Unlock()
		Eventually(sources).Should(Receive())
		Eventually(regs("a.example.com")).Should(Equal(2), "the sync after resubscribing finds ig-1")
	})

	It("retries the first sync until the receptor answers", func() {
		api.fail = errors.New("receptor down")
		w := watcher.New(cfg, watcher.Deps{Logger: logging.New(GinkgoWriter, -4, "route-emitter"), Clock: clk, Receptor: api, Emitter: em,
			Subscribe: func(context.Context) (watcher.EventSource, error) {
				return &fakeSource{events: make(chan receptor.Event), ended: make(chan error, 1)}, nil
			}})
		process = ifrit.Background(w)
		DeferCleanup(func() { process.Signal(os.Interrupt); Eventually(process.Wait()).Should(Receive()) })
		Consistently(process.Ready(), 200*time.Millisecond).ShouldNot(BeClosed())
		api.mu.Lock()
		api.fail = nil
		api.mu.Unlock()
		Eventually(clk.WatcherCount).Should(BeNumerically(">=", 1))
		clk.Increment(time.Second)
		Eventually(process.Ready()).Should(BeClosed())
		Expect(regs("a.example.com")()).To(Equal(1))
	})
})
