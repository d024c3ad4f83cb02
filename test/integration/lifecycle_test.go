package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	bbsclient "diego/bbs/client"
	"diego/executor"
	"diego/models"
)

// The end-to-end lives of issue #9 item 3 on real cells.
var _ = Describe("End to end", func() {
	var (
		b   *brain
		bbs *bbsclient.Client
		ctx = context.Background()
	)

	BeforeEach(func() {
		b = startBrain()
		var err error
		bbs, err = bbsclient.New(bbsclient.Config{URL: b.bbsURL})
		Expect(err).NotTo(HaveOccurred())
		Expect(bbs.UpsertDomain(ctx, "apps", 0)).To(Succeed())
	})

	task := func(guid, script, callback string) *models.TaskDefinition {
		return &models.TaskDefinition{
			RootFs: "preloaded:cflinuxfs3", MemoryMb: 16, DiskMb: 16, ResultFile: "/tmp/result",
			CompletionCallbackUrl: callback,
			Action:                models.WrapAction(&models.RunAction{Path: "sh", Args: []string{"-c", script}, User: "vcap"}),
		}
	}
	desire := func(guid string, instances int32, script string) {
		GinkgoHelper()
		Expect(bbs.DesireLRP(ctx, &models.DesiredLRP{
			ProcessGuid: guid, Domain: "apps", RootFs: "preloaded:cflinuxfs3", Instances: instances,
			MemoryMb: 16, DiskMb: 16, Ports: []uint32{8080},
			Action: models.WrapAction(&models.RunAction{Path: "sh", Args: []string{"-c", script}, User: "vcap"}),
		})).To(Succeed())
	}
	runningOn := func(guid string) map[int32]string { // index → cell
		lrps, err := bbs.ActualLRPs(ctx, bbsclient.ActualLRPFilter{ProcessGuid: guid})
		Expect(err).NotTo(HaveOccurred())
		out := map[int32]string{}
		for _, l := range lrps {
			if l.State == models.ActualLRPStateRunning && l.Presence == models.ActualLRP_ORDINARY {
				out[l.ActualLrpKey.Index] = l.ActualLrpInstanceKey.CellId
			}
		}
		return out
	}
	const serve = "mkdir -p /tmp/www && echo ok > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"

	It("runs a task's whole life: result, completion callback, resolved and deleted", func() {
		startCell(b, 1)
		callbacks := make(chan models.TaskCallbackResponse, 1)
		cc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			var t models.TaskCallbackResponse
			if json.Unmarshal(body, &t) == nil {
				callbacks <- t
			}
		}))
		DeferCleanup(cc.Close)
		Expect(bbs.DesireTask(ctx, "life", "apps", task("life", "echo the-result > /tmp/result", cc.URL+"/done"))).To(Succeed())
		var got models.TaskCallbackResponse
		Eventually(callbacks, 60*time.Second).Should(Receive(&got))
		Expect(got.TaskGuid).To(Equal("life"))
		Expect(got.Failed).To(BeFalse(), got.FailureReason)
		Expect(got.Result).To(Equal("the-result\n"))
		Eventually(func() error { _, err := bbs.TaskByGuid(ctx, "life"); return err }, 20*time.Second).
			Should(MatchError(ContainSubstring("could not be found")), "a task whose callback succeeded is resolved and deleted")
	})

	It("scales an LRP up and down", func() {
		c := startCell(b, 1)
		desire("scaled", 1, serve)
		Eventually(func() map[int32]string { return runningOn("scaled") }, 60*time.Second).Should(HaveLen(1))
		three := int32(3)
		Expect(bbs.UpdateDesiredLRP(ctx, "scaled", &models.DesiredLRPUpdate{Instances: &three})).To(Succeed())
		Eventually(func() map[int32]string { return runningOn("scaled") }, 60*time.Second).Should(HaveLen(3))
		Eventually(func() ([]executor.Container, error) { return c.executor.ListContainers(nil) }).Should(HaveLen(3))
		one := int32(1)
		Expect(bbs.UpdateDesiredLRP(ctx, "scaled", &models.DesiredLRPUpdate{Instances: &one})).To(Succeed())
		Eventually(func() map[int32]string { return runningOn("scaled") }, 30*time.Second).Should(HaveLen(1))
		Eventually(func() ([]executor.Container, error) { return c.executor.ListContainers(nil) }, 30*time.Second).Should(HaveLen(1))
	})

	It("restarts a crashing LRP per the crash policy", func() {
		startCell(b, 1)
		desire("flaky", 1, "exit 1")
		Eventually(func() int32 {
			lrps, err := bbs.ActualLRPs(ctx, bbsclient.ActualLRPFilter{ProcessGuid: "flaky"})
			Expect(err).NotTo(HaveOccurred())
			if len(lrps) == 0 {
				return 0
			}
			return lrps[0].CrashCount
		}, 90*time.Second).Should(BeNumerically(">=", 3), "the first crashes restart at once")
		lrps, err := bbs.ActualLRPs(ctx, bbsclient.ActualLRPFilter{ProcessGuid: "flaky"})
		Expect(err).NotTo(HaveOccurred())
		Expect(lrps[0].CrashReason).To(Equal("Exited with status 1"))
	})

	It("reschedules a lost cell's instances on the other cell", func() {
		a := startCell(b, 1)
		other := startCell(b, 2)
		desire("spread", 2, serve)
		Eventually(func() map[int32]string { return runningOn("spread") }, 60*time.Second).Should(HaveLen(2))
		onA := 0
		for _, cell := range runningOn("spread") {
			if cell == a.id {
				onA++
			}
		}
		Expect(onA).To(Equal(1), "the auction spreads the two instances")
		a.rep.Kill()
		Eventually(func() map[int32]string { return runningOn("spread") }, 30*time.Second).Should(And(
			HaveLen(2), HaveEach(Equal(other.id))))
	})

	It("replaces the active auctioneer and converger when they die", func() {
		startCell(b, 1)
		standbyAuctioneer := b.startAuctioneer("")
		standbyConverger := b.startConverger("")
		b.auctioneers[0].Kill()
		b.convergers[0].Kill()
		Eventually(standbyAuctioneer.Out, 15*time.Second).Should(gbytes.Say(`"msg":"ready"`))
		Eventually(standbyConverger.Out, 15*time.Second).Should(gbytes.Say(`"msg":"started"`))
		desire("after-failover", 1, serve)
		Eventually(func() map[int32]string { return runningOn("after-failover") }, 60*time.Second).Should(HaveLen(1))
	})

	It("loses nothing when the BBS restarts mid-workload", func() {
		startCell(b, 1)
		const tasks = 6
		for i := range tasks {
			Expect(bbs.DesireTask(ctx, fmt.Sprintf("load-%d", i), "apps", task("", "echo done > /tmp/result", ""))).To(Succeed())
			if i == tasks/2 {
				b.restartBBS()
			}
		}
		desire("survivor", 1, serve)
		b.restartBBS()
		Eventually(func() int {
			done := 0
			for i := range tasks {
				t, err := bbs.TaskByGuid(ctx, fmt.Sprintf("load-%d", i))
				if err == nil && t.State == models.Task_Completed && !t.Failed {
					done++
				}
			}
			return done
		}, 90*time.Second, 250*time.Millisecond).Should(Equal(tasks))
		Eventually(func() map[int32]string { return runningOn("survivor") }, 60*time.Second).Should(HaveLen(1))
		Expect(b.bbs).NotTo(gexec.Exit())
	})
})
