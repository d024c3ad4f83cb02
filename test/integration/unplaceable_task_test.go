package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	bbsclient "diego/bbs/client"
	convergerconfig "diego/converger/config"
	"diego/deploy/config"
	"diego/models"
	"diego/rep"
	"diego/test/simrep"
)

// A task that fits no cell (spec core §5.4, §5.6; docs/converger.md): the
// real BBS, auctioneer and converger, one simulated cell too small for it.
// Every convergence pass auctions every rejected pending task, so the task
// uses its max_task_retries rejections at the convergence cadence, then
// fails with the placement error and its completion callback is called.
var _ = Describe("A task that fits no cell", func() {
	const cellMemoryMB = 256

	var (
		b           *brain
		client      *bbsclient.Client
		callbacks   chan models.TaskCallbackResponse
		callbackURL string
		ctx         = context.Background()
	)

	BeforeEach(func() {
		b = startBrain()
		var err error
		client, err = bbsclient.New(bbsclient.Config{URL: b.bbsURL})
		Expect(err).NotTo(HaveOccurred())

		cell, err := simrep.Start(simrep.Config{
			CellID: "cell_z1-0", Zone: "z1", ETCDEndpoints: []string{b.etcd.ClientURL()},
			PresenceTTL: 5 * time.Second, BBS: client,
			Total: rep.Resources{MemoryMB: cellMemoryMB, DiskMB: 8192, Containers: 10},
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(cell.Stop)

		callbacks = make(chan models.TaskCallbackResponse, 10)
		server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var cb models.TaskCallbackResponse
			if err := json.NewDecoder(r.Body).Decode(&cb); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			callbacks <- cb
		}))
		DeferCleanup(server.Close)
		callbackURL = server.URL + "/done"
	})

	desire := func(guid string) time.Time {
		GinkgoHelper()
		Expect(client.DesireTask(ctx, guid, "tests", &models.TaskDefinition{
			RootFs: "preloaded:cflinuxfs4", MemoryMb: 4 * cellMemoryMB, DiskMb: 64,
			Action:                models.WrapAction(&models.RunAction{Path: "/bin/true", User: "vcap"}),
			CompletionCallbackUrl: callbackURL,
		})).To(Succeed())
		return time.Now()
	}

	It("fails at the first rejection, within seconds, with max_task_retries 0, and calls back", func() {
		b.bbsConfig.MaxTaskRetries = 0
		b.restartBBS()

		desired := desire("too-big-0")
		var cb models.TaskCallbackResponse
		Eventually(callbacks, 10*time.Second).Should(Receive(&cb))
		took := time.Since(desired)
		Expect(cb.TaskGuid).To(Equal("too-big-0"))
		Expect(cb.Failed).To(BeTrue())
		Expect(cb.FailureReason).To(Equal("insufficient resources: memory"))
		fmt.Fprintf(GinkgoWriter, "max_task_retries 0: failed and called back %s after being desired\n", took)
		// The converger's first pass is 30 s away: only the desire's own
		// auction can have failed it.
		Expect(took).To(BeNumerically("<", 10*time.Second))
	})

	It("fails after max_task_retries + 1 rejections, one per convergence pass, and calls back", func() {
		const (
			retries  = 3 // the BBS's default max_task_retries
			interval = 2 * time.Second
		)
		// Swap the brain's converger for one with a short repeat interval.
		old := b.convergers[0]
		old.Interrupt()
		Eventually(old, 10*time.Second).Should(gexec.Exit())
		b.startConverger(`"msg":"started"`, func(c *convergerconfig.Config) {
			c.ConvergeRepeatInterval = config.Duration(interval)
		})

		desired := desire("too-big-3")
		// Watch the rejections go up, one per pass.
		seen := map[int32]time.Duration{}
		var cb models.TaskCallbackResponse
		Eventually(func(g Gomega) {
			if t, err := client.TaskByGuid(ctx, "too-big-3"); err == nil {
				if _, ok := seen[t.RejectionCount]; !ok {
					seen[t.RejectionCount] = time.Since(desired)
				}
			}
			g.Expect(callbacks).To(Receive(&cb))
		}, time.Duration(retries)*interval+10*time.Second, 50*time.Millisecond).Should(Succeed())
		took := time.Since(desired)
		fmt.Fprintf(GinkgoWriter, "max_task_retries %d at a %s cadence: failed and called back %s after being desired; rejection counts first seen at %v\n",
			retries, interval, took, seen)

		Expect(cb.TaskGuid).To(Equal("too-big-3"))
		Expect(cb.Failed).To(BeTrue())
		Expect(cb.FailureReason).To(Equal("insufficient resources: memory"))
		// The first rejection follows the desire; each later one needs a
		// pass, and passes are at least one interval apart.
		Expect(took).To(BeNumerically(">=", time.Duration(retries-1)*interval))
		Expect(took).To(BeNumerically("<", time.Duration(retries)*interval+10*time.Second))
		Expect(seen).To(HaveKey(int32(retries)), "the last rejection before failing is the %dth", retries+1)

		// The callback worker resolves and deletes the delivered task.
		Eventually(func() error {
			_, err := client.TaskByGuid(ctx, "too-big-3")
			return err
		}, 10*time.Second).Should(MatchError(models.ErrResourceNotFound))
	})
})
