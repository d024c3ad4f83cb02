package integration_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	bbsclient "diego/bbs/client"
	"diego/deploy/config"
	"diego/executor"
	executorclient "diego/executor/client"
	executorconfig "diego/executor/config"
	"diego/garden"
	gardenclient "diego/garden/client"
	gardenconfig "diego/garden/config"
	"diego/models"
	repconfig "diego/rep/config"
	"diego/test/daemontest"
	"diego/test/rootfs"
)

// cell is a real garden, executor and rep.
type cell struct {
	id       string
	garden   string
	executor *executorclient.Client
	repURL   string
	rep      *gexec.Session
	repCfg   repconfig.Config
}

// startCell runs cell n of this ginkgo process against the brain; each
// change edits the garden's config before it starts.
func startCell(b *brain, n int, gardenChanges ...func(*gardenconfig.Config)) *cell {
	GinkgoHelper()
	Expect(os.Geteuid()).To(BeZero(), "real cells need root")
	dir, err := rootfs.Path()
	Expect(err).NotTo(HaveOccurred())
	proc := GinkgoParallelProcess()
	slot := (proc-1)*4 + n // distinct pools and tags per process and cell
	spec := daemontest.NewCell(fmt.Sprintf("cell-%d-%d", proc, n))
	spec.Zone = fmt.Sprintf("z%d", n)
	spec.Tag = fmt.Sprintf("i%d", slot)
	spec.NetworkPool = fmt.Sprintf("10.250.%d.0/22", slot*4)
	spec.PortPoolStart, spec.PortPoolSize = uint32(30000+slot*500), 400
	m := b.maker
	m.RootFS, m.Stacks = dir, map[string]string{"cflinuxfs3": dir}
	c := &cell{id: spec.ID, garden: spec.GardenAddr}

	gardenSession := run("garden", m.Garden(spec, gardenChanges...), daemontest.Ready)
	DeferCleanup(func() {
		// Containers outlive a garden by design: remove them first.
		gc := gardenclient.New("tcp", c.garden)
		if boxes, err := gc.Containers(garden.Properties{garden.StateProperty: garden.StateAll}); err == nil {
			for _, box := range boxes {
				_ = gc.Destroy(box.Handle())
			}
		}
		daemontest.Stop(gardenSession)
	})
	run("executor", m.Executor(spec, func(e *executorconfig.Config) {
		e.MemoryMB, e.DiskMB, e.MaxContainers = 1024, 4096, 20
		e.MaxCacheSizeInBytes = 50 << 20
		e.GracefulShutdownInterval = config.Duration(time.Second)
	}), daemontest.Ready)
	c.executor = executorclient.New("http://"+spec.ExecutorAddr, 10*time.Second)
	c.repURL = "http://" + spec.RepAddr
	c.repCfg = m.Rep(spec, func(r *repconfig.Config) {
		r.LockTTL = config.Duration(b.lockTTL)
		r.LockRetryInterval = config.Duration(time.Second)
		r.PollingInterval = config.Duration(2 * time.Second)
		r.EvacuationPollingInterval = config.Duration(time.Second)
		r.EvacuationTimeout = config.Duration(60 * time.Second)
		r.CommunicationTimeout = config.Duration(5 * time.Second)
	})
	c.rep = run("rep", c.repCfg, daemontest.Ready)
	return c
}

// restartRep starts the cell's rep again with the same config.
func (c *cell) restartRep() {
	GinkgoHelper()
	c.rep = run("rep", c.repCfg, daemontest.Ready)
}

var _ = Describe("Real cells", func() {
	var (
		b      *brain
		bbs    *bbsclient.Client
		ctx    = context.Background()
		cellA  *cell
		static = func(index string) string {
			return "mkdir -p /tmp/www && echo instance-" + index + " > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"
		}
	)

	BeforeEach(func() {
		b = startBrain()
		var err error
		bbs, err = bbsclient.New(bbsclient.Config{URL: b.bbsURL})
		Expect(err).NotTo(HaveOccurred())
		Expect(bbs.UpsertDomain(ctx, "apps", 0)).To(Succeed())
		cellA = startCell(b, 1)
		Eventually(func() ([]*models.CellPresence, error) { return bbs.Cells(ctx) }, 20*time.Second).Should(HaveLen(1))
	})

	desireWeb := func(guid string, instances int32, script string) {
		GinkgoHelper()
		Expect(bbs.DesireLRP(ctx, &models.DesiredLRP{
			ProcessGuid: guid, Domain: "apps", RootFs: "preloaded:cflinuxfs3", Instances: instances,
			MemoryMb: 64, DiskMb: 64, Ports: []uint32{8080}, LogGuid: guid,
			Action: models.WrapAction(&models.RunAction{Path: "sh", Args: []string{"-c", script}, User: "vcap"}),
		})).To(Succeed())
	}
	actuals := func(guid string) []*models.ActualLRP {
		lrps, err := bbs.ActualLRPs(ctx, bbsclient.ActualLRPFilter{ProcessGuid: guid})
		Expect(err).NotTo(HaveOccurred())
		return lrps
	}
	running := func(guid string) []*models.ActualLRP {
		var out []*models.ActualLRP
		for _, l := range actuals(guid) {
			if l.State == models.ActualLRPStateRunning {
				out = append(out, l)
			}
		}
		return out
	}

	It("claims and starts an LRP instance with its net info, and serves it through the host port", func() {
		desireWeb("web", 1, static("0"))
		Eventually(func() []*models.ActualLRP { return running("web") }, 60*time.Second).Should(HaveLen(1))
		lrp := running("web")[0]
		Expect(lrp.ActualLrpInstanceKey.CellId).To(Equal(cellA.id))
		Expect(lrp.ActualLrpNetInfo.Address).NotTo(BeEmpty())
		Expect(lrp.ActualLrpNetInfo.InstanceAddress).To(HavePrefix("10.250."))
		Expect(lrp.ActualLrpNetInfo.Ports).To(HaveLen(1))
		Expect(lrp.ActualLrpNetInfo.Ports[0].ContainerPort).To(BeEquivalentTo(8080))
		hostPort := lrp.ActualLrpNetInfo.Ports[0].HostPort
		Eventually(func() (int, error) {
			resp, err := http.Get(fmt.Sprintf("http://%s:%d/index.html", lrp.ActualLrpNetInfo.Address, hostPort))
			if err != nil {
				return 0, err
			}
			resp.Body.Close()
			return resp.StatusCode, nil
		}, 10*time.Second).Should(Equal(http.StatusOK))

		container, err := cellA.executor.GetContainer(lrp.ActualLrpInstanceKey.InstanceGuid)
		Expect(err).NotTo(HaveOccurred(), "the container guid is the instance guid")
		Expect(container.State).To(Equal(executor.StateRunning))

		By("retiring the LRP, which stops and removes its container")
		Expect(bbs.RemoveDesiredLRP(ctx, "web")).To(Succeed())
		Eventually(func() []*models.ActualLRP { return actuals("web") }, 30*time.Second).Should(BeEmpty())
		Eventually(func() ([]executor.Container, error) { return cellA.executor.ListContainers(nil) }, 30*time.Second).Should(BeEmpty())
	})

	It("reports a crashing instance as crashed with its reason", func() {
		desireWeb("crasher", 1, "echo going down; exit 3")
		Eventually(func() string {
			for _, l := range actuals("crasher") {
				if l.CrashCount > 0 {
					return l.CrashReason
				}
			}
			return ""
		}, 60*time.Second).Should(Equal("Exited with status 3"))
		Eventually(func() string {
			lrps := actuals("crasher")
			if len(lrps) == 0 {
				return ""
			}
			return lrps[0].State
		}, 90*time.Second).Should(Equal(models.ActualLRPStateCrashed))
	})

	It("runs a task to completion with its result, and cancels one", func() {
		Expect(bbs.DesireTask(ctx, "task-1", "apps", &models.TaskDefinition{
			RootFs: "preloaded:cflinuxfs3", MemoryMb: 32, DiskMb: 32, ResultFile: "/tmp/result",
			Action: models.WrapAction(&models.RunAction{Path: "sh", Args: []string{"-c", "echo 42 > /tmp/result"}, User: "vcap"}),
		})).To(Succeed())
		var task *models.Task
		Eventually(func() models.Task_State {
			var err error
			task, err = bbs.TaskByGuid(ctx, "task-1")
			Expect(err).NotTo(HaveOccurred())
			return task.State
		}, 60*time.Second).Should(Equal(models.Task_Completed))
		Expect(task.Failed).To(BeFalse(), task.FailureReason)
		Expect(task.Result).To(Equal("42\n"))
		Eventually(func() ([]executor.Container, error) { return cellA.executor.ListContainers(nil) }, 30*time.Second).Should(BeEmpty())

		Expect(bbs.DesireTask(ctx, "task-2", "apps", &models.TaskDefinition{
			RootFs: "preloaded:cflinuxfs3", MemoryMb: 32, DiskMb: 32,
			Action: models.WrapAction(&models.RunAction{Path: "sleep", Args: []string{"1000"}, User: "vcap"}),
		})).To(Succeed())
		Eventually(func() models.Task_State {
			t, err := bbs.TaskByGuid(ctx, "task-2")
			Expect(err).NotTo(HaveOccurred())
			return t.State
		}, 60*time.Second).Should(Equal(models.Task_Running))
		Eventually(func() ([]executor.Container, error) { return cellA.executor.ListContainers(nil) }).Should(HaveLen(1))
		Expect(bbs.CancelTask(ctx, "task-2")).To(Succeed())
		Eventually(func() ([]executor.Container, error) { return cellA.executor.ListContainers(nil) }, 30*time.Second).Should(BeEmpty())
	})

	It("keeps running containers across a rep restart, and drops the presence of a killed rep within the TTL", func() {
		desireWeb("steady", 1, static("0"))
		Eventually(func() []*models.ActualLRP { return running("steady") }, 60*time.Second).Should(HaveLen(1))
		before := running("steady")[0]
		container, err := cellA.executor.GetContainer(before.ActualLrpInstanceKey.InstanceGuid)
		Expect(err).NotTo(HaveOccurred())

		cellA.rep.Interrupt()
		Eventually(cellA.rep, 20*time.Second).Should(gexec.Exit())
		cellA.restartRep()
		Consistently(func() string {
			lrps := running("steady")
			if len(lrps) != 1 {
				return "not running"
			}
			return lrps[0].ActualLrpInstanceKey.InstanceGuid
		}, 5*time.Second, 250*time.Millisecond).Should(Equal(before.ActualLrpInstanceKey.InstanceGuid))
		again, err := cellA.executor.GetContainer(before.ActualLrpInstanceKey.InstanceGuid)
		Expect(err).NotTo(HaveOccurred())
		Expect(again.AllocatedAt).To(Equal(container.AllocatedAt), "the same container, not a new one")

		cellA.rep.Kill()
		killed := time.Now()
		Eventually(func() ([]*models.CellPresence, error) { return bbs.Cells(ctx) }, 10*time.Second, 100*time.Millisecond).Should(BeEmpty())
		Expect(time.Since(killed)).To(BeNumerically("<", 3*time.Second+2*time.Second), "gone within the 3 s TTL (plus slack)")
	})

	It("evacuates a cell: every instance runs on the other cell first, never down to zero", func() {
		desireWeb("evac", 2, static("x"))
		Eventually(func() []*models.ActualLRP { return running("evac") }, 60*time.Second).Should(HaveLen(2))
		cellB := startCell(b, 2)
		Eventually(func() ([]*models.CellPresence, error) { return bbs.Cells(ctx) }, 20*time.Second).Should(HaveLen(2))

		var minRunning atomic.Int64
		minRunning.Store(2)
		stopWatching := make(chan struct{})
		watched := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(watched)
			for {
				select {
				case <-stopWatching:
					return
				case <-time.After(50 * time.Millisecond):
				}
				lrps, err := bbs.ActualLRPs(ctx, bbsclient.ActualLRPFilter{ProcessGuid: "evac"})
				if err != nil {
					continue
				}
				indexes := map[int32]bool{}
				for _, l := range lrps {
					if l.State == models.ActualLRPStateRunning {
						indexes[l.ActualLrpKey.Index] = true
					}
				}
				if n := int64(len(indexes)); n < minRunning.Load() {
					minRunning.Store(n)
				}
			}
		}()

		// SIGUSR1 is the 2015 drain signal (POST /evacuate has the same
		// effect and its own handler spec).
		cellA.rep.Signal(syscall.SIGUSR1)
		Eventually(cellA.rep, 60*time.Second).Should(gexec.Exit(0))
		close(stopWatching)
		<-watched

		lrps := running("evac")
		Expect(lrps).To(HaveLen(2))
		for _, l := range lrps {
			Expect(l.ActualLrpInstanceKey.CellId).To(Equal(cellB.id))
			Expect(l.Presence).To(Equal(models.ActualLRP_ORDINARY))
		}
		Expect(minRunning.Load()).To(BeNumerically(">=", 1), "an index had no running instance during the evacuation")
		containers, err := cellA.executor.ListContainers(nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(containers).To(BeEmpty())
	})
})
