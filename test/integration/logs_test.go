package integration_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	bbsclient "diego/bbs/client"
	metronconfig "diego/metron/agent/config"
	dopplerconfig "diego/metron/doppler/config"
	"diego/models"
	"diego/test/daemontest"
	"diego/test/ports"
)

// The cells' daemons send to metron on the default 127.0.0.1:3457 (the
// suite's cells take no dropsonde setting), so this runs alone.
var _ = Describe("logs and metrics from a real cell", Serial, func() {
	var (
		b       *brain
		bbs     *bbsclient.Client
		env     []string
		ctx     = context.Background()
		ccAsked = make(chan string, 100)
	)

	BeforeEach(func() {
		// A stub cloud controller's log_access: "bearer good" may read
		// everything, any other token is refused (cloud-controller §10.2).
		cc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ccAsked <- r.URL.Path
			if r.Header.Get("Authorization") != "bearer good" {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"code":1000,"description":"Invalid Auth Token","error_code":"CF-InvalidAuthToken"}`))
				return
			}
			_, _ = w.Write([]byte(`{}`))
		}))
		DeferCleanup(cc.Close)

		d := dopplerconfig.DefaultConfig()
		d.ListenAddr, d.IncomingUDPAddr = ports.Addr(), ports.Addr()
		d.SharedSecret = "integration"
		d.AuthMode, d.CCLogAccessURL = "cc", cc.URL+"/internal/log_access"
		d.DropsondePort = int(ports.Next()) // its own metrics go nowhere here
		run("doppler", d, daemontest.Ready)

		m := metronconfig.DefaultConfig()
		m.DropsondePort = 3457
		m.DopplerAddress, m.SharedSecret, m.Job = d.IncomingUDPAddr, "integration", "cell"
		run("metron", m, daemontest.Ready)

		b = startBrain()
		var err error
		bbs, err = bbsclient.New(bbsclient.Config{URL: b.bbsURL})
		Expect(err).NotTo(HaveOccurred())
		Expect(bbs.UpsertDomain(ctx, "apps", 0)).To(Succeed())
		startCell(b, 1)
		Eventually(func() ([]*models.CellPresence, error) { return bbs.Cells(ctx) }, 20*time.Second).Should(HaveLen(1))
		env = []string{"DIEGO_DOPPLER=http://" + d.ListenAddr, "DIEGO_DOPPLER_TOKEN=good", "DIEGO_RECEPTOR=http://127.0.0.1:1"}
	})

	diegoCLI := func(env []string, args ...string) *gexec.Session {
		GinkgoHelper()
		cmd := exec.Command(binaries["diego"], args...)
		cmd.Env = append(os.Environ(), env...)
		s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { s.Kill().Wait(5 * time.Second) })
		return s
	}
	recent := func(guid string) string {
		s := diegoCLI(env, "logs", guid, "--recent")
		Eventually(s, 10*time.Second).Should(gexec.Exit(0))
		return string(s.Out.Contents())
	}

	It("shows a task's and an LRP's output in diego logs, their container metrics in diego top, and refuses what CC refuses", func() {
		By("a task's stdout, as TASK/0")
		Expect(bbs.DesireTask(ctx, "logging-task", "apps", &models.TaskDefinition{
			RootFs: "preloaded:cflinuxfs3", MemoryMb: 32, DiskMb: 32, LogGuid: "logging-task", LogSource: "TASK",
			Action: models.WrapAction(&models.RunAction{Path: "sh", Args: []string{"-c", "echo task says hi"}, User: "vcap"}),
		})).To(Succeed())
		Eventually(func() string { return recent("logging-task") }, 60*time.Second).Should(
			MatchRegexp(`(?m)^\S+ \[TASK/0\] OUT task says hi$`))

		By("an LRP's stdout and stderr, per instance, tailed live")
		tail := diegoCLI(env, "logs", "logging-lrp")
		Eventually(tail.Err, 10*time.Second).Should(gbytes.Say("tailing logs of logging-lrp"))
		Expect(bbs.DesireLRP(ctx, &models.DesiredLRP{
			ProcessGuid: "logging-lrp", Domain: "apps", RootFs: "preloaded:cflinuxfs3", Instances: 2,
			MemoryMb: 64, DiskMb: 64, LogGuid: "logging-lrp", LogSource: "APP", MetricsGuid: "logging-lrp",
			Action: models.WrapAction(&models.RunAction{Path: "sh", User: "vcap", Args: []string{"-c",
				`echo "out from $INSTANCE_INDEX"; echo "err from $INSTANCE_INDEX" >&2; exec sleep 1000`}}),
		})).To(Succeed())
		DeferCleanup(func() { _ = bbs.RemoveDesiredLRP(ctx, "logging-lrp") })
		Eventually(func() string { return string(tail.Out.Contents()) }, 90*time.Second).Should(And(
			MatchRegexp(`(?m)^\S+ \[APP/0\] OUT out from 0$`), MatchRegexp(`(?m)^\S+ \[APP/1\] OUT out from 1$`),
			MatchRegexp(`(?m)^\S+ \[APP/0\] ERR err from 0$`), MatchRegexp(`(?m)^\S+ \[APP/1\] ERR err from 1$`)))
		Expect(recent("logging-lrp")).To(ContainSubstring("[APP/1] ERR err from 1"), "the recent logs have them too")

		By("container metrics per instance in diego top (the executor reports every 15 s)")
		Eventually(func() string {
			s := diegoCLI(env, "top", "--once", "logging-lrp")
			Eventually(s, 10*time.Second).Should(gexec.Exit(0))
			return string(s.Out.Contents())
		}, 60*time.Second, time.Second).Should(And(
			MatchRegexp(`(?m)^logging-lrp\s+0\s+[\d.]+%\s+\S+ of 64.0M\s+\S+ of \S+`),
			MatchRegexp(`(?m)^logging-lrp\s+1\s+[\d.]+%\s+\S+ of 64.0M`)))

		By("the cc auth mode refusing a token the cloud controller refuses")
		for len(ccAsked) > 0 {
			<-ccAsked
		}
		refused := diegoCLI([]string{env[0], "DIEGO_DOPPLER_TOKEN=stolen", env[2]}, "logs", "logging-lrp", "--recent")
		Eventually(refused, 10*time.Second).Should(gexec.Exit(1))
		Expect(refused.Err).To(gbytes.Say("doppler answered 401"))
		Expect(refused.Out.Contents()).To(BeEmpty())
		Expect(ccAsked).To(Receive(Equal("/internal/log_access/logging-lrp")))
		noToken := diegoCLI([]string{env[0], env[2]}, "top", "--once", "logging-lrp")
		Eventually(noToken, 10*time.Second).Should(gexec.Exit(1))
		Expect(strings.Contains(string(noToken.Err.Contents()), "401")).To(BeTrue())
	})
})
