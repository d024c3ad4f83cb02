package main_test

import (
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	"diego/auctioneer"
	bbsclient "diego/bbs/client"
	"diego/models"
)

func desiredLRP(guid string, instances int32) *models.DesiredLRP {
	return &models.DesiredLRP{
		ProcessGuid: guid, Domain: "apps", RootFs: "preloaded:cflinuxfs4", Instances: instances,
		MemoryMb: 128, DiskMb: 256,
		Action: models.WrapAction(&models.RunAction{Path: "/bin/server", User: "vcap"}),
		Routes: &models.ProtoRoutes{Routes: map[string][]byte{"cf-router": []byte(`[{"hostnames":["a.example.com"],"port":8080}]`)}},
	}
}

func key(guid string, index int32) *models.ActualLRPKey {
	return &models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: "apps"}
}

func instanceKey(cell string) *models.ActualLRPInstanceKey {
	return &models.ActualLRPInstanceKey{InstanceGuid: "ig-" + cell, CellId: cell}
}

func netInfo() *models.ActualLRPNetInfo {
	return &models.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61001}}}
}

var _ = Describe("LRPs through the bbs binary", func() {
	var (
		bbs      *bbsProcess
		client   *bbsclient.Client
		auctions chan []auctioneer.LRPStartRequest
		stops    chan string
	)

	BeforeEach(func() {
		Expect(etcd.Reset()).To(Succeed())
		auctions, _ = fakeAuctioneer()
		stops = fakeRep("cell-1", "cell-2")
		bbs = startBBS(false)
		client = newClient(bbs)
	})

	It("desires an LRP: unclaimed instances and one auction for every index", func() {
		Expect(client.DesireLRP(ctx, desiredLRP("pg-1", 3))).To(Succeed())
		var reqs []auctioneer.LRPStartRequest
		Eventually(auctions).Should(Receive(&reqs))
		Expect(reqs).To(HaveLen(1))
		Expect(reqs[0].ProcessGuid).To(Equal("pg-1"))
		Expect(reqs[0].Indices).To(ConsistOf(0, 1, 2))
		Expect(reqs[0].MemoryMB).To(Equal(int32(128)))

		lrps, err := client.ActualLRPs(ctx, bbsclient.ActualLRPFilter{ProcessGuid: "pg-1"})
		Expect(err).NotTo(HaveOccurred())
		Expect(lrps).To(HaveLen(3))
		for _, lrp := range lrps {
			Expect(lrp.State).To(Equal(models.ActualLRPStateUnclaimed))
			Expect(lrp.Presence).To(Equal(models.ActualLRP_ORDINARY))
		}

		d, err := client.DesiredLRPByProcessGuid(ctx, "pg-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(d.Instances).To(Equal(int32(3)))
		Expect(string(d.Routes.Routes["cf-router"])).To(ContainSubstring("a.example.com"))
		Expect(d.ModificationTag.Epoch).NotTo(BeEmpty())
		Expect(errType(client.DesireLRP(ctx, desiredLRP("pg-1", 1)))).To(Equal(models.Error_ResourceExists))

		infos, err := client.DesiredLRPSchedulingInfos(ctx, bbsclient.DesiredLRPFilter{Domain: "apps"})
		Expect(err).NotTo(HaveOccurred())
		Expect(infos).To(HaveLen(1))
		routing, err := client.DesiredLRPRoutingInfos(ctx, bbsclient.DesiredLRPFilter{ProcessGuids: []string{"pg-1"}})
		Expect(err).NotTo(HaveOccurred())
		Expect(routing[0].Action).To(BeNil())
	})

	It("takes an instance through claim, start and crash, restarting it immediately", func() {
		Expect(client.DesireLRP(ctx, desiredLRP("pg-1", 1))).To(Succeed())
		Eventually(auctions).Should(Receive())

		Expect(client.ClaimActualLRP(ctx, key("pg-1", 0), instanceKey("cell-1"))).To(Succeed())
		Expect(client.StartActualLRP(ctx, &models.StartActualLRPRequest{
			ActualLrpKey: key("pg-1", 0), ActualLrpInstanceKey: instanceKey("cell-1"), ActualLrpNetInfo: netInfo(),
		})).To(Succeed())
		group, err := client.ActualLRPGroupByProcessGuidAndIndex(ctx, "pg-1", 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(group.Instance.State).To(Equal(models.ActualLRPStateRunning))
		Expect(group.Instance.ActualLrpNetInfo.Address).To(Equal("10.0.0.1"))

		byCell, err := client.ActualLRPs(ctx, bbsclient.ActualLRPFilter{CellID: "cell-1"})
		Expect(err).NotTo(HaveOccurred())
		Expect(byCell).To(HaveLen(1))

		Expect(client.CrashActualLRP(ctx, key("pg-1", 0), instanceKey("cell-1"), "exited with status 1")).To(Succeed())
		var reqs []auctioneer.LRPStartRequest
		Eventually(auctions).Should(Receive(&reqs), "the first crash restarts at once")
		Expect(reqs[0].Indices).To(Equal([]int{0}))
		group, err = client.ActualLRPGroupByProcessGuidAndIndex(ctx, "pg-1", 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(group.Instance.State).To(Equal(models.ActualLRPStateUnclaimed))
		Expect(group.Instance.CrashCount).To(Equal(int32(1)))
		Expect(group.Instance.CrashReason).To(Equal("exited with status 1"))
	})

	It("gives the spec's lifecycle errors", func() {
		Expect(client.DesireLRP(ctx, desiredLRP("pg-1", 1))).To(Succeed())
		Expect(client.ClaimActualLRP(ctx, key("pg-1", 0), instanceKey("cell-1"))).To(Succeed())
		Expect(errType(client.ClaimActualLRP(ctx, key("pg-1", 0), instanceKey("cell-2")))).To(Equal(models.Error_ActualLRPCannotBeClaimed))
		Expect(errType(client.FailActualLRP(ctx, key("pg-1", 0), "no room"))).To(Equal(models.Error_ActualLRPCannotBeFailed))
		Expect(errType(client.ClaimActualLRP(ctx, key("pg-1", 9), instanceKey("cell-1")))).To(Equal(models.Error_ResourceNotFound))
		Expect(errType(client.RemoveActualLRP(ctx, key("pg-1", 0), instanceKey("cell-2")))).To(Equal(models.Error_ResourceNotFound))
		Expect(client.RemoveActualLRP(ctx, key("pg-1", 0), instanceKey("cell-1"))).To(Succeed())
	})

	It("lets exactly one of 50 racing cells claim an instance", func() {
		Expect(client.DesireLRP(ctx, desiredLRP("pg-1", 1))).To(Succeed())
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			wins   []string
			losses = map[models.Error_Type]int{}
		)
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func(cell string) {
				defer GinkgoRecover()
				defer wg.Done()
				c := newClient(bbs)
				err := c.ClaimActualLRP(ctx, key("pg-1", 0), instanceKey(cell))
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					wins = append(wins, cell)
					return
				}
				losses[models.ConvertError(err).GetType()]++
			}(fmt.Sprintf("cell-%d", i))
		}
		wg.Wait()
		Expect(wins).To(HaveLen(1))
		Expect(losses).To(Equal(map[models.Error_Type]int{models.Error_ActualLRPCannotBeClaimed: 49}))
		group, err := client.ActualLRPGroupByProcessGuidAndIndex(ctx, "pg-1", 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(group.Instance.ActualLrpInstanceKey.CellId).To(Equal(wins[0]))
	})

	It("scales up and down: new indices auctioned, extra ones retired through their rep", func() {
		Expect(client.DesireLRP(ctx, desiredLRP("pg-1", 2))).To(Succeed())
		Eventually(auctions).Should(Receive())
		for i := int32(0); i < 2; i++ {
			cell := fmt.Sprintf("cell-%d", i+1)
			Expect(client.ClaimActualLRP(ctx, key("pg-1", i), instanceKey(cell))).To(Succeed())
			Expect(client.StartActualLRP(ctx, &models.StartActualLRPRequest{
				ActualLrpKey: key("pg-1", i), ActualLrpInstanceKey: instanceKey(cell), ActualLrpNetInfo: netInfo(),
			})).To(Succeed())
		}

		Expect(client.UpdateDesiredLRP(ctx, "pg-1", &models.DesiredLRPUpdate{Instances: proto.Int32(4)})).To(Succeed())
		var reqs []auctioneer.LRPStartRequest
		Eventually(auctions).Should(Receive(&reqs))
		Expect(reqs[0].Indices).To(ConsistOf(2, 3))

		Expect(client.UpdateDesiredLRP(ctx, "pg-1", &models.DesiredLRPUpdate{Instances: proto.Int32(1)})).To(Succeed())
		Eventually(stops).Should(Receive(Equal("/v1/lrps/pg-1/instances/ig-cell-2/stop")), "the running index 1 is stopped by its rep")
		lrps, err := client.ActualLRPs(ctx, bbsclient.ActualLRPFilter{ProcessGuid: "pg-1"})
		Expect(err).NotTo(HaveOccurred())
		Expect(lrps).To(HaveLen(2), "unclaimed indices 2 and 3 are deleted; the rep removes index 1")
	})

	It("removes a desired LRP and retires its instances", func() {
		Expect(client.DesireLRP(ctx, desiredLRP("pg-1", 2))).To(Succeed())
		Expect(client.RemoveDesiredLRP(ctx, "pg-1")).To(Succeed())
		_, err := client.DesiredLRPByProcessGuid(ctx, "pg-1")
		Expect(errType(err)).To(Equal(models.Error_ResourceNotFound))
		lrps, err := client.ActualLRPs(ctx, bbsclient.ActualLRPFilter{ProcessGuid: "pg-1"})
		Expect(err).NotTo(HaveOccurred())
		Expect(lrps).To(BeEmpty())
		Expect(errType(client.RemoveDesiredLRP(ctx, "pg-1"))).To(Equal(models.Error_ResourceNotFound))
	})

	It("evacuates a running instance: the evacuating record stays while a replacement is auctioned", func() {
		Expect(client.DesireLRP(ctx, desiredLRP("pg-1", 1))).To(Succeed())
		Eventually(auctions).Should(Receive())
		Expect(client.ClaimActualLRP(ctx, key("pg-1", 0), instanceKey("cell-1"))).To(Succeed())
		Expect(client.StartActualLRP(ctx, &models.StartActualLRPRequest{
			ActualLrpKey: key("pg-1", 0), ActualLrpInstanceKey: instanceKey("cell-1"), ActualLrpNetInfo: netInfo(),
		})).To(Succeed())

		keep, err := client.EvacuateRunningActualLRP(ctx, &models.EvacuateRunningActualLRPRequest{
			ActualLrpKey: key("pg-1", 0), ActualLrpInstanceKey: instanceKey("cell-1"), ActualLrpNetInfo: netInfo(), Ttl: 60,
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(keep).To(BeTrue())
		var reqs []auctioneer.LRPStartRequest
		Eventually(auctions).Should(Receive(&reqs))
		Expect(reqs[0].Indices).To(Equal([]int{0}))

		group, err := client.ActualLRPGroupByProcessGuidAndIndex(ctx, "pg-1", 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(group.Instance.State).To(Equal(models.ActualLRPStateUnclaimed))
		Expect(group.Evacuating.State).To(Equal(models.ActualLRPStateRunning))
		Expect(group.Evacuating.Presence).To(Equal(models.ActualLRP_EVACUATING))

		Expect(client.RemoveEvacuatingActualLRP(ctx, key("pg-1", 0), instanceKey("cell-1"))).To(Succeed())
		group, err = client.ActualLRPGroupByProcessGuidAndIndex(ctx, "pg-1", 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(group.Evacuating).To(BeNil())
	})

	It("keeps domains fresh for their TTL, and lists cells", func() {
		Expect(client.UpsertDomain(ctx, "apps", 0)).To(Succeed())
		Expect(client.UpsertDomain(ctx, "short", 2*time.Second)).To(Succeed())
		Expect(client.Domains(ctx)).To(ConsistOf("apps", "short"))
		Eventually(func() ([]string, error) { return client.Domains(ctx) }, 10*time.Second).Should(ConsistOf("apps"))
		Expect(errType(client.UpsertDomain(ctx, "", 0))).To(Equal(models.Error_InvalidRequest))

		cells, err := client.Cells(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(cells).To(HaveLen(2))
		Expect(cells[0].Capacity.MemoryMb).To(Equal(int32(1024)))
	})

	It("streams desired and instance events, including crashes", func() {
		source, err := client.SubscribeToInstanceEvents(ctx)
		Expect(err).NotTo(HaveOccurred())
		defer source.Close()
		groups, err := client.SubscribeToEvents(ctx)
		Expect(err).NotTo(HaveOccurred())
		defer groups.Close()

		Expect(client.DesireLRP(ctx, desiredLRP("pg-1", 1))).To(Succeed())
		Expect(client.ClaimActualLRP(ctx, key("pg-1", 0), instanceKey("cell-1"))).To(Succeed())
		Expect(client.CrashActualLRP(ctx, key("pg-1", 0), instanceKey("cell-1"), "oom")).To(Succeed())

		var names []string
		for len(names) < 5 {
			e, err := source.Next()
			Expect(err).NotTo(HaveOccurred())
			names = append(names, e.EventType())
			if created, ok := e.(*models.DesiredLRPCreatedEvent); ok {
				Expect(created.DesiredLrp.Action).NotTo(BeNil(), "assembled with its run info")
			}
			if crashed, ok := e.(*models.ActualLRPCrashedEvent); ok {
				Expect(crashed.ActualLrpInstanceKey.CellId).To(Equal("cell-1"))
				Expect(crashed.CrashReason).To(Equal("oom"))
			}
		}
		Expect(names).To(Equal([]string{
			"desired_lrp_created", "actual_lrp_instance_created", "actual_lrp_instance_changed",
			"actual_lrp_crashed", "actual_lrp_instance_changed",
		}))
		e, err := groups.Next()
		Expect(err).NotTo(HaveOccurred())
		Expect(e.EventType()).To(Equal("desired_lrp_created"))
		e, err = groups.Next()
		Expect(err).NotTo(HaveOccurred())
		Expect(e.EventType()).To(Equal("actual_lrp_created"))
	})
})
