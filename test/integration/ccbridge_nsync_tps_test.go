package integration_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"google.golang.org/protobuf/proto"

	"diego/ccbridge/ccclient"
	nsyncconfig "diego/ccbridge/nsync/config"
	"diego/ccbridge/standincc"
	"diego/ccbridge/tps"
	tpsconfig "diego/ccbridge/tps/config"
	deployconfig "diego/deploy/config"
	"diego/garden"
	gardenclient "diego/garden/client"
	"diego/metron/events"
	"diego/models"
	receptorclient "diego/receptor/client"
	receptorconfig "diego/receptor/config"
	"diego/test/ports"
)

// The CC bridge's nsync and TPS with a real cell: an app the (stand-in) CC
// lists is desired by the bulker, runs, is reported RUNNING with stats by
// TPS, and a killed instance is reported to the CC as crashed (spec bridge
// §3, §4). The buildpack lifecycle is built by another part of the bridge;
// here the lifecycle bundle holds a stand-in launcher (a shell script that
// runs the start command, as the real one does after its setup) and the
// real healthcheck, so the recipe stays exactly as §3.3 builds it.

// tgz packs files (name → mode and contents) and directories (a name
// ending in /).
func tgz(files map[string]tarFile) []byte {
	GinkgoHelper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, f := range files {
		hdr := &tar.Header{Name: name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg, ModTime: time.Now()}
		if name[len(name)-1] == '/' {
			hdr.Typeflag, hdr.Size = tar.TypeDir, 0
		}
		Expect(tw.WriteHeader(hdr)).To(Succeed())
		_, err := tw.Write(f.body)
		Expect(err).NotTo(HaveOccurred())
	}
	Expect(tw.Close()).To(Succeed())
	Expect(gz.Close()).To(Succeed())
	return buf.Bytes()
}

type tarFile struct {
	mode int64
	body []byte
}

// standInLauncher does what the lifecycle's launcher does once its setup
// is done: cd to the app directory and run the start command.
const standInLauncher = `#!/bin/sh
cd "$HOME/$1" || exit 1
exec sh -c "$2"
`

var _ = Describe("nsync and TPS with a real cell", func() {
	const (
		appGuid     = "3e2f5b1c-9a4d-4e1f-8b7a-0c6d5e4f3a21"
		processGuid = appGuid + "-5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"
		auth        = "bearer tps-token"
	)
	var (
		ctx        = context.Background()
		b          *brain
		cc         *standincc.CC
		rc         *receptorclient.Client
		tpsURL     string
		gardenAddr string
	)

	BeforeEach(func() {
		b = startBrain()
		c := startCell(b, 1)
		gardenAddr = c.garden

		receptorAddr := ports.Addr()
		r := receptorconfig.DefaultConfig()
		r.ListenAddr, r.BBSAddress = receptorAddr, b.bbsURL
		run("receptor", r, `"msg":"ready"`)
		var err error
		rc, err = receptorclient.New(receptorclient.Config{URL: "http://" + receptorAddr})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() (int, error) { cells, err := rc.Cells(ctx); return len(cells), err }, 20*time.Second).Should(Equal(1))

		// The file-server: the lifecycle bundle and the droplet.
		healthcheck, err := os.ReadFile(binaries["healthcheck"])
		Expect(err).NotTo(HaveOccurred())
		lifecycle := tgz(map[string]tarFile{
			"launcher":    {0o755, []byte(standInLauncher)},
			"healthcheck": {0o755, healthcheck},
		})
		droplet := tgz(map[string]tarFile{
			"app/":             {0o755, nil},
			"app/index.html":   {0o644, []byte("hello from the droplet\n")},
			"staging_info.yml": {0o644, []byte("detected_buildpack: Binary\nstart_command: ./run\n")},
			"tmp/":             {0o755, nil},
			"logs/":            {0o755, nil},
		})
		files := http.NewServeMux()
		files.HandleFunc("/v1/static/buildpack_app_lifecycle/buildpack_app_lifecycle.tgz", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write(lifecycle)
		})
		files.HandleFunc("/droplets/"+appGuid+".tgz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(droplet) })
		fileServer := httptest.NewServer(files)
		DeferCleanup(fileServer.Close)

		// Doppler's container metrics for the app (the metron/doppler pair
		// is tested on its own): one metric for index 0.
		doppler := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != auth || r.URL.Path != "/apps/"+appGuid+"/containermetrics" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			env, _ := proto.Marshal(&events.Envelope{Origin: proto.String("rep"), EventType: events.Envelope_ContainerMetric.Enum(),
				Timestamp: proto.Int64(time.Now().UnixNano()), ContainerMetric: &events.ContainerMetric{
					ApplicationId: proto.String(appGuid), InstanceIndex: proto.Int32(0), CpuPercentage: proto.Float64(4),
					MemoryBytes: proto.Uint64(8 << 20), DiskBytes: proto.Uint64(16 << 20)}})
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			part, _ := mw.CreatePart(nil)
			_, _ = part.Write(env)
			_ = mw.Close()
			w.Header().Set("Content-Type", "multipart/x-protobuf; boundary="+mw.Boundary())
			_, _ = w.Write(body.Bytes())
		}))
		DeferCleanup(doppler.Close)

		cc = standincc.New("user", "pass")
		ccServer := httptest.NewServer(cc.Handler())
		DeferCleanup(ccServer.Close)
		cc.SetApp(ccclient.DesireAppRequestFromCC{
			ProcessGuid: processGuid, DropletUri: fileServer.URL + "/droplets/" + appGuid + ".tgz",
			Stack: "cflinuxfs3", StartCommand: "exec httpd -f -p $PORT -h .",
			Environment: []*models.EnvironmentVariable{{Name: "VCAP_APPLICATION", Value: `{"application_name":"hello"}`}},
			MemoryMB:    64, DiskMB: 64, FileDescriptors: 1024, NumInstances: 1, LogGuid: appGuid,
			HealthCheckType: "port", HealthCheckTimeoutInSeconds: 60, ETag: "1.0",
		})

		n := nsyncconfig.DefaultConfig()
		n.ID, n.ListenAddr, n.ReceptorURL = "nsync-it", ports.Addr(), "http://"+receptorAddr
		n.CCBaseURL, n.CCBasicAuthUsername, n.CCBasicAuthPassword = ccServer.URL, "user", "pass"
		n.CCPollingInterval, n.DomainTTL = deployconfig.Duration(time.Second), deployconfig.Duration(5*time.Second)
		n.FileServerURL = fileServer.URL
		n.ETCD = deployconfig.ETCD{Endpoints: []string{b.etcd.ClientURL()}}
		n.LockTTL, n.LockRetryInterval = deployconfig.Duration(3*time.Second), deployconfig.Duration(time.Second)
		run("nsync", n, `"msg":"ready"`)

		t := tpsconfig.DefaultConfig()
		t.ID, t.ListenAddr, t.ReceptorURL, t.DopplerURL = "tps-it", ports.Addr(), "http://"+receptorAddr, doppler.URL
		t.CCBaseURL, t.CCBasicAuthUsername, t.CCBasicAuthPassword = ccServer.URL, "user", "pass"
		t.ETCD = deployconfig.ETCD{Endpoints: []string{b.etcd.ClientURL()}}
		t.LockTTL, t.LockRetryInterval = deployconfig.Duration(3*time.Second), deployconfig.Duration(time.Second)
		s := run("tps", t, `"msg":"ready"`)
		Eventually(s.Out, 10*time.Second).Should(gbytes.Say(`"msg":"subscribed"`))
		tpsURL = "http://" + t.ListenAddr
	})

	instances := func(path, authorization string) []tps.LRPInstance {
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
	state := func() string {
		list := instances("/v1/actual_lrps/"+processGuid, "")
		if len(list) != 1 {
			return fmt.Sprintf("%d instances", len(list))
		}
		return list[0].State
	}

	It("runs what the CC lists, reports it RUNNING with stats, reports a killed instance as crashed, and follows the CC's list", func() {
		Eventually(state, 90*time.Second).Should(Equal("RUNNING"))

		stats := instances("/v1/actual_lrps/"+processGuid+"/stats", auth)
		Expect(stats).To(HaveLen(1))
		running := stats[0]
		Expect(running.Host).NotTo(BeEmpty())
		Expect(running.Port).NotTo(BeZero())
		Expect(running.Stats.CPU).To(BeNumerically("~", 0.04, 1e-9))
		Expect(running.Stats.Mem).To(Equal(uint64(8 << 20)))
		Expect(running.Uptime).To(BeNumerically(">=", 0))

		// The droplet and the launcher did their part: the app serves the
		// droplet's file on its host port.
		resp, err := http.Get(fmt.Sprintf("http://%s:%d/index.html", running.Host, running.Port))
		Expect(err).NotTo(HaveOccurred())
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		Expect(string(body)).To(Equal("hello from the droplet\n"))

		// Kill the app's process inside its container.
		container, err := gardenclient.New("tcp", gardenAddr).Lookup(running.InstanceGuid)
		Expect(err).NotTo(HaveOccurred())
		killer, err := container.Run(garden.ProcessSpec{Path: "sh", Args: []string{"-c", "killall -9 httpd"}, User: "root"}, garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		_, _ = killer.Wait()

		Eventually(cc.Reports, 60*time.Second).ShouldNot(BeEmpty())
		report := cc.Reports()[0]
		Expect(report.Route).To(Equal(ccclient.AppCrashedRoute))
		Expect(report.ProcessGuid).To(Equal(processGuid))
		var crash ccclient.AppCrashedRequest
		Expect(json.Unmarshal(report.Body, &crash)).To(Succeed())
		Expect(crash.Instance).To(Equal(running.InstanceGuid))
		Expect(crash.Index).To(Equal(0))
		Expect(crash.Reason).To(Equal("CRASHED"))
		Expect(crash.CrashCount).To(Equal(1))
		Expect(crash.CellID).NotTo(BeEmpty())
		Expect(crash.ExitDescription).NotTo(BeEmpty())
		// The first crash restarts at once.
		Eventually(state, 90*time.Second).Should(Equal("RUNNING"))

		// Deleted behind the CC's back: the bulker restores it.
		Expect(rc.DeleteDesiredLRP(ctx, processGuid)).To(Succeed())
		Eventually(func() error { _, err := rc.GetDesiredLRP(ctx, processGuid); return err }, 20*time.Second).Should(Succeed())

		// No longer listed by the CC: the bulker deletes it and its instance goes.
		cc.RemoveApp(processGuid)
		Eventually(func() error { _, err := rc.GetDesiredLRP(ctx, processGuid); return err }, 20*time.Second).Should(HaveOccurred())
		Eventually(func() []tps.LRPInstance { return instances("/v1/actual_lrps/"+processGuid, "") }, 60*time.Second).Should(BeEmpty())
	})
})
