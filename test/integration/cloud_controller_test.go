package integration_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	ccconfig "diego/ccbridge/cloudcontroller/config"
	fsconfig "diego/ccbridge/fileserver/config"
	"diego/ccbridge/lifecycle/bundle"
	nsyncconfig "diego/ccbridge/nsync/config"
	stagerconfig "diego/ccbridge/stager/config"
	tpsconfig "diego/ccbridge/tps/config"
	"diego/deploy/config"
	metronconfig "diego/metron/agent/config"
	dopplerconfig "diego/metron/doppler/config"
	"diego/models"
	"diego/receptor"
	receptorclient "diego/receptor/client"
	receptorconfig "diego/receptor/config"
	emitterconfig "diego/routeemitter/config"
	routerconfig "diego/routeemitter/router/config"
	"diego/test/cfclient"
	"diego/test/daemontest"
	"diego/test/natsrunner"
	"diego/test/ports"
)

// helloRunSh is the pushed app: the shell buildpack makes run.sh the start
// command; busybox's httpd serves index.html on $PORT.
const helloRunSh = "#!/bin/bash\nexec busybox httpd -f -p \"$PORT\" -h .\n"

// Issue 19: `cf push` through the real Cloud Controller, stager,
// file-server, nsync, TPS, receptor, brain, a real cell and the router,
// with test/cfclient making the cf CLI's calls.
// The cells' daemons send to metron on the default 127.0.0.1:3457, so this
// runs alone (as the logs specs do).
var _ = Describe("The Cloud Controller with the real bridge", Serial, func() {
	var (
		cf         *cfclient.Client
		routerURL  string
		dopplerURL string
		receptors  *receptorclient.Client
		cellID     string
	)
	// operatorToken is the doppler's operator token (docs/decisions.md 103),
	// which `diego logs` sends for log guids that are no CC app.
	const operatorToken = "operator-token"

	BeforeEach(func() {
		ccAddr := ports.Addr()
		ccURL := "http://" + ccAddr
		d := dopplerconfig.DefaultConfig()
		d.ListenAddr, d.IncomingUDPAddr = ports.Addr(), ports.Addr()
		d.SharedSecret = "integration"
		d.AuthMode, d.CCLogAccessURL, d.OperatorToken = "cc", ccURL+"/internal/log_access", operatorToken
		d.DropsondePort = int(ports.Next())
		run("doppler", d, daemontest.Ready)
		dopplerURL = "http://" + d.ListenAddr
		m := metronconfig.DefaultConfig()
		m.DropsondePort = 3457
		m.DopplerAddress, m.SharedSecret, m.Job = d.IncomingUDPAddr, "integration", "cell"
		run("metron", m, daemontest.Ready)

		b := startBrain()
		cellID = startCell(b, 1).id
		rc := receptorconfig.DefaultConfig()
		rc.ListenAddr, rc.BBSAddress = ports.Addr(), b.bbsURL
		run("receptor", rc, daemontest.Ready)
		receptorURL := "http://" + rc.ListenAddr
		api, err := receptorclient.New(receptorclient.Config{URL: receptorURL})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() ([]receptor.CellResponse, error) { return api.Cells(context.Background()) }, 20*time.Second).Should(HaveLen(1))
		receptors = api

		static := GinkgoT().TempDir()
		Expect(bundle.Write(static, binDir, filepath.Join("..", "..", "deploy", "buildpacks"))).To(Succeed())
		fc := fsconfig.DefaultConfig()
		fc.ListenAddr = ports.Addr()
		fc.StaticDirectory = static
		fc.CCJobPollingInterval = config.Duration(100 * time.Millisecond)
		run("file-server", fc, daemontest.Ready)
		fsURL := "http://" + fc.ListenAddr

		const user, password = "internal_user", "internal-secret"

		sc := stagerconfig.DefaultConfig()
		sc.ListenAddr = ports.Addr()
		sc.StagingTaskCallbackURL = "http://" + sc.ListenAddr
		sc.ReceptorAddress = receptorURL
		sc.FileServerURL, sc.CCUploaderURL = fsURL, fsURL
		sc.CCBaseURL, sc.CCBasicAuthUsername, sc.CCBasicAuthPassword = ccURL, user, password
		sc.Lifecycles = []string{"buildpack/cflinuxfs3:" + bundle.LifecyclePath}
		run("stager", sc, daemontest.Ready)

		n := nsyncconfig.DefaultConfig()
		n.ID, n.ListenAddr, n.ReceptorURL = "nsync-cc", ports.Addr(), receptorURL
		n.CCBaseURL, n.CCBasicAuthUsername, n.CCBasicAuthPassword = ccURL, user, password
		n.CCPollingInterval, n.DomainTTL = config.Duration(2*time.Second), config.Duration(10*time.Second)
		n.FileServerURL = fsURL
		n.Lifecycles = []string{"buildpack/cflinuxfs3:" + bundle.LifecyclePath}
		n.ETCD = config.ETCD{Endpoints: []string{b.etcd.ClientURL()}}
		n.LockTTL, n.LockRetryInterval = config.Duration(3*time.Second), config.Duration(time.Second)
		run("nsync", n, `"msg":"ready"`)

		t := tpsconfig.DefaultConfig()
		t.ID, t.ListenAddr, t.ReceptorURL, t.DopplerURL = "tps-cc", ports.Addr(), receptorURL, dopplerURL
		t.CCBaseURL, t.CCBasicAuthUsername, t.CCBasicAuthPassword = ccURL, user, password
		t.ETCD = config.ETCD{Endpoints: []string{b.etcd.ClientURL()}}
		t.LockTTL, t.LockRetryInterval = config.Duration(3*time.Second), config.Duration(time.Second)
		run("tps", t, `"msg":"ready"`)

		nats := natsrunner.New(0)
		proc := ginkgomon_v2.Invoke(nats)
		DeferCleanup(func() { ginkgomon_v2.Interrupt(proc, 5*time.Second) })
		natsAddr := "127.0.0.1:" + strconv.Itoa(int(nats.Port()))
		r := routerconfig.DefaultConfig()
		r.ListenAddr, r.StatusAddress, r.NATSAddresses = ports.Addr(), ports.Addr(), natsAddr
		r.StartResponseDelayInterval = config.Duration(time.Second)
		run("router", r, `"msg":"ready"`)
		routerURL = "http://" + r.ListenAddr
		e := emitterconfig.DefaultConfig()
		e.ID, e.ReceptorURL, e.NATSAddresses = "cc-it", receptorURL, natsAddr
		e.ETCD = config.ETCD{Endpoints: []string{b.etcd.ClientURL()}}
		e.LockTTL, e.LockRetryInterval = config.Duration(3*time.Second), config.Duration(500*time.Millisecond)
		e.HealthcheckAddress = ports.Addr()
		run("route-emitter", e, `"msg":"ready"`)

		cc := ccconfig.DefaultConfig()
		cc.ListenAddr, cc.ExternalURL, cc.InternalURL = ccAddr, ccURL, ccURL
		cc.InternalAPIUser, cc.InternalAPIPassword = user, password
		cc.StateDir = filepath.Join(GinkgoT().TempDir(), "cc")
		cc.TokenSigningSecret = "integration-secret-integration-secret"
		cc.StagerURL, cc.NsyncURL, cc.TPSURL = "http://"+sc.ListenAddr, "http://"+n.ListenAddr, "http://"+t.ListenAddr
		cc.FileServerURL, cc.FileServerStaticDir = fsURL, static
		cc.StagingMemoryMB, cc.StagingDiskMB = 256, 1024
		cc.DefaultAppMemoryMB, cc.DefaultAppDiskMB = 64, 128
		cc.ResourcePoolMinSize = 1 // the example app's small files join the resource cache
		cc.DopplerLoggingEndpoint = "ws" + strings.TrimPrefix(dopplerURL, "http")
		daemontest.Start(binaries["cloud-controller"], cc, `"msg":"ready"`)
		cf = &cfclient.Client{URL: ccURL}
	})

	get := func(host string) (int, string) {
		req, _ := http.NewRequest("GET", routerURL+"/index.html", nil)
		req.Host = host
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(body))
	}

	It("pushes with the shell buildpack, routes, scales, restarts and deletes", func() {
		wait := func(cond func() bool) { Eventually(cond, 90*time.Second, 200*time.Millisecond).Should(BeTrue()) }
		cf.Login("admin", "admin")
		cf.Target("diego", "dev")

		began := time.Now()
		cf.Push("hello", map[string]string{"run.sh": helloRunSh, "index.html": "hello from cf push\n"}, wait)
		took := time.Since(began)
		fmt.Fprintf(GinkgoWriter, "cf push to first RUNNING instance: %s\n", took)
		AddReportEntry("cf push to first RUNNING instance (staging included)", took.String())
		Expect(took).To(BeNumerically("<", 30*time.Second))

		Eventually(func() string { _, body := get("hello.apps.localhost"); return body }, 30*time.Second).Should(Equal("hello from cf push"))

		sum, inst, _ := cf.App("hello")
		Expect(sum["detected_buildpack"]).To(Equal("shell_buildpack"), "-b skips detection: the buildpack key")
		Expect(sum["detected_start_command"]).To(Equal("./run.sh"))
		Expect(inst["0"].(cfclient.Obj)["state"]).To(Equal("RUNNING"))

		By("cf logs --recent: the doppler asks the CC whether the token may read the app")
		Eventually(func() string { return string(cf.RecentLogs(dopplerURL, "hello")) }, 30*time.Second).Should(ContainSubstring("Container became healthy"))
		helloGuid := cfclient.GuidOf(cf.FindApp("hello"))
		recentStatus := func(guid, auth string) int {
			req, _ := http.NewRequest("GET", dopplerURL+"/apps/"+guid+"/recentlogs", nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			return resp.StatusCode
		}
		Expect(recentStatus(helloGuid, "bearer not-a-token")).To(Equal(http.StatusUnauthorized))
		Expect(recentStatus(helloGuid, "")).To(Equal(http.StatusUnauthorized))
		Expect(recentStatus("00000000-0000-0000-0000-000000000000", "bearer "+cf.Token)).To(Equal(http.StatusNotFound), "no such CC app")
		for auth, status := range map[string]int{"": http.StatusUnauthorized, "bearer not-a-token": http.StatusUnauthorized} {
			_, got := cfclient.DialStream(dopplerURL, helloGuid, auth)
			Expect(got).To(Equal(status), "stream with %q", auth)
		}
		_, got := cfclient.DialStream(dopplerURL, "00000000-0000-0000-0000-000000000000", "bearer "+cf.Token)
		Expect(got).To(Equal(http.StatusNotFound))

		By("cf logs: the live tail sees the new instance's lines while cf scale runs")
		tail := cf.Logs(dopplerURL, "hello")
		DeferCleanup(tail.Close)
		cf.Scale("hello", 2)
		Eventually(func() float64 {
			return cf.Apps()[0].(cfclient.Obj)["running_instances"].(float64)
		}, 60*time.Second).Should(BeNumerically("==", 2))
		Eventually(tail.Lines, 30*time.Second).Should(ContainElement(MatchRegexp(`^\[CELL/1\] OUT Container became healthy$`)))
		Expect(tail.Lines()).NotTo(ContainElement(ContainSubstring("[CELL/0] OUT Container became healthy")), "a tail has only what came after it")
		tail.Close()

		cf.Stop("hello")
		Eventually(func() int { s, _ := get("hello.apps.localhost"); return s }, 30*time.Second).Should(Equal(http.StatusNotFound))
		cf.Start("hello", wait)
		Eventually(func() string { _, body := get("hello.apps.localhost"); return body }, 30*time.Second).Should(Equal("hello from cf push"))

		cf.Delete("hello")
		Eventually(func() int { s, _ := get("hello.apps.localhost"); return s }, 30*time.Second).Should(Equal(http.StatusNotFound))

		By("diego push: the same flow for people without the cf CLI, with the staging log tail")
		diego := binaries["diego"]
		example := filepath.Join("..", "..", "deploy", "examples", "app")
		diegoPush := func(args ...string) string {
			GinkgoHelper()
			cmd := exec.Command(diego, append([]string{"push", example, "--name", "hello2"}, args...)...)
			cmd.Env = append(os.Environ(), "DIEGO_CC="+cf.URL, "DIEGO_CC_PASSWORD=admin")
			push, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() { push.Kill().Wait(5 * time.Second) })
			Eventually(push, 90*time.Second).Should(gexec.Exit(0))
			Expect(string(push.Err.Contents())).NotTo(ContainSubstring("Warning"), "the staging tail connects")
			return string(push.Out.Contents())
		}
		out := diegoPush("--buildpack", "shell_buildpack")
		Expect(out).To(ContainSubstring("2 file(s), 1 already on the Cloud Controller, 1 zipped"), "index.html is the cf-pushed one")
		Expect(out).To(MatchRegexp(`(?m)^Downloaded app package \(`), "an STG line")
		Expect(out).To(MatchRegexp(`(?m)^Uploading droplet`), "an STG line")
		Expect(out).To(ContainSubstring("hello2 is running"))
		Eventually(func() string { _, body := get("hello2.apps.localhost"); return body }, 30*time.Second).Should(Equal("hello from cf push"))
		out = diegoPush()
		Expect(out).To(ContainSubstring("2 file(s), 2 already on the Cloud Controller, 0 zipped (0 bytes)"), "a push of the same files uploads none")
		Expect(out).To(ContainSubstring("hello2 is running"))
		Eventually(func() string { _, body := get("hello2.apps.localhost"); return body }, 30*time.Second).Should(Equal("hello from cf push"))
		again, err := gexec.Start(exec.Command(diego, "push", example, "--name", "hello2"), GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(again).Should(gexec.Exit(2), "no password: a usage error")

		By("diego logs: the operator token reads a receptor-level LRP's logs, which no CC token may")
		Expect(receptors.CreateDesiredLRP(context.Background(), receptor.DesiredLRPCreateRequest{
			ProcessGuid: "operator-lrp", Domain: "operator", RootFS: "preloaded:cflinuxfs3", Instances: 1, MemoryMB: 32, DiskMB: 32,
			LogGuid: "operator-lrp", LogSource: "APP",
			Action: &models.Action{RunAction: &models.RunAction{Path: "sh", User: "vcap",
				Args: []string{"-c", "echo the operator reads this; exec sleep 1000"}}},
		})).To(Succeed())
		DeferCleanup(func() { _ = receptors.DeleteDesiredLRP(context.Background(), "operator-lrp") })
		diegoLogs := func(token string) *gexec.Session {
			cmd := exec.Command(diego, "logs", "operator-lrp", "--recent")
			cmd.Env = append(os.Environ(), "DIEGO_DOPPLER="+dopplerURL, "DIEGO_DOPPLER_TOKEN="+token)
			s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() { s.Kill().Wait(5 * time.Second) })
			Eventually(s, 10*time.Second).Should(gexec.Exit())
			return s
		}
		Eventually(func() string { return string(diegoLogs(operatorToken).Out.Contents()) }, 60*time.Second).Should(
			MatchRegexp(`(?m)^\S+ \[APP/0\] OUT the operator reads this$`))
		refused := diegoLogs(cf.Token)
		Expect(refused.ExitCode()).To(Equal(1))
		Expect(string(refused.Err.Contents())).To(ContainSubstring("doppler answered 404"), "a CC token: no such CC app")
		refused = diegoLogs("wrong")
		Expect(refused.ExitCode()).To(Equal(1))
		Expect(string(refused.Err.Contents())).To(ContainSubstring("doppler answered 401"))

		By("a real crash: the process exits, the TPS watcher reports it, cf events shows app.crash")
		created := cf.Must(201, "POST", "/v2/apps?async=true", cfclient.Obj{"name": "crasher", "space_guid": cf.Space,
			"buildpack": "shell_buildpack", "health_check_type": "process"})
		crasher := cfclient.GuidOf(created)
		cf.PushFiles(crasher, map[string]string{"run.sh": "#!/bin/bash\necho going down; exit 3\n"})
		started := cf.Must(201, "PUT", "/v2/apps/"+crasher+"?async=true&inline-relations-depth=1", cfclient.Obj{"state": "STARTED"})
		version := cfclient.Entity(started)["version"].(string)
		var crash cfclient.Obj
		Eventually(func() []any {
			var crashes []any
			for _, e := range cf.Events("crasher") {
				if cfclient.Entity(e.(cfclient.Obj))["type"] == "app.crash" {
					crashes = append(crashes, e)
				}
			}
			return crashes
		}, 90*time.Second, time.Second).ShouldNot(BeEmpty())
		for _, e := range cf.Events("crasher") {
			if cfclient.Entity(e.(cfclient.Obj))["type"] == "app.crash" {
				crash = cfclient.Entity(e.(cfclient.Obj))
				break // newest first: the last crash
			}
		}
		Expect(crash).To(HaveKeyWithValue("actor", crasher))
		Expect(crash).To(HaveKeyWithValue("actor_type", "app"))
		Expect(crash).To(HaveKeyWithValue("actor_name", "crasher"))
		Expect(crash).To(HaveKeyWithValue("actee", crasher))
		Expect(crash).To(HaveKeyWithValue("actee_type", "app"))
		Expect(crash).To(HaveKeyWithValue("actee_name", "crasher"))
		Expect(crash).To(HaveKeyWithValue("space_guid", cf.Space))
		Expect(crash).To(HaveKeyWithValue("organization_guid", cf.Org))
		Expect(crash["timestamp"]).To(MatchRegexp(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`))
		meta := crash["metadata"].(cfclient.Obj)
		Expect(meta).To(HaveKeyWithValue("index", BeNumerically("==", 0)))
		Expect(meta).To(HaveKeyWithValue("reason", "CRASHED"))
		Expect(meta).To(HaveKeyWithValue("exit_description", ContainSubstring("Exited with status 3")))
		Expect(meta).To(HaveKeyWithValue("crash_count", BeNumerically(">=", 1)))
		Expect(meta).To(HaveKeyWithValue("cell_id", cellID))
		Expect(meta).To(HaveKeyWithValue("version", version))
		Expect(meta["instance"]).To(BeAssignableToTypeOf(""))
		Expect(meta["instance"]).NotTo(BeEmpty())
		Expect(meta).To(HaveKey("crash_timestamp"))
		Expect(meta).NotTo(HaveKey("exit_status"), "only when TPS sends it")
		cf.Stop("crasher")
	})
})
