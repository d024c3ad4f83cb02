package integration_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	bbsclient "diego/bbs/client"
	"diego/models"
)

// A modern desired LRP with a declarative check (spec core §2 CheckDefinition,
// cell §3.8): the rep passes it to the executor, which runs the check in
// place of a monitor, so the instance is RUNNING only once the check passes.
var _ = Describe("A desired LRP with a check_definition", func() {
	var (
		bbs *bbsclient.Client
		ctx = context.Background()
	)

	BeforeEach(func() {
		b := startBrain()
		var err error
		bbs, err = bbsclient.New(bbsclient.Config{URL: b.bbsURL})
		Expect(err).NotTo(HaveOccurred())
		Expect(bbs.UpsertDomain(ctx, "apps", 0)).To(Succeed())
		startCell(b, 1)
		Eventually(func() ([]*models.CellPresence, error) { return bbs.Cells(ctx) }, 20*time.Second).Should(HaveLen(1))
	})

	state := func() (string, error) {
		lrps, err := bbs.ActualLRPs(ctx, bbsclient.ActualLRPFilter{ProcessGuid: "checked"})
		if err != nil || len(lrps) != 1 {
			return "", err
		}
		return lrps[0].State, nil
	}

	It("goes RUNNING only once its tcp check passes", func() {
		desired := time.Now()
		Expect(bbs.DesireLRP(ctx, &models.DesiredLRP{
			ProcessGuid: "checked", Domain: "apps", RootFs: "preloaded:cflinuxfs3", Instances: 1,
			MemoryMb: 64, DiskMb: 64, Ports: []uint32{8080}, LogGuid: "checked", StartTimeoutMs: 60000,
			// Nothing listens on the checked port for the first 6 s.
			Action: models.WrapAction(&models.RunAction{Path: "sh", User: "vcap", Args: []string{"-c",
				"sleep 6; mkdir -p /tmp/www && echo ok > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"}}),
			CheckDefinition: &models.CheckDefinition{Checks: []*models.Check{
				{TcpCheck: &models.TCPCheck{Port: 8080, ConnectTimeoutMs: 500}},
			}},
		})).To(Succeed())

		Eventually(state, 30*time.Second, 100*time.Millisecond).Should(Equal(models.ActualLRPStateClaimed))
		Consistently(state, 3*time.Second, 200*time.Millisecond).Should(Equal(models.ActualLRPStateClaimed),
			"not RUNNING while nothing listens on the checked port")
		Eventually(state, 30*time.Second, 100*time.Millisecond).Should(Equal(models.ActualLRPStateRunning))
		Expect(time.Since(desired)).To(BeNumerically(">=", 6*time.Second), "RUNNING no sooner than the server listens")
	})
})
