package integration_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	bbsclient "diego/bbs/client"
	gardenconfig "diego/garden/config"
	"diego/models"
)

// Egress as diego-release configures garden, and as the local cluster
// does (deploy/local): deny_networks 0.0.0.0/0 and no host access, so a
// container reaches only what its egress rules allow (spec cell §2.10,
// §7.2 item 5).
var _ = Describe("Closed egress", func() {
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
		startCell(b, 1, func(garden *gardenconfig.Config) {
			garden.DenyNetworks = []string{"0.0.0.0/0"}
			garden.AllowHostAccess = false
		})
		Eventually(func() ([]*models.CellPresence, error) { return bbs.Cells(ctx) }, 20*time.Second).Should(HaveLen(1))
	})

	// fetch runs a task that fetches url with the given egress rules and
	// returns its result: "REACHED" and the page, or "BLOCKED" and wget's
	// error. (busybox-static's wget -T crashes: timeout bounds it instead.)
	fetch := func(guid, url string, rules ...*models.SecurityGroupRule) string {
		GinkgoHelper()
		script := fmt.Sprintf("if timeout 10 wget -q -O /tmp/page %s 2>/tmp/err; then echo REACHED; cat /tmp/page; "+
			"else echo BLOCKED; cat /tmp/err; fi > /tmp/result", url)
		Expect(bbs.DesireTask(ctx, guid, "apps", &models.TaskDefinition{
			RootFs: "preloaded:cflinuxfs3", MemoryMb: 32, DiskMb: 32, ResultFile: "/tmp/result", EgressRules: rules,
			Action: models.WrapAction(&models.RunAction{Path: "sh", Args: []string{"-c", script}, User: "vcap"}),
		})).To(Succeed())
		var task *models.Task
		Eventually(func() (models.Task_State, error) {
			var err error
			task, err = bbs.TaskByGuid(ctx, guid)
			if err != nil {
				return 0, err
			}
			return task.State, nil
		}, 60*time.Second).Should(Equal(models.Task_Completed))
		Expect(task.Failed).To(BeFalse(), task.FailureReason)
		return task.Result
	}

	It("blocks a container with no egress rules from another instance's host port, and an egress rule opens it", func() {
		Expect(bbs.DesireLRP(ctx, &models.DesiredLRP{
			ProcessGuid: "server", Domain: "apps", RootFs: "preloaded:cflinuxfs3", Instances: 1,
			MemoryMb: 64, DiskMb: 64, Ports: []uint32{8080}, LogGuid: "server",
			Action: models.WrapAction(&models.RunAction{Path: "sh", User: "vcap", Args: []string{"-c",
				"mkdir -p /tmp/www && echo hello from the server > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"}}),
		})).To(Succeed())
		var server *models.ActualLRP
		Eventually(func() (string, error) {
			lrps, err := bbs.ActualLRPs(ctx, bbsclient.ActualLRPFilter{ProcessGuid: "server"})
			if err != nil || len(lrps) != 1 {
				return "", err
			}
			server = lrps[0]
			return server.State, nil
		}, 60*time.Second).Should(Equal(models.ActualLRPStateRunning))
		net := server.ActualLrpNetInfo
		url := fmt.Sprintf("http://%s:%d/index.html", net.Address, net.Ports[0].HostPort)

		By("serving the host: the instance is up at " + url)
		Eventually(func() (int, error) {
			resp, err := http.Get(url)
			if err != nil {
				return 0, err
			}
			resp.Body.Close()
			return resp.StatusCode, nil
		}, 20*time.Second).Should(Equal(http.StatusOK))

		By("refusing a container with no egress rules")
		// garden's deny rule rejects with icmp-port-unreachable.
		blocked := "BLOCKED\nwget: can't connect to remote host (" + net.Address + "): Connection refused\n"
		Expect(fetch("no-rules", url)).To(Equal(blocked))

		By("refusing a container whose rule names another port")
		Expect(fetch("other-port", url, &models.SecurityGroupRule{
			Protocol: "tcp", Destinations: []string{net.InstanceAddress}, Ports: []uint32{9999},
		})).To(Equal(blocked))

		// The cells of one host share its network stack: the connection to
		// the host port is DNATed to the instance before garden's egress
		// filter sees it, so the rule names the instance's address and
		// container port (on separate cell VMs it would name the cell's).
		By("letting through a container whose egress rule allows the instance")
		result := fetch("allowed", url, &models.SecurityGroupRule{
			Protocol: "tcp", Destinations: []string{net.InstanceAddress}, Ports: []uint32{8080},
		})
		Expect(result).To(Equal("REACHED\nhello from the server\n"))

		By("and a rule for everything on tcp opens it too")
		Expect(fetch("all-tcp", url, &models.SecurityGroupRule{
			Protocol: "tcp", Destinations: []string{"0.0.0.0/0"}, PortRange: &models.PortRange{Start: 1, End: 65535},
		})).To(Equal("REACHED\nhello from the server\n"))
	})
})
