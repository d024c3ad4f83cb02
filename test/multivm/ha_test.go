package multivm_test

import (
	"context"
	"encoding/json"
	"fmt"
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
		// The VMs' logs stay for a failed run (the path is in the report).
		state, err := os.MkdirTemp("", "diego-multivm-ha-")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			if !anyFailed {
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
	outage := func(vm *multivm.VM, check func(stopped time.Time)) {
		before := work.completed()
		stopped := time.Now()
		Expect(cluster.StopVM(vm)).To(Succeed())
		check(stopped)
		// The workload goes on while the VM is down.
		Eventually(work.completed, 60*time.Second, time.Second).Should(BeNumerically(">=", before+3),
			"tasks kept completing while %s was down", vm.Name())
		restarted := time.Now()
		Expect(cluster.StartVM(vm)).To(Succeed())
		timings = append(timings, fmt.Sprintf("%s: down %s, restart %s", vm.Name(),
			restarted.Sub(stopped).Round(100*time.Millisecond), time.Since(restarted).Round(100*time.Millisecond)))
		Eventually(runningInstances(bbsAny), 60*time.Second, time.Second).Should(Equal(lrpCount * instances))
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

	It("answers the receptor API from the other access VM when one stops", func() {
		outage(plan.Group("access")[0], func(time.Time) {
			ctx := context.Background()
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
})

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
