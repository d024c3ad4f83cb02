package main_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"diego/auctioneer"
	bbsclient "diego/bbs/client"
	"diego/models"
)

// deleteKey removes a raw etcd key.
func deleteKey(key string) {
	GinkgoHelper()
	c, err := etcd.Client()
	Expect(err).NotTo(HaveOccurred())
	defer c.Close()
	_, err = c.Delete(ctx, key)
	Expect(err).NotTo(HaveOccurred())
}

var _ = Describe("Convergence through the bbs binary", func() {
	var (
		bbs          *bbsProcess
		client       *bbsclient.Client
		lrpAuctions  chan []auctioneer.LRPStartRequest
		taskAuctions chan []auctioneer.TaskStartRequest
	)

	BeforeEach(func() {
		Expect(etcd.Reset()).To(Succeed())
		lrpAuctions, taskAuctions = fakeAuctioneer()
		fakeRep("cell-1")
		bbs = startBBS(false)
		client = newClient(bbs)
	})

	convergeTasks := func() error {
		return client.ConvergeTasks(ctx, 30*time.Second, 30*time.Minute, 2*time.Minute)
	}

	It("fails a task running on a cell that has no presence", func() {
		Expect(client.DesireTask(ctx, "t-gone", "d", taskDef())).To(Succeed())
		Expect(client.DesireTask(ctx, "t-here", "d", taskDef())).To(Succeed())
		Eventually(taskAuctions).Should(Receive())
		_, err := client.StartTask(ctx, "t-gone", "cell-gone")
		Expect(err).NotTo(HaveOccurred())
		_, err = client.StartTask(ctx, "t-here", "cell-1")
		Expect(err).NotTo(HaveOccurred())

		Expect(convergeTasks()).To(Succeed())

		gone, err := client.TaskByGuid(ctx, "t-gone")
		Expect(err).NotTo(HaveOccurred())
		Expect(gone.State).To(Equal(models.Task_Completed))
		Expect(gone.Failed).To(BeTrue())
		Expect(gone.FailureReason).To(Equal("cell disappeared before completion"))
		Expect(gone.CellId).To(BeEmpty())
		here, err := client.TaskByGuid(ctx, "t-here")
		Expect(err).NotTo(HaveOccurred())
		Expect(here.State).To(Equal(models.Task_Running))
		Eventually(bbs.session.Out).Should(gbytes.Say(`"msg":"cell-disappeared","source":"bbs","session":"bbs.converge-tasks"`))
	})

	It("answers InvalidRequest for a task convergence without durations", func() {
		Expect(errType(client.ConvergeTasks(ctx, 0, time.Minute, time.Minute))).To(Equal(models.Error_InvalidRequest))
	})

	It("recreates and auctions a desired instance whose record was removed", func() {
		Expect(client.DesireLRP(ctx, desiredLRP("pg", 2))).To(Succeed())
		Eventually(lrpAuctions).Should(Receive())
		deleteKey("/diego/v1/actual/pg/1/instance")

		Expect(client.ConvergeLRPs(ctx)).To(Succeed())

		var reqs []auctioneer.LRPStartRequest
		Eventually(lrpAuctions).Should(Receive(&reqs))
		Expect(reqs).To(HaveLen(1))
		Expect(reqs[0].ProcessGuid).To(Equal("pg"))
		Expect(reqs[0].Indices).To(Equal([]int{1}))
		lrps, err := client.ActualLRPs(ctx, bbsclient.ActualLRPFilter{ProcessGuid: "pg"})
		Expect(err).NotTo(HaveOccurred())
		Expect(lrps).To(HaveLen(2))
		Expect(lrps[1].State).To(Equal(models.ActualLRPStateUnclaimed))
		Consistently(lrpAuctions, 200*time.Millisecond).ShouldNot(Receive())
	})

	It("replaces an instance running on a vanished cell with a fresh unclaimed one", func() {
		Expect(client.DesireLRP(ctx, desiredLRP("pg", 1))).To(Succeed())
		Eventually(lrpAuctions).Should(Receive())
		Expect(client.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: key("pg", 0),
			ActualLrpInstanceKey: instanceKey("cell-gone"), ActualLrpNetInfo: netInfo()})).To(Succeed())
		before, err := client.ActualLRPs(ctx, bbsclient.ActualLRPFilter{ProcessGuid: "pg"})
		Expect(err).NotTo(HaveOccurred())

		Expect(client.ConvergeLRPs(ctx)).To(Succeed())

		var reqs []auctioneer.LRPStartRequest
		Eventually(lrpAuctions).Should(Receive(&reqs))
		Expect(reqs[0].Indices).To(Equal([]int{0}))
		after, err := client.ActualLRPs(ctx, bbsclient.ActualLRPFilter{ProcessGuid: "pg"})
		Expect(err).NotTo(HaveOccurred())
		Expect(after).To(HaveLen(1))
		Expect(after[0].State).To(Equal(models.ActualLRPStateUnclaimed))
		Expect(after[0].ActualLrpInstanceKey.GetCellId()).To(BeEmpty())
		Expect(after[0].ModificationTag.Epoch).NotTo(Equal(before[0].ModificationTag.Epoch))
	})

	It("retires the actuals of an LRP no longer desired in a fresh domain", func() {
		Expect(client.UpsertDomain(ctx, "apps", 0)).To(Succeed())
		Expect(client.DesireLRP(ctx, desiredLRP("pg", 1))).To(Succeed())
		Eventually(lrpAuctions).Should(Receive())
		deleteKey("/diego/v1/desired_lrp/schedule/pg")

		Expect(client.ConvergeLRPs(ctx)).To(Succeed())

		lrps, err := client.ActualLRPs(ctx, bbsclient.ActualLRPFilter{ProcessGuid: "pg"})
		Expect(err).NotTo(HaveOccurred())
		Expect(lrps).To(BeEmpty())
	})
})
