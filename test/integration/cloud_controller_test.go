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
	)

	BeforeEach(func() {
		ccAddr := ports.Addr()
		ccURL := "http://" + ccAddr
		d := dopplerconfig.DefaultConfig()
		d.ListenAddr, d.IncomingUDPAddr = ports.Addr(), ports.Addr()
		d.SharedSecret = "integration"
		d.AuthMode, d.CCLogAccessURL = "cc", ccURL+"/internal/log_access"
		d.DropsondePort = int(ports.Next())
		run("doppler", d, daemontest.Ready)
		dopplerURL = "http://" + d.ListenAddr
		m := metronconfig.DefaultConfig()
		m.DropsondePort = 3457
		m.DopplerAddress, m.SharedSecret, m.Job = d.IncomingUDPAddr, "integration", "cell"
		run("metron", m, daemontest.Ready)

		b := startBrain()
		startCell(b, 1)
		rc := receptorconfig.DefaultConfig()
		rc.ListenAddr, rc.BBSAddress = ports.Addr(), b.bbsURL
		run("receptor", rc, daemontest.Ready)
		receptorURL := "http://" + rc.ListenAddr
		api, err := receptorclient.New(receptorclient.Config{URL: receptorURL})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() ([]receptor.CellResponse, error) { return api.Cells(context.Background()) }, 20*time.Second).Should(HaveLen(1))

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
		req, _ := http.NewRequest("GET", dopplerURL+"/apps/"+cfclient.GuidOf(cf.FindApp("hello"))+"/recentlogs", nil)
		req.Header.Set("Authorization", "bearer not-a-token")
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized))

		cf.Scale("hello", 2)
		Eventually(func() float64 {
			return cf.Apps()[0].(cfclient.Obj)["running_instances"].(float64)
		}, 60*time.Second).Should(BeNumerically("==", 2))

		cf.Stop("hello")
		Eventually(func() int { s, _ := get("hello.apps.localhost"); return s }, 30*time.Second).Should(Equal(http.StatusNotFound))
		cf.Start("hello", wait)
		Eventually(func() string { _, body := get("hello.apps.localhost"); return body }, 30*time.Second).Should(Equal("hello from cf push"))

		cf.Delete("hello")
		Eventually(func() int { s, _ := get("hello.apps.localhost"); return s }, 30*time.Second).Should(Equal(http.StatusNotFound))

		By("diego push: the same flow for people without the cf CLI")
		diego := binaries["diego"]
		cmd := exec.Command(diego, "push", filepath.Join("..", "..", "deploy", "examples", "app"), "--name", "hello2", "--buildpack", "shell_buildpack")
		cmd.Env = append(os.Environ(), "DIEGO_CC="+cf.URL, "DIEGO_CC_PASSWORD=admin")
		push, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(push, 90*time.Second).Should(gexec.Exit(0))
		Expect(string(push.Out.Contents())).To(ContainSubstring("hello2 is running"))
		Eventually(func() string { _, body := get("hello2.apps.localhost"); return body }, 30*time.Second).Should(Equal("hello from cf push"))
		again, err := gexec.Start(exec.Command(diego, "push", filepath.Join("..", "..", "deploy", "examples", "app"), "--name", "hello2"), GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(again).Should(gexec.Exit(2), "no password: a usage error")
	})
})
