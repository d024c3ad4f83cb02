package integration_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	"diego/ccbridge/ccclient"
	fsconfig "diego/ccbridge/fileserver/config"
	"diego/ccbridge/lifecycle/bundle"
	nsyncconfig "diego/ccbridge/nsync/config"
	"diego/ccbridge/stager"
	stagerconfig "diego/ccbridge/stager/config"
	"diego/ccbridge/standincc"
	"diego/ccbridge/tps"
	tpsconfig "diego/ccbridge/tps/config"
	"diego/deploy/config"
	"diego/garden"
	gardenclient "diego/garden/client"
	metronconfig "diego/metron/agent/config"
	dopplerconfig "diego/metron/doppler/config"
	"diego/models"
	receptorclient "diego/receptor/client"
	receptorconfig "diego/receptor/config"
	emitterconfig "diego/routeemitter/config"
	routerconfig "diego/routeemitter/router/config"
	"diego/test/daemontest"
	"diego/test/natsrunner"
	"diego/test/ports"
	"diego/test/stagingcc"
)

// Issue 18's acceptance through the real binaries, as a Cloud Controller
// drives them: stage with the binary buildpack, desire the droplet through
// nsync, reach the app through the router, read its instances and stats
// from TPS (metrics from the real executor → metron → doppler), see a
// crash reported, and let the bulker follow the CC's list. One stand-in CC
// (test/stagingcc with ccbridge/standincc behind it) plays every CC part.
// The cells send to metron on the default 127.0.0.1:3457, so this runs
// alone, like the logs spec.
var _ = Describe("CC bridge end to end", Serial, func() {
	const (
		appGuid     = "e2e0a11c-0000-4000-8000-000000000018"
		processGuid = appGuid + "-7c1f3b2a-5d4e-4f60-9a8b-1c2d3e4f5a6b"
		hostname    = "hello.e2e.localhost"
		user, pass  = "internal", "secret"
		dopplerAuth = "bearer tps-token"
	)
	var (
		ctx        = context.Background()
		cc         *stagingcc.CC
		apps       *standincc.CC
		rc         *receptorclient.Client
		stagerURL  string
		fsURL      string
		nsyncURL   string
		tpsURL     string
		routerURL  string
		gardenAddr string
	)

	BeforeEach(func() {
		By("a doppler (token auth) and the metron every cell sends to")
		d := dopplerconfig.DefaultConfig()
		d.ListenAddr, d.IncomingUDPAddr = ports.Addr(), ports.Addr()
		d.SharedSecret = "e2e"
		d.AuthMode, d.AuthToken = "token", "tps-token"
		d.DropsondePort = int(ports.Next())
		run("doppler", d, daemontest.Ready)
		m := metronconfig.DefaultConfig()
		m.DropsondePort = 3457
		m.DopplerAddress, m.SharedSecret, m.Job = d.IncomingUDPAddr, "e2e", "cell"
		run("metron", m, daemontest.Ready)

		By("a brain, a cell and the receptor")
		b := startBrain()
		gardenAddr = startCell(b, 1).garden
		r := receptorconfig.DefaultConfig()
		r.ListenAddr, r.BBSAddress = ports.Addr(), b.bbsURL
		run("receptor", r, `"msg":"ready"`)
		receptorURL := "http://" + r.ListenAddr
		var err error
		rc, err = receptorclient.New(receptorclient.Config{URL: receptorURL})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() (int, error) { cells, err := rc.Cells(ctx); return len(cells), err }, 20*time.Second).Should(Equal(1))
		etcd := config.ETCD{Endpoints: []string{b.etcd.ClientURL()}}

		By("the file-server with the lifecycle bundle and the buildpacks")
		static := GinkgoT().TempDir()
		Expect(bundle.Write(static, binDir, filepath.Join("..", "..", "deploy", "buildpacks"))).To(Succeed())
		fc := fsconfig.DefaultConfig()
		fc.ListenAddr = ports.Addr()
		fc.StaticDirectory = static
		fc.CCJobPollingInterval = config.Duration(100 * time.Millisecond)
		run("file-server", fc, daemontest.Ready)
		fsURL = "http://" + fc.ListenAddr

		By("one stand-in CC: the staging blobs and callbacks, and the app API")
		cc = stagingcc.New(user, pass)
		DeferCleanup(cc.Close)
		apps = standincc.New(user, pass)
		cc.SetFallback(apps.Handler())
		Expect(cc.SetApp(appGuid, map[string]stagingcc.File{
			"app-binary":             {Body: appBinary, Mode: 0o755},
			".profile.d/greeting.sh": {Body: "export GREETING=hello\n"},
		})).To(Succeed())

		By("the stager, nsync and TPS")
		sc := stagerconfig.DefaultConfig()
		sc.ListenAddr = ports.Addr()
		stagerURL = "http://" + sc.ListenAddr
		sc.StagingTaskCallbackURL = stagerURL
		sc.ReceptorAddress = receptorURL
		sc.FileServerURL, sc.CCUploaderURL = fsURL, fsURL
		sc.CCBaseURL = cc.Server.URL
		sc.CCBasicAuthUsername, sc.CCBasicAuthPassword = user, pass
		sc.Lifecycles = []string{"buildpack/cflinuxfs3:" + bundle.LifecyclePath}
		run("stager", sc, daemontest.Ready)

		n := nsyncconfig.DefaultConfig()
		n.ID, n.ListenAddr, n.ReceptorURL = "nsync-e2e", ports.Addr(), receptorURL
		n.CCBaseURL, n.CCBasicAuthUsername, n.CCBasicAuthPassword = cc.Server.URL, user, pass
		n.CCPollingInterval, n.DomainTTL = config.Duration(time.Second), config.Duration(5*time.Second)
		n.Lifecycles = []string{"buildpack/cflinuxfs3:" + bundle.LifecyclePath}
		n.FileServerURL = fsURL
		n.ETCD = etcd
		n.LockTTL, n.LockRetryInterval = config.Duration(3*time.Second), config.Duration(time.Second)
		run("nsync", n, `"msg":"ready"`)
		nsyncURL = "http://" + n.ListenAddr

		t := tpsconfig.DefaultConfig()
		t.ID, t.ListenAddr, t.ReceptorURL, t.DopplerURL = "tps-e2e", ports.Addr(), receptorURL, "http://"+d.ListenAddr
		t.CCBaseURL, t.CCBasicAuthUsername, t.CCBasicAuthPassword = cc.Server.URL, user, pass
		t.ETCD = etcd
		t.LockTTL, t.LockRetryInterval = config.Duration(3*time.Second), config.Duration(time.Second)
		s := run("tps", t, `"msg":"ready"`)
		Eventually(s.Out, 10*time.Second).Should(gbytes.Say(`"msg":"subscribed"`))
		tpsURL = "http://" + t.ListenAddr

		By("NATS, the router and the route-emitter")
		nats := natsrunner.New(0)
		proc := ginkgomon_v2.Invoke(nats)
		DeferCleanup(func() { ginkgomon_v2.Interrupt(proc, 5*time.Second) })
		natsAddr := "127.0.0.1:" + strconv.Itoa(int(nats.Port()))
		rt := routerconfig.DefaultConfig()
		rt.ListenAddr, rt.StatusAddress, rt.NATSAddresses = ports.Addr(), ports.Addr(), natsAddr
		rt.StartResponseDelayInterval = config.Duration(time.Second)
		run("router", rt, `"msg":"ready"`)
		routerURL = "http://" + rt.ListenAddr
		e := emitterconfig.DefaultConfig()
		e.ID, e.ReceptorURL, e.NATSAddresses = "e2e", receptorURL, natsAddr
		e.ETCD = etcd
		e.LockTTL, e.LockRetryInterval = config.Duration(3*time.Second), config.Duration(500*time.Millisecond)
		e.SyncInterval = config.Duration(5 * time.Second)
		e.HealthcheckAddress = ports.Addr()
		run("route-emitter", e, `"msg":"ready"`)
	})

	// throughRouter asks the router for the app's route.
	throughRouter := func() (int, string) {
		req, _ := http.NewRequest("GET", routerURL+"/", nil)
		req.Host = hostname
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	tpsGet := func(path, authorization string) []tps.LRPInstance {
		GinkgoHelper()
		req, err := http.NewRequest("GET", tpsURL+path, nil)
		Expect(err).NotTo(HaveOccurred())
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		var out []tps.LRPInstance
		Expect(json.NewDecoder(resp.Body).Decode(&out)).To(Succeed())
		return out
	}
	states := func() []string {
		var out []string
		for _, i := range tpsGet("/v1/actual_lrps/"+processGuid, "") {
			out = append(out, i.State)
		}
		return out
	}
	put := func(url string, body []byte) int {
		GinkgoHelper()
		req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		return resp.StatusCode
	}

	It("stages, desires, routes, reports, and follows the CC's list", func() {
		By("staging with the binary buildpack: the droplet reaches CC through the file-server")
		stagingGuid := appGuid + "-e2e-staging"
		data, err := json.Marshal(stager.BuildpackStagingData{
			AppBitsDownloadUri:           cc.URL() + "/staging/apps/" + appGuid,
			DropletUploadUri:             cc.URL() + "/staging/droplets/" + appGuid + "/upload",
			BuildArtifactsCacheUploadUri: cc.URL() + "/staging/buildpack_cache/" + appGuid + "/upload",
			Buildpacks: []stager.Buildpack{{Name: "binary", Key: "binary_buildpack",
				Url: fsURL + "/v1/static/buildpacks/binary.zip"}},
			Stack: "cflinuxfs3",
		})
		Expect(err).NotTo(HaveOccurred())
		raw := json.RawMessage(data)
		stagingReq, err := json.Marshal(stager.StagingRequestFromCC{
			AppId: appGuid, LogGuid: appGuid, MemoryMB: 128, DiskMB: 256, FileDescriptors: 1024, Timeout: 120,
			Lifecycle: "buildpack", LifecycleData: &raw,
			CompletionCallback: cc.Server.URL + "/internal/staging/" + stagingGuid + "/completed",
		})
		Expect(err).NotTo(HaveOccurred())
		started := time.Now()
		Expect(put(stagerURL+"/v1/staging/"+stagingGuid, stagingReq)).To(Equal(http.StatusAccepted))
		var response stager.StagingResponseForCC
		Eventually(func() bool {
			for _, c := range cc.Completions() {
				if c.StagingGuid == stagingGuid {
					Expect(json.Unmarshal(c.Body, &response)).To(Succeed())
					return true
				}
			}
			return false
		}, 60*time.Second, 100*time.Millisecond).Should(BeTrue())
		staged := time.Since(started)
		Expect(response.Error).To(BeNil())
		Expect(response.Result).NotTo(BeNil())
		var result struct {
			ProcessTypes map[string]string `json:"process_types"`
		}
		Expect(json.Unmarshal(*response.Result, &result)).To(Succeed())
		Expect(result.ProcessTypes).To(HaveKeyWithValue("web", "./app-binary"))
		droplet, ok := cc.Droplet(appGuid)
		Expect(ok).To(BeTrue(), "the droplet reached CC")

		By("desiring it through nsync, as CC does once staging succeeded, with the droplet CC serves")
		app := ccclient.DesireAppRequestFromCC{
			ProcessGuid: processGuid, Stack: "cflinuxfs3", StartCommand: result.ProcessTypes["web"],
			DropletUri: cc.URL() + "/staging/droplets/" + appGuid + "/download", DropletHash: droplet.SHA1,
			Environment: []*models.EnvironmentVariable{{Name: "VCAP_APPLICATION", Value: `{"application_name":"hello"}`}},
			MemoryMB:    64, DiskMB: 128, FileDescriptors: 1024, NumInstances: 1, LogGuid: appGuid,
			RoutingInfo:     ccclient.CCRouteInfo{HTTPRoutes: []ccclient.CCHTTPRoute{{Hostname: hostname}}},
			HealthCheckType: "port", HealthCheckTimeoutInSeconds: 60, ETag: "1.0",
		}
		apps.SetApp(app)
		desire, err := json.Marshal(app)
		Expect(err).NotTo(HaveOccurred())
		Expect(put(nsyncURL+"/v1/apps/"+processGuid, desire)).To(Equal(http.StatusAccepted))

		By("the real launcher runs it, and the router reaches it by its route")
		Eventually(func() string {
			code, body := throughRouter()
			return fmt.Sprintf("%d %s", code, body)
		}, 90*time.Second, 100*time.Millisecond).Should(Equal("200 hello from /home/vcap/app\n"))
		firstAnswer := time.Since(started)
		AddReportEntry("e2e: staging PUT to staging completion", staged.String())
		AddReportEntry("e2e: staging PUT to the first answer through the router", firstAnswer.String())
		fmt.Fprintf(GinkgoWriter, "staging %s, first answer through the router %s after the staging PUT\n", staged, firstAnswer)

		By("TPS reports the instance RUNNING, with doppler's container metrics")
		Expect(states()).To(Equal([]string{"RUNNING"}))
		var running tps.LRPInstance
		Eventually(func() *tps.InstanceStats {
			list := tpsGet("/v1/actual_lrps/"+processGuid+"/stats", dopplerAuth)
			if len(list) != 1 {
				return nil
			}
			running = list[0]
			return running.Stats
		}, 60*time.Second, time.Second).Should(And(Not(BeNil()),
			HaveField("Mem", BeNumerically(">", 0)), HaveField("Disk", BeNumerically(">", 0)),
			HaveField("CPU", BeNumerically(">=", 0))), "the executor reports metrics every 15 s")
		Expect(running.State).To(Equal("RUNNING"))
		Expect(running.Index).To(BeZero())
		Expect(running.Host).NotTo(BeEmpty())
		Expect(running.Port).NotTo(BeZero())
		Expect(running.NetInfo.Ports).To(ContainElement(HaveField("ContainerPort", uint32(8080))))
		Expect(running.Stats.Mem).To(BeNumerically("<=", uint64(64<<20)), "within the app's memory limit")

		By("a killed instance is reported to CC as crashed by the TPS watcher, and restarts")
		container, err := gardenclient.New("tcp", gardenAddr).Lookup(running.InstanceGuid)
		Expect(err).NotTo(HaveOccurred())
		killer, err := container.Run(garden.ProcessSpec{Path: "sh", Args: []string{"-c", "killall -9 httpd"}, User: "root"}, garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		Expect(killer.Wait()).To(BeZero(), "httpd was running in the container")
		crashes := func() []standincc.Report {
			var out []standincc.Report
			for _, r := range apps.Reports() {
				if r.Route == ccclient.AppCrashedRoute {
					out = append(out, r)
				}
			}
			return out
		}
		Eventually(crashes, 60*time.Second).Should(HaveLen(1))
		report := crashes()[0]
		Expect(report.ProcessGuid).To(Equal(processGuid))
		var crash ccclient.AppCrashedRequest
		Expect(json.Unmarshal(report.Body, &crash)).To(Succeed())
		Expect(crash.Instance).To(Equal(running.InstanceGuid))
		Expect(crash.Index).To(Equal(0))
		Expect(crash.Reason).To(Equal("CRASHED"))
		Expect(crash.CrashCount).To(Equal(1))
		Expect(crash.CellID).NotTo(BeEmpty())
		Expect(crash.ExitDescription).NotTo(BeEmpty())
		Eventually(func() string { code, body := throughRouter(); return fmt.Sprintf("%d %s", code, body) }, 90*time.Second, 200*time.Millisecond).
			Should(Equal("200 hello from /home/vcap/app\n"), "the first crash restarts at once")

		By("the bulker restores an app deleted behind CC's back")
		Expect(rc.DeleteDesiredLRP(ctx, processGuid)).To(Succeed())
		Eventually(func() error { _, err := rc.GetDesiredLRP(ctx, processGuid); return err }, 20*time.Second, 100*time.Millisecond).Should(Succeed())
		Eventually(states, 90*time.Second).Should(Equal([]string{"RUNNING"}))

		By("a scale through nsync's desire route updates the LRP in place")
		app.NumInstances, app.ETag = 2, "2.0"
		apps.SetApp(app)
		desire, err = json.Marshal(app)
		Expect(err).NotTo(HaveOccurred())
		Expect(put(nsyncURL+"/v1/apps/"+processGuid, desire)).To(Equal(http.StatusAccepted))
		Eventually(states, 90*time.Second).Should(Equal([]string{"RUNNING", "RUNNING"}))
		lrp, err := rc.GetDesiredLRP(ctx, processGuid)
		Expect(err).NotTo(HaveOccurred())
		Expect(lrp.Annotation).To(Equal("2.0"), "the CC's etag")

		By("the bulker deletes an app CC no longer lists; its route goes")
		apps.RemoveApp(processGuid)
		Eventually(func() error { _, err := rc.GetDesiredLRP(ctx, processGuid); return err }, 20*time.Second).Should(HaveOccurred())
		Eventually(states, 60*time.Second).Should(BeEmpty())
		Eventually(func() int { code, _ := throughRouter(); return code }, 20*time.Second, 200*time.Millisecond).Should(Equal(http.StatusNotFound))
	})
})
