package integration_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	bbsclient "diego/bbs/client"
	"diego/models"
	"diego/rep"
	"diego/test/simrep"
)

var _ = Describe("Losing a cell", func() {
	It("runs the lost cell's instances elsewhere within the presence TTL and one pass, never twice", func() {
		b := startBrain()
		ctx := context.Background()
		client, err := bbsclient.New(bbsclient.Config{URL: b.bbsURL})
		Expect(err).NotTo(HaveOccurred())
		Expect(client.UpsertDomain(ctx, "apps", 0)).To(Succeed())

		const presenceTTL = 3 * time.Second
		cells := map[string]*simrep.Rep{}
		for i := 0; i < 3; i++ {
			id := fmt.Sprintf("cell-%d", i)
			r, err := simrep.Start(simrep.Config{
				CellID: id, Zone: fmt.Sprintf("z%d", i%2), ETCDEndpoints: []string{b.etcd.ClientURL()},
				PresenceTTL: presenceTTL, BBS: client,
				Total: rep.Resources{MemoryMB: 4096, DiskMB: 8192, Containers: 50},
			})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(r.Stop)
			cells[id] = r
		}

		Expect(client.DesireLRP(ctx, &models.DesiredLRP{
			ProcessGuid: "web", Domain: "apps", RootFs: "preloaded:cflinuxfs4", Instances: 6, MemoryMb: 128, DiskMb: 128,
			Action: models.WrapAction(&models.RunAction{Path: "/bin/server", User: "vcap"}),
		})).To(Succeed())
		running := func() map[string]string { // index → cell of each RUNNING instance
			lrps, err := client.ActualLRPs(ctx, bbsclient.ActualLRPFilter{ProcessGuid: "web"})
			Expect(err).NotTo(HaveOccurred())
			out := map[string]string{}
			for _, l := range lrps {
				if l.State == models.ActualLRPStateRunning && l.Presence == models.ActualLRP_ORDINARY {
					out[fmt.Sprint(l.ActualLrpKey.Index)] = l.ActualLrpInstanceKey.CellId
				}
			}
			return out
		}
		Eventually(running, 20*time.Second).Should(HaveLen(6))

		var victim string
		for _, cell := range running() {
			victim = cell
			break
		}
		lost := cells[victim].Instances()
		Expect(lost).To(BeNumerically(">", 0))
		cells[victim].Kill()
		killed := time.Now()

		Eventually(func() []string {
			var onVictim []string
			r := running()
			for index, cell := range r {
				if cell == victim {
					onVictim = append(onVictim, index)
				}
			}
			if len(r) < 6 {
				onVictim = append(onVictim, "missing")
			}
			return onVictim
		}, presenceTTL+15*time.Second, 100*time.Millisecond).Should(BeEmpty())
		recovered := time.Since(killed)
		fmt.Fprintf(GinkgoWriter, "lost %d instances; all RUNNING elsewhere %s after the kill\n", lost, recovered)
		// Not before the lease could expire (its last keep-alive is at most a
		// third of the TTL old), and within the TTL plus the converger's pass
		// and the placement it asks for.
		Expect(recovered).To(BeNumerically(">", presenceTTL*2/3))
		Expect(recovered).To(BeNumerically("<", presenceTTL+3*time.Second))

		total := 0
		for id, c := range cells {
			if id != victim {
				total += c.Instances()
			}
		}
		Expect(total).To(Equal(6), "every instance runs exactly once on the live cells")
	})
})
