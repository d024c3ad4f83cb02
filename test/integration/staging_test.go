package integration_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	bbsclient "diego/bbs/client"
	fsconfig "diego/ccbridge/fileserver/config"
	"diego/ccbridge/lifecycle/bundle"
	"diego/ccbridge/stager"
	stagerconfig "diego/ccbridge/stager/config"
	dconfig "diego/deploy/config"
	"diego/models"
	receptorconfig "diego/receptor/config"
	"diego/test/daemontest"
	"diego/test/ports"
	"diego/test/stagingcc"
)

// appBinary is the staged app: it serves "$GREETING from $HOME" (the
// greeting comes from its .profile.d) on $PORT with busybox's httpd.
const appBinary = "#!/bin/sh\nmkdir -p www && echo \"$GREETING from $HOME\" > www/index.html && exec httpd -f -p \"$PORT\" -h www\n"

func tgzEntries(data []byte) map[string]string {
	GinkgoHelper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	Expect(err).NotTo(HaveOccurred())
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		Expect(err).NotTo(HaveOccurred())
		body, _ := io.ReadAll(tr)
		out[hdr.Name] = string(body)
	}
}

// Issue 18: staging through the real stager, receptor, BBS, brain, a real
// cell and the file-server, against a CC stand-in.
var _ = Describe("Staging", Ordered, func() {
	const appGuid = "5a1d1c1e-0000-4000-8000-000000000001"
	var (
		cc        *stagingcc.CC
		stagerURL string
		fsURL     string
		bbsURL    string
	)

	BeforeAll(func() {
		b := startBrain()
		bbsURL = b.bbsURL
		startCell(b, 1)

		rc := receptorconfig.DefaultConfig()
		rc.ListenAddr = ports.Addr()
		rc.BBSAddress = b.bbsURL
		run("receptor", rc, daemontest.Ready)

		static := GinkgoT().TempDir()
		Expect(bundle.Write(static, binDir, filepath.Join("..", "..", "deploy", "buildpacks"))).To(Succeed())
		fc := fsconfig.DefaultConfig()
		fc.ListenAddr = ports.Addr()
		fc.StaticDirectory = static
		fc.CCJobPollingInterval = dconfig.Duration(100 * time.Millisecond)
		run("file-server", fc, daemontest.Ready)
		fsURL = "http://" + fc.ListenAddr

		cc = stagingcc.New("internal", "secret")
		DeferCleanup(cc.Close)
		Expect(cc.SetApp(appGuid, map[string]stagingcc.File{
			"app-binary":             {Body: appBinary, Mode: 0o755},
			"README":                 {Body: "a small app\n"},
			".profile.d/greeting.sh": {Body: "export GREETING=hello\n"},
		})).To(Succeed())

		sc := stagerconfig.DefaultConfig()
		sc.ListenAddr = ports.Addr()
		stagerURL = "http://" + sc.ListenAddr
		sc.StagingTaskCallbackURL = stagerURL
		sc.ReceptorAddress = "http://" + rc.ListenAddr
		sc.FileServerURL, sc.CCUploaderURL = fsURL, fsURL
		sc.CCBaseURL = cc.Server.URL
		sc.CCBasicAuthUsername, sc.CCBasicAuthPassword = "internal", "secret"
		sc.Lifecycles = []string{"buildpack/cflinuxfs3:" + bundle.LifecyclePath}
		run("stager", sc, daemontest.Ready)
	})

	stage := func(stagingGuid, buildpack string) time.Time {
		GinkgoHelper()
		req := stager.StagingRequestFromCC{
			AppId: appGuid, LogGuid: appGuid, MemoryMB: 128, DiskMB: 256, FileDescriptors: 1024, Timeout: 120,
			Lifecycle:          "buildpack",
			CompletionCallback: cc.Server.URL + "/internal/staging/" + stagingGuid + "/completed",
		}
		data, err := json.Marshal(stager.BuildpackStagingData{
			AppBitsDownloadUri:           cc.URL() + "/staging/apps/" + appGuid,
			DropletUploadUri:             cc.URL() + "/staging/droplets/" + appGuid + "/upload",
			BuildArtifactsCacheUploadUri: cc.URL() + "/staging/buildpack_cache/" + appGuid + "/upload",
			Buildpacks: []stager.Buildpack{{Name: buildpack, Key: buildpack + "_buildpack",
				Url: fsURL + "/v1/static/buildpacks/" + buildpack + ".zip"}},
			Stack: "cflinuxfs3",
		})
		Expect(err).NotTo(HaveOccurred())
		raw := json.RawMessage(data)
		req.LifecycleData = &raw
		body, err := json.Marshal(req)
		Expect(err).NotTo(HaveOccurred())
		started := time.Now()
		httpReq, err := http.NewRequest(http.MethodPut, stagerURL+"/v1/staging/"+stagingGuid, bytes.NewReader(body))
		Expect(err).NotTo(HaveOccurred())
		resp, err := http.DefaultClient.Do(httpReq)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusAccepted))
		return started
	}
	completion := func(stagingGuid string) func() json.RawMessage {
		return func() json.RawMessage {
			for _, c := range cc.Completions() {
				if c.StagingGuid == stagingGuid {
					return c.Body
				}
			}
			return nil
		}
	}

	It("stages a small app with the binary buildpack: the droplet reaches CC through the file-server", func() {
		guid := appGuid + "-staging-1"
		started := stage(guid, "binary")
		Eventually(completion(guid), 60*time.Second, 100*time.Millisecond).ShouldNot(BeNil())
		took := time.Since(started)
		fmt.Fprintf(GinkgoWriter, "staging took %s\n", took)
		AddReportEntry("staging time of a small app", took.String())

		Expect(completion(guid)()).To(MatchJSON(`{"result":{"lifecycle_type":"buildpack",
			"lifecycle_metadata":{"buildpack_key":"binary_buildpack","detected_buildpack":"Binary"},
			"process_types":{"web":"./app-binary"},"execution_metadata":""}}`))
		droplet, ok := cc.Droplet(appGuid)
		Expect(ok).To(BeTrue(), "the droplet reached CC")
		files := tgzEntries(droplet.Body)
		Expect(files).To(HaveKeyWithValue("./app/app-binary", appBinary))
		Expect(files).To(HaveKeyWithValue("./app/.profile.d/greeting.sh", "export GREETING=hello\n"))
		Expect(files).To(HaveKeyWithValue("./app/README", "a small app\n"))
		Expect(files).To(HaveKeyWithValue("./staging_info.yml", "detected_buildpack: Binary\nstart_command: ./app-binary\n"))
		Expect(files).To(HaveKey("./tmp/"))
		Expect(files).To(HaveKey("./logs/"))
		cache, ok := cc.Cache(appGuid)
		Expect(ok).To(BeTrue(), "the build artifacts cache reached CC")
		Expect(tgzEntries(cache.Body)).To(HaveKey("./binary-buildpack-marker"))
		Expect(took).To(BeNumerically("<", 10*time.Second), "staging a small app takes under 10 s")
	})

	It("runs the droplet with the launcher, the start command from staging_info.yml, and the healthcheck", func() {
		bbs, err := bbsclient.New(bbsclient.Config{URL: bbsURL})
		Expect(err).NotTo(HaveOccurred())
		pg := appGuid + "-v1"
		Expect(bbs.DesireLRP(context.Background(), &models.DesiredLRP{
			ProcessGuid: pg, Domain: "cf-apps", RootFs: "preloaded:cflinuxfs3", Instances: 1,
			MemoryMb: 64, DiskMb: 64, Ports: []uint32{8080}, LogGuid: appGuid, StartTimeoutMs: 30_000,
			Setup: models.WrapAction(&models.SerialAction{Actions: []*models.Action{
				models.WrapAction(&models.DownloadAction{From: fsURL + "/v1/static/" + bundle.LifecyclePath,
					To: "/tmp/lifecycle", CacheKey: "buildpack-cflinuxfs3-lifecycle", User: "vcap"}),
				models.WrapAction(&models.DownloadAction{From: cc.URL() + "/staging/droplets/" + appGuid + "/download",
					To: ".", CacheKey: "droplets-" + pg, User: "vcap"}),
			}}),
			Action: models.WrapAction(&models.RunAction{Path: "/tmp/lifecycle/launcher", Args: []string{"app", "", ""},
				User: "vcap", Env: []*models.EnvironmentVariable{{Name: "PORT", Value: "8080"}}}),
			Monitor: models.WrapAction(&models.RunAction{Path: "/tmp/lifecycle/healthcheck", Args: []string{"-port=8080"},
				User: "vcap", SuppressLogOutput: true}),
		})).To(Succeed())
		var lrp *models.ActualLRP
		Eventually(func() string {
			lrps, err := bbs.ActualLRPs(context.Background(), bbsclient.ActualLRPFilter{ProcessGuid: pg})
			if err != nil || len(lrps) == 0 {
				return ""
			}
			lrp = lrps[0]
			return lrp.State
		}, 60*time.Second).Should(Equal(models.ActualLRPStateRunning), "the healthcheck passes once the app listens")
		addr := fmt.Sprintf("http://%s:%d/", lrp.ActualLrpNetInfo.Address, lrp.ActualLrpNetInfo.Ports[0].HostPort)
		Eventually(func() (string, error) {
			resp, err := http.Get(addr)
			if err != nil {
				return "", err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			return string(b), err
		}, 10*time.Second).Should(Equal("hello from /home/vcap/app\n"), ".profile.d was sourced, and the app runs in HOME")
		Expect(bbs.RemoveDesiredLRP(context.Background(), pg)).To(Succeed())
	})

	It("reports a buildpack whose detect fails as NoAppDetectedError", func() {
		guid := appGuid + "-staging-2"
		stage(guid, "fail-detect")
		Eventually(completion(guid), 60*time.Second, 100*time.Millisecond).ShouldNot(BeNil())
		Expect(completion(guid)()).To(MatchJSON(`{"error":{"id":"NoAppDetectedError","message":"staging failed"}}`))
	})

	It("reports a buildpack whose compile fails as BuildpackCompileFailed", func() {
		guid := appGuid + "-staging-3"
		stage(guid, "fail-compile")
		Eventually(completion(guid), 60*time.Second, 100*time.Millisecond).ShouldNot(BeNil())
		Expect(completion(guid)()).To(MatchJSON(`{"error":{"id":"BuildpackCompileFailed","message":"staging failed"}}`))
	})
})
