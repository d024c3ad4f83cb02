package multivm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"

	bbsclient "diego/bbs/client"
	"diego/bbs/lock"
	"diego/deploy/config"
	"diego/deploy/multivm"
	"diego/deploy/tlsconfig"
	"diego/models"
	receptorapi "diego/receptor"
	receptorclient "diego/receptor/client"
	"diego/test/rootfs"
)

// presenceTTL is the rep's lock_ttl in the example manifest (the
// daemon's default): a stopped cell's instances must be RUNNING elsewhere
// within presenceTTL + 5 s.
const presenceTTL = 15 * time.Second

const (
	domain    = "ha"
	lrpCount  = 2
	instances = 3
	// The routed app: its own domain, so the counts above stay the
	// workload's.
	webDomain    = "ha-web"
	webInstances = 2
	webRoute     = "ha-web.apps.internal"
)

// The HA specs share one cluster and run in order: each stops a whole VM
// of one group under the workload, checks what must keep working, and
// starts the VM again.
var _ = Describe("the multi-VM cluster, one VM of each group stopped in turn", Ordered, func() {
	var (
		cluster  *multivm.Cluster
		plan     *multivm.Plan
		certDir  string
		bbsAny   *bbsclient.Client
		bbsOf    map[string]*bbsclient.Client // by database VM name
		receptor *receptorclient.Client
		etcd     *clientv3.Client
		work     *workload
		probe    *routeProbe
		timings  []string
		// anyFailed keeps the VMs' logs of a failed run.
		anyFailed bool
	)

	forward := func(targets ...string) string {
		f, err := cluster.Forward("127.0.0.1:0", targets...)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(f.Close)
		return f.Addr()
	}

	writeCert := func(name, field string) string {
		v := plan.Vars[name].(map[string]any)[field].(string)
		path := filepath.Join(certDir, name+"-"+field+".pem")
		Expect(os.WriteFile(path, []byte(v), 0o600)).To(Succeed())
		return path
	}

	newBBS := func(addr string) *bbsclient.Client {
		c, err := bbsclient.New(bbsclient.Config{URL: "https://" + addr,
			CAFile: writeCert("diego_ca", "certificate"), CertFile: writeCert("bbs_client", "certificate"),
			KeyFile: writeCert("bbs_client", "private_key"), Timeout: 5 * time.Second})
		Expect(err).NotTo(HaveOccurred())
		return c
	}

	BeforeAll(func() {
		// The VMs' logs stay for a failed run (the path is in the report),
		// or for every run with MULTIVM_KEEP_STATE=1.
		state, err := os.MkdirTemp("", "diego-multivm-ha-")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			if !anyFailed && os.Getenv("MULTIVM_KEEP_STATE") != "1" {
				_ = os.RemoveAll(state)
			}
		})
		AddReportEntry("state", state)
		certDir = GinkgoT().TempDir()
		plan, err = multivm.NewPlan(multivm.Options{
			StateDir: state, BinDir: binDir, ReleaseDir: "../../deploy/bosh", Manifest: "../../deploy/bosh/manifests/diego.yml",
			RootFS: rootfs.MustPath(), Prefix: "dmt", GardenTag: "n", LogLevel: "info",
		})
		Expect(err).NotTo(HaveOccurred())
		cluster = multivm.New(plan, nil)
		DeferCleanup(func() {
			Expect(cluster.Stop()).To(Succeed())
		})
		started := time.Now()
		Expect(cluster.Start()).To(Succeed())
		timings = append(timings, fmt.Sprintf("cluster start: %s", time.Since(started).Round(time.Second)))

		bbsOf = map[string]*bbsclient.Client{}
		var all []string
		for _, vm := range plan.Group("database") {
			bbsOf[vm.Name()] = newBBS(forward(vm.Address + ":8889"))
			all = append(all, vm.Address+":8889")
		}
		bbsAny = newBBS(forward(all...))
		var receptors []string
		for _, a := range plan.Addresses("access") {
			receptors = append(receptors, a+":8887")
		}
		receptor, err = receptorclient.New(receptorclient.Config{URL: "http://" + forward(receptors...), Timeout: 5 * time.Second})
		Expect(err).NotTo(HaveOccurred())
		var etcds []string
		for _, a := range plan.Addresses("etcd") {
			etcds = append(etcds, "https://"+forward(a+":2379"))
		}
		etcd, err = lock.Dial(config.ETCD{Endpoints: etcds, CAFile: writeCert("diego_ca", "certificate"),
			CertFile: writeCert("etcd_client", "certificate"), KeyFile: writeCert("etcd_client", "private_key")})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(etcd.Close)

		ctx := context.Background()
		Eventually(func() ([]string, error) {
			cells, err := receptor.Cells(ctx)
			ids := []string{}
			for _, c := range cells {
				ids = append(ids, c.CellID)
			}
			return ids, err
		}, 60*time.Second).Should(ConsistOf("cell-0", "cell-1", "cell-2"))

		for i := range lrpCount {
			Expect(bbsAny.DesireLRP(ctx, &models.DesiredLRP{
				ProcessGuid: fmt.Sprintf("ha-lrp-%d", i), Domain: domain, RootFs: "preloaded:cflinuxfs4", Instances: instances,
				MemoryMb: 16, DiskMb: 0, LogGuid: "ha",
				Action: models.WrapAction(&models.RunAction{Path: "sh", Args: []string{"-c", "while true; do sleep 1; done"}, User: "vcap"}),
			})).To(Succeed())
		}
		Eventually(runningInstances(bbsAny), 120*time.Second, time.Second).Should(Equal(lrpCount * instances))

		// An app with a route, reached through the routers as a load
		// balancer would (the first that answers).
		routes, _ := json.Marshal([]map[string]any{{"hostnames": []string{webRoute}, "port": 8080}})
		Expect(receptor.CreateDesiredLRP(ctx, receptorapi.DesiredLRPCreateRequest{
			ProcessGuid: "ha-web", Domain: webDomain, RootFS: "preloaded:cflinuxfs4", Instances: webInstances,
			MemoryMB: 16, Ports: []uint16{8080}, LogGuid: "ha-web", LogSource: "APP",
			Routes: receptorapi.RoutingInfo{"cf-router": routes},
			Action: models.WrapAction(&models.RunAction{Path: "sh", User: "vcap", Args: []string{"-c",
				"mkdir -p /tmp/www && echo ha-web-$INSTANCE_INDEX > /tmp/www/index.html && exec busybox httpd -f -p 8080 -h /tmp/www"}}),
		})).To(Succeed())
		var routers []string
		for _, a := range plan.Addresses("access") {
			routers = append(routers, a+":8081")
		}
		probe = startRouteProbe(forward(routers...), webRoute)
		DeferCleanup(probe.stop)
		Eventually(probe.answered, 120*time.Second, time.Second).Should(BeNumerically(">", 0), "the app answers through the routers")

		work = startWorkload(bbsAny)
		DeferCleanup(work.stop)
	})

	AfterEach(func() {
		if CurrentSpecReport().Failed() {
			anyFailed = true
		}
	})

	AfterAll(func() {
		AddReportEntry("timings", strings.Join(timings, "\n"))
		fmt.Fprintln(GinkgoWriter, strings.Join(timings, "\n"))
	})

	// outage stops vm, runs check while it is down, and starts it again.
	// Routes keep answering throughout: the app answers through the
	// routers while the VM is down, and never 404 (checked at the end).
	outage := func(vm *multivm.VM, check func(stopped time.Time)) {
		before := work.completed()
		stopped := time.Now()
		Expect(cluster.StopVM(vm)).To(Succeed())
		answered := probe.answered()
		check(stopped)
		Eventually(probe.answered, 30*time.Second, 200*time.Millisecond).Should(BeNumerically(">", answered),
			"the app answers through the routers while %s is down", vm.Name())
		// The workload goes on while the VM is down.
		Eventually(work.completed, 60*time.Second, time.Second).Should(BeNumerically(">=", before+3),
			"tasks kept completing while %s was down", vm.Name())
		restarted := time.Now()
		Expect(cluster.StartVM(vm)).To(Succeed())
		timings = append(timings, fmt.Sprintf("%s: down %s, restart %s", vm.Name(),
			restarted.Sub(stopped).Round(100*time.Millisecond), time.Since(restarted).Round(100*time.Millisecond)))
		Eventually(runningInstances(bbsAny), 60*time.Second, time.Second).Should(Equal(lrpCount * instances))
		Expect(probe.unknownRoute()).To(BeEmpty(), "no 404 unknown_route for the live app")
	}

	It("keeps serving when an etcd member's VM stops", func() {
		vm := plan.Group("etcd")[0]
		outage(vm, func(time.Time) {
			ctx := context.Background()
			Eventually(func() error {
				return bbsAny.UpsertDomain(ctx, "etcd-write", time.Minute)
			}, 30*time.Second).Should(Succeed(), "the BBS writes with one etcd member down")
		})
	})

	It("keeps a NATS cluster of two when a NATS VM stops", func() {
		connect := func(vm *multivm.VM) *nats.Conn {
			tc, err := tlsconfig.ClientConfig(writeCert("nats_server", "certificate"), writeCert("nats_server", "private_key"),
				writeCert("diego_ca", "certificate"))
			Expect(err).NotTo(HaveOccurred())
			tc.ServerName = "nats.service.cf.internal"
			nc, err := nats.Connect("tls://"+forward(vm.Address+":4222"), nats.Secure(tc), nats.NoReconnect())
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(nc.Close)
			return nc
		}
		outage(plan.Group("nats")[0], func(time.Time) {
			// A message crosses the route between the two servers left.
			sub, pub := connect(plan.Group("nats")[1]), connect(plan.Group("nats")[2])
			msgs := make(chan *nats.Msg, 16)
			s, err := sub.ChanSubscribe("ha.ping", msgs)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(s.Unsubscribe)
			Expect(sub.Flush()).To(Succeed())
			Eventually(func() int {
				Expect(pub.Publish("ha.ping", []byte("across"))).To(Succeed())
				return len(msgs)
			}, 20*time.Second, 500*time.Millisecond).Should(BeNumerically(">", 0), "nats-2's message reaches nats-1's subscriber")
		})
	})

	It("serves every client from the other BBS when a database VM stops", func() {
		down := plan.Group("database")[0]
		up := plan.Group("database")[1]
		outage(down, func(time.Time) {
			ctx := context.Background()
			Eventually(func() bool { return bbsOf[up.Name()].Ping(ctx) }, 10*time.Second).Should(BeTrue())
			Expect(bbsOf[down.Name()].Ping(ctx)).To(BeFalse())
			Eventually(func() error { _, err := bbsAny.Cells(ctx); return err }, 30*time.Second).Should(Succeed())
		})
		ctx := context.Background()
		// Any BBS serves any client: both answer the same records.
		Eventually(func() bool { return bbsOf[down.Name()].Ping(ctx) }, 30*time.Second).Should(BeTrue())
		for _, c := range bbsOf {
			lrps, err := c.DesiredLRPs(ctx, bbsclient.DesiredLRPFilter{Domain: domain})
			Expect(err).NotTo(HaveOccurred())
			Expect(lrps).To(HaveLen(lrpCount))
		}
	})

	It("hands the brain's locks to the standby when the active brain's VM stops", func() {
		ctx := context.Background()
		holder := func(name, field string) func() (string, error) {
			return func() (string, error) {
				v, err := lock.Value(ctx, etcd, lock.LockKey("/diego", name))
				if err != nil || v == nil {
					return "", err
				}
				var m map[string]string
				if err := json.Unmarshal(v, &m); err != nil {
					return "", err
				}
				return m[field], nil
			}
		}
		var active string
		Eventually(holder("auctioneer", "auctioneer_id"), 30*time.Second).Should(HavePrefix("brain-"))
		active, _ = holder("auctioneer", "auctioneer_id")()
		var vm, standby *multivm.VM
		for _, b := range plan.Group("brain") {
			if b.Name() == active {
				vm = b
			} else {
				standby = b
			}
		}
		Expect(vm).NotTo(BeNil(), "the auctioneer lock names %q", active)
		outage(vm, func(stopped time.Time) {
			Eventually(holder("auctioneer", "auctioneer_id"), 2*presenceTTL, 500*time.Millisecond).Should(Equal(standby.Name()))
			Eventually(holder("converger", "converger_id"), 2*presenceTTL, 500*time.Millisecond).Should(Equal(standby.Name()))
			timings = append(timings, fmt.Sprintf("brain locks moved to %s after %s", standby.Name(), time.Since(stopped).Round(100*time.Millisecond)))
		})
	})

	It("answers the receptor API and routes from the other access VM when the active route-emitter's stops", func() {
		ctx := context.Background()
		emitter := func() (string, error) {
			v, err := lock.Value(ctx, etcd, lock.LockKey("/diego", "route_emitter"))
			if err != nil || v == nil {
				return "", err
			}
			var m map[string]string
			if err := json.Unmarshal(v, &m); err != nil {
				return "", err
			}
			return m["route_emitter_id"], nil
		}
		// The hard case: the VM whose emitter holds the lock stops, so no
		// emitter emits until the other takes the lock.
		Eventually(emitter, 30*time.Second).Should(HavePrefix("access-"))
		active, _ := emitter()
		var vm, standby *multivm.VM
		for _, a := range plan.Group("access") {
			if a.Name() == active {
				vm = a
			} else {
				standby = a
			}
		}
		Expect(vm).NotTo(BeNil(), "the route-emitter lock names %q", active)
		outage(vm, func(stopped time.Time) {
			// The lock moves to the other access VM (within its TTL)
			// before the stopped one comes back: a restarted router waits
			// start_response_delay_interval for an emitter to answer its
			// router.start, and the one on a stopped VM never will
			// (decision 112).
			Eventually(emitter, 2*presenceTTL, 500*time.Millisecond).Should(Equal(standby.Name()))
			timings = append(timings, fmt.Sprintf("route-emitter lock moved to %s after %s", standby.Name(), time.Since(stopped).Round(100*time.Millisecond)))
			Eventually(func() error { _, err := receptor.DesiredLRPs(ctx); return err }, 10*time.Second).Should(Succeed())
			lrps, err := receptor.DesiredLRPsByDomain(ctx, domain)
			Expect(err).NotTo(HaveOccurred())
			Expect(lrps).To(HaveLen(lrpCount))
		})
	})

	It("runs every desired instance again within the presence TTL + 5 s when a cell's VM stops", func() {
		outage(plan.Group("cell")[0], func(stopped time.Time) {
			// Until its presence lapses the BBS still shows the lost cell's
			// instances RUNNING: count those on the cells that are left.
			Eventually(runningInstancesAvoiding(bbsAny, "cell-0"), 120*time.Second, 250*time.Millisecond).
				Should(Equal(lrpCount*instances), "every instance RUNNING again on cell-1 or cell-2")
			recovered := time.Since(stopped)
			timings = append(timings, fmt.Sprintf("cell-0's instances RUNNING elsewhere after %s", recovered.Round(100*time.Millisecond)))
			Expect(recovered).To(BeNumerically("<=", presenceTTL+5*time.Second), "instances RUNNING again within the presence TTL + 5 s")
			Eventually(func() ([]string, error) {
				cells, err := bbsAny.Cells(context.Background())
				ids := []string{}
				for _, c := range cells {
					ids = append(ids, c.CellId)
				}
				return ids, err
			}, 10*time.Second).Should(ConsistOf("cell-1", "cell-2"))
		})
	})

	It("completed every task exactly once", func() {
		work.stop()
		Eventually(work.pending, 120*time.Second, time.Second).Should(BeEmpty())
		Expect(work.regressions()).To(BeEmpty(), "no task left COMPLETED for another state")
		failed := work.failedReasons()
		for guid, reason := range failed {
			// Only a task on a cell that stopped may fail, and says so.
			Expect(reason).To(ContainSubstring("cell"), "task %s failed: %s", guid, reason)
		}
		timings = append(timings, fmt.Sprintf("tasks: %d completed, %d of them failed with their cell", work.completed(), len(failed)))
		Expect(work.completed()).To(BeNumerically(">=", 20))
	})

	It("routed the app all along, with no 404 unknown_route", func() {
		probe.stop()
		codes := probe.codes()
		timings = append(timings, fmt.Sprintf("route probes: %v", codes))
		Expect(codes[http.StatusOK]).To(BeNumerically(">", 100))
		Expect(probe.unknownRoute()).To(BeEmpty())
		for code := range codes {
			Expect(code).To(BeElementOf(http.StatusOK, http.StatusBadGateway, 0), "only 200s, brief 502s and unanswered probes (a router's VM down)")
		}
	})
})

// routeProbe gets the app through the routers every 200 ms, recording
// every answer; once the app has answered, a 404 is a route lost.
type routeProbe struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	mu      sync.Mutex
	byCode  map[int]int
	ok      int
	lost    []string // 404s after the first 200
	started bool
}

func startRouteProbe(addr, host string) *routeProbe {
	ctx, cancel := context.WithCancel(context.Background())
	p := &routeProbe{cancel: cancel, done: make(chan struct{}), byCode: map[int]int{}}
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/", nil)
			req.Host = host
			code, detail := 0, ""
			if resp, err := client.Do(req); err == nil {
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
				resp.Body.Close()
				code, detail = resp.StatusCode, resp.Header.Get("X-Cf-Routererror")+" "+strings.TrimSpace(string(body))
			} else if ctx.Err() != nil {
				return
			}
			p.record(code, detail)
		}
	}()
	return p
}

func (p *routeProbe) record(code int, detail string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if code == http.StatusOK {
		p.started = true
		p.ok++
	}
	if !p.started {
		return // the app is not up yet
	}
	p.byCode[code]++
	if code == http.StatusNotFound {
		p.lost = append(p.lost, time.Now().Format("15:04:05.000")+" "+detail)
	}
}

func (p *routeProbe) stop() { p.once.Do(func() { p.cancel(); <-p.done }) }

// answered counts the 200s so far.
func (p *routeProbe) answered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ok
}

func (p *routeProbe) unknownRoute() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lost...)
}

func (p *routeProbe) codes() map[int]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[int]int{}
	for k, v := range p.byCode {
		out[k] = v
	}
	return out
}

// runningInstances counts the ordinary RUNNING instances of the domain's
// LRPs (one per index).
func runningInstances(c *bbsclient.Client) func() (int, error) {
	return runningInstancesAvoiding(c, "")
}

// runningInstancesAvoiding counts them on cells other than lost.
func runningInstancesAvoiding(c *bbsclient.Client, lost string) func() (int, error) {
	return func() (int, error) {
		lrps, err := c.ActualLRPs(context.Background(), bbsclient.ActualLRPFilter{Domain: domain})
		if err != nil {
			return 0, err
		}
		seen := map[string]bool{}
		for _, l := range lrps {
			if l.GetPresence() == models.ActualLRP_ORDINARY && l.GetState() == models.ActualLRPStateRunning &&
				l.GetActualLrpInstanceKey().GetCellId() != lost {
				seen[fmt.Sprintf("%s/%d", l.GetActualLrpKey().GetProcessGuid(), l.GetActualLrpKey().GetIndex())] = true
			}
		}
		return len(seen), nil
	}
}

// workload desires a short task every second and watches every task's
// state: none may be lost, and none may leave COMPLETED once there.
type workload struct {
	bbs    *bbsclient.Client
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	mu      sync.Mutex
	desired map[string]bool
	final   map[string]*models.Task // COMPLETED tasks as first seen
	regress []string
}

func startWorkload(c *bbsclient.Client) *workload {
	ctx, cancel := context.WithCancel(context.Background())
	w := &workload{bbs: c, cancel: cancel, done: make(chan struct{}), desired: map[string]bool{}, final: map[string]*models.Task{}}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			guid := fmt.Sprintf("ha-task-%04d", n)
			// A desire that fails in transit may have landed: desiring the
			// same guid again is refused as existing, never doubled.
			for attempt := 0; attempt < 10 && ctx.Err() == nil; attempt++ {
				err := c.DesireTask(ctx, guid, domain, &models.TaskDefinition{
					RootFs: "preloaded:cflinuxfs4", MemoryMb: 8, ResultFile: "/tmp/result",
					Action: models.WrapAction(&models.RunAction{Path: "sh", Args: []string{"-c", "sleep 1; echo " + guid + " > /tmp/result"}, User: "vcap"}),
				})
				if err == nil || models.ConvertError(err).Type == models.Error_ResourceExists {
					w.mu.Lock()
					w.desired[guid] = true
					w.mu.Unlock()
					break
				}
				select {
				case <-ctx.Done():
				case <-time.After(500 * time.Millisecond):
				}
			}
			w.observe(ctx)
		}
	}()
	return w
}

func (w *workload) observe(ctx context.Context) {
	tasks, err := w.bbs.Tasks(ctx, bbsclient.TaskFilter{Domain: domain})
	if err != nil {
		return
	}
	w.record(tasks)
}

func (w *workload) record(tasks []*models.Task) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, t := range tasks {
		prev, done := w.final[t.GetTaskGuid()]
		switch {
		case done && t.GetState() != models.Task_Completed && t.GetState() != models.Task_Resolving:
			w.regress = append(w.regress, fmt.Sprintf("%s: COMPLETED, then %s", t.GetTaskGuid(), t.GetState()))
		case done && (prev.GetFailed() != t.GetFailed() || prev.GetResult() != t.GetResult()):
			w.regress = append(w.regress, fmt.Sprintf("%s completed twice: %q then %q", t.GetTaskGuid(), prev.GetResult(), t.GetResult()))
		case !done && t.GetState() == models.Task_Completed:
			w.final[t.GetTaskGuid()] = t
			if !t.GetFailed() && t.GetResult() != t.GetTaskGuid()+"\n" {
				w.regress = append(w.regress, fmt.Sprintf("%s: result %q", t.GetTaskGuid(), t.GetResult()))
			}
		}
	}
}

func (w *workload) stop() {
	w.once.Do(func() { w.cancel(); <-w.done })
}

func (w *workload) completed() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.final)
}

// pending lists desired tasks not yet seen COMPLETED, observing again.
func (w *workload) pending() []string {
	w.observe(context.Background())
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for g := range w.desired {
		if _, ok := w.final[g]; !ok {
			out = append(out, g)
		}
	}
	sort.Strings(out)
	return out
}

func (w *workload) regressions() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.regress...)
}

func (w *workload) failedReasons() map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]string{}
	for g, t := range w.final {
		if t.GetFailed() {
			out[g] = t.GetFailureReason()
		}
	}
	return out
}
