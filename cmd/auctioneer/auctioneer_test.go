package main_test

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"diego/auctioneer"
	"diego/auctioneer/auctionrunner"
	auctioneerconfig "diego/auctioneer/config"
	bbsclient "diego/bbs/client"
	"diego/models"
	"diego/rep"
)

const lockKey = "/diego/v1/locks/auctioneer"

func waitReady(p *auctioneerProcess) {
	GinkgoHelper()
	Eventually(p.session.Out, 20*time.Second).Should(gbytes.Say(`"msg":"ready"`))
}

func postTasks(url string, tasks ...auctioneer.TaskStartRequest) *http.Response {
	GinkgoHelper()
	body, err := json.Marshal(tasks)
	Expect(err).NotTo(HaveOccurred())
	resp, err := http.Post(url+"/v1/tasks", "application/json", bytes.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(resp.Body.Close)
	return resp
}

func task(guid string) auctioneer.TaskStartRequest {
	return auctioneer.TaskStartRequest{Task: rep.Task{
		TaskGuid:            guid,
		Domain:              "d",
		Resource:            rep.NewResource(64, 64, 10),
		PlacementConstraint: rep.NewPlacementConstraint("preloaded:cflinuxfs4", nil, nil),
	}}
}

func listening(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

var _ = Describe("The auctioneer binary", func() {
	var bbsURL string

	BeforeEach(func() {
		Expect(etcd.Reset()).To(Succeed())
		bbsURL = startBBS()
	})

	It("places a task POSTed to /v1/tasks on a cell: the rep receives it in /work", func() {
		cell := newFakeRep("cell-1")
		a := startAuctioneer("a1", bbsURL)
		waitReady(a)

		resp := postTasks(a.url(), task("task-1"))
		Expect(resp.StatusCode).To(Equal(http.StatusAccepted))
		Eventually(cell.taskGuids, 10*time.Second).Should(ConsistOf("task-1"))
	})

	It("advertises itself in the lock value, so a task desired through the BBS reaches the rep", func() {
		cell := newFakeRep("cell-1")
		a := startAuctioneer("a1", bbsURL)
		waitReady(a)

		var presence auctioneer.Presence
		Expect(json.Unmarshal([]byte(getKey(lockKey)), &presence)).To(Succeed())
		Expect(presence).To(Equal(auctioneer.Presence{ID: "a1", Address: a.url()}))

		client, err := bbsclient.New(bbsclient.Config{URL: bbsURL})
		Expect(err).NotTo(HaveOccurred())
		def := &models.TaskDefinition{
			RootFs:   "preloaded:cflinuxfs4",
			MemoryMb: 64,
			Action:   models.WrapAction(&models.RunAction{Path: "/bin/true", User: "vcap"}),
		}
		Expect(client.DesireTask(ctx, "task-via-bbs", "d", def)).To(Succeed())
		Eventually(cell.taskGuids, 10*time.Second).Should(ConsistOf("task-via-bbs"))
	})

	It("rejects a task through the BBS when there are no cells", func() {
		a := startAuctioneer("a1", bbsURL)
		waitReady(a)

		client, err := bbsclient.New(bbsclient.Config{URL: bbsURL})
		Expect(err).NotTo(HaveOccurred())
		def := &models.TaskDefinition{
			RootFs: "preloaded:cflinuxfs4",
			Action: models.WrapAction(&models.RunAction{Path: "/bin/true", User: "vcap"}),
		}
		Expect(client.DesireTask(ctx, "lonely", "d", def)).To(Succeed())
		Eventually(func() string {
			t, err := client.TaskByGuid(ctx, "lonely")
			if err != nil {
				return err.Error()
			}
			return t.GetRejectionReason()
		}, 10*time.Second).Should(Equal(auctionrunner.ErrNoCells))
	})

	It("answers 400 with an error for an unparseable body", func() {
		a := startAuctioneer("a1", bbsURL)
		waitReady(a)
		resp, err := http.Post(a.url()+"/v1/lrps", "application/json", bytes.NewReader([]byte("{")))
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
		var body map[string]string
		Expect(json.NewDecoder(resp.Body).Decode(&body)).To(Succeed())
		Expect(body["error"]).NotTo(BeEmpty())
	})

	It("exits non-zero when it loses the lock", func() {
		a := startAuctioneer("a1", bbsURL)
		waitReady(a)
		deleteKey(lockKey)
		Eventually(a.session, 10*time.Second).Should(gexec.Exit(1))
	})

	It("refuses a bad config with a clear message", func() {
		a := startAuctioneer("bad", bbsURL, func(c *auctioneerconfig.Config) {
			c.AuctionRunnerWorkers, c.LockTTL = 0, 0
		})
		Eventually(a.session, 10*time.Second).Should(gexec.Exit(2))
		Expect(a.session.Err).To(gbytes.Say("lock_ttl must be positive; auction_runner_workers must be positive"))
	})

	Describe("two auctioneers against one etcd", func() {
		It("serves from exactly one, and the other takes over within the lock TTL when it is killed", func() {
			cell := newFakeRep("cell-1")
			first := startAuctioneer("first", bbsURL)
			waitReady(first)
			second := startAuctioneer("second", bbsURL)
			Eventually(second.session.Out, 10*time.Second).Should(gbytes.Say(`"msg":"lock-taken"`))

			// Only the holder serves: the other has not bound its port.
			Consistently(func() bool { return listening(second.addr) }, 2*time.Second, 100*time.Millisecond).Should(BeFalse())
			Expect(listening(first.addr)).To(BeTrue())
			Expect(second.session.Out).NotTo(gbytes.Say(`"msg":"ready"`))
			Expect(getKey(lockKey)).To(ContainSubstring(`"auctioneer_id":"first"`))
			Expect(postTasks(first.url(), task("before")).StatusCode).To(Equal(http.StatusAccepted))
			Eventually(cell.taskGuids, 10*time.Second).Should(ConsistOf("before"))

			first.session.Kill() // SIGKILL: no release; the lease must expire
			killed := time.Now()
			Eventually(first.session, 5*time.Second).Should(gexec.Exit())

			waitReady(second)
			// etcd reaps the lease after its TTL (3 s); allow for the watch
			// and the second's startup.
			Expect(time.Since(killed)).To(BeNumerically("<", 3*time.Second+2*time.Second))
			Expect(getKey(lockKey)).To(ContainSubstring(`"auctioneer_id":"second"`))
			Eventually(func() bool { return listening(second.addr) }, 2*time.Second).Should(BeTrue())

			Expect(postTasks(second.url(), task("after")).StatusCode).To(Equal(http.StatusAccepted))
			Eventually(cell.taskGuids, 10*time.Second).Should(ConsistOf("before", "after"))
		})
	})
})
