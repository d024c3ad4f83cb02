package main_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
	"google.golang.org/protobuf/proto"

	bbsclient "diego/bbs/client"
	"diego/ccbridge/ccclient"
	"diego/ccbridge/tps"
	"diego/ccbridge/tps/config"
	"diego/metron/events"
	"diego/models"
	"diego/receptor"
)

const (
	appGuid     = "8d58c09b-b305-4f16-bcfe-b78edcb77100"
	processGuid = appGuid + "-3f258eb0-9dac-460c-a424-b43fe92bee27"
	goodAuth    = "bearer good-token"
)

// fakeDoppler serves /apps/:id/containermetrics for goodAuth: one
// container metric for index 0. hang makes it wait until released.
type fakeDoppler struct {
	hang    atomic.Bool
	release chan struct{}
	seenIDs chan string
}

func (d *fakeDoppler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != goodAuth {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	select {
	case d.seenIDs <- r.URL.Path:
	default:
	}
	if d.hang.Load() {
		<-d.release
	}
	env, _ := proto.Marshal(&events.Envelope{
		Origin: proto.String("rep"), EventType: events.Envelope_ContainerMetric.Enum(), Timestamp: proto.Int64(time.Now().UnixNano()),
		ContainerMetric: &events.ContainerMetric{ApplicationId: proto.String(appGuid), InstanceIndex: proto.Int32(0),
			CpuPercentage: proto.Float64(2.5), MemoryBytes: proto.Uint64(12345678), DiskBytes: proto.Uint64(23456789)},
	})
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part, _ := mw.CreatePart(nil)
	_, _ = part.Write(env)
	_ = mw.Close()
	w.Header().Set("Content-Type", "multipart/x-protobuf; boundary="+mw.Boundary())
	_, _ = w.Write(buf.Bytes())
}

func get(url, authorization string) (int, []byte) {
	GinkgoHelper()
	req, err := http.NewRequest("GET", url, nil)
	Expect(err).NotTo(HaveOccurred())
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return resp.StatusCode, body
}

var _ = Describe("tps", func() {
	var (
		c       *cluster
		doppler *fakeDoppler
		cfg     config.Config
		session *gexec.Session
		base    string
		bbs     *bbsclient.Client
	)

	desire := func(guid string, instances int32) {
		GinkgoHelper()
		nofile := uint64(1024)
		Expect(c.Receptor.CreateDesiredLRP(ctx, receptor.DesiredLRPCreateRequest{
			ProcessGuid: guid, Domain: "cf-apps", RootFS: "preloaded:cflinuxfs3", Instances: instances,
			Action:   models.WrapAction(&models.RunAction{Path: "/bin/true", User: "vcap", ResourceLimits: &models.ResourceLimits{Nofile: &nofile}}),
			MemoryMB: 64, DiskMB: 64, Ports: []uint16{8080}, LogGuid: appGuid, MetricsGuid: appGuid,
		})).To(Succeed())
		Eventually(func() ([]receptor.ActualLRPResponse, error) { return c.Receptor.ActualLRPsByProcessGuid(ctx, guid) }).Should(HaveLen(int(instances)))
	}

	startIndex := func(guid string, index int32, instanceGuid string) {
		GinkgoHelper()
		key := &models.ActualLRPKey{ProcessGuid: guid, Index: index, Domain: "cf-apps"}
		instance := &models.ActualLRPInstanceKey{InstanceGuid: instanceGuid, CellId: "cell-1"}
		Expect(bbs.StartActualLRP(ctx, &models.StartActualLRPRequest{
			ActualLrpKey: key, ActualLrpInstanceKey: instance,
			ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.5", Ports: []*models.PortMapping{
				{ContainerPort: 8080, HostPort: 61001},
			}},
		})).To(Succeed())
	}

	BeforeEach(func() {
		c = startCluster()
		doppler = &fakeDoppler{release: make(chan struct{}), seenIDs: make(chan string, 10)}
		server := httptest.NewServer(doppler)
		DeferCleanup(server.Close)
		DeferCleanup(func() {
			if doppler.hang.Load() {
				close(doppler.release)
			}
		})
		var err error
		bbs, err = bbsclient.New(bbsclient.Config{URL: c.BBSURL})
		Expect(err).NotTo(HaveOccurred())
		cfg = c.tpsConfig(server.URL)
	})

	JustBeforeEach(func() {
		session = run("tps", cfg)
		base = "http://" + cfg.ListenAddr
	})

	Describe("the listener (spec bridge §4.1)", func() {
		It("lists an app's instances: RUNNING with since and uptime, STARTING for the unclaimed", func() {
			desire(processGuid, 2)
			startIndex(processGuid, 0, "ig-0")
			status, body := get(base+"/v1/actual_lrps/"+processGuid, "")
			Expect(status).To(Equal(http.StatusOK))
			var instances []tps.LRPInstance
			Expect(json.Unmarshal(body, &instances)).To(Succeed())
			Expect(instances).To(HaveLen(2))
			byIndex := map[uint]tps.LRPInstance{}
			for _, i := range instances {
				byIndex[i.Index] = i
			}
			Expect(byIndex[0].State).To(Equal("RUNNING"))
			Expect(byIndex[0].InstanceGuid).To(Equal("ig-0"))
			Expect(byIndex[0].NetInfo.Address).To(Equal("10.0.0.5"))
			Expect(byIndex[0].Since).To(BeNumerically("~", time.Now().Unix(), 30))
			Expect(byIndex[0].Uptime).To(BeNumerically(">=", 0))
			Expect(byIndex[0].Stats).To(BeNil())
			Expect(byIndex[0].Host).To(BeEmpty(), "host and port only on the stats route")
			Expect(byIndex[1].State).To(Equal("STARTING"))
		})

		It("answers an empty list for an unknown guid", func() {
			status, body := get(base+"/v1/actual_lrps/unknown-guid", "")
			Expect(status).To(Equal(http.StatusOK))
			Expect(body).To(MatchJSON(`[]`))
		})

		It("gives stats from doppler's container metrics, with host and the 8080 host port", func() {
			desire(processGuid, 1)
			startIndex(processGuid, 0, "ig-0")
			status, body := get(base+"/v1/actual_lrps/"+processGuid+"/stats", goodAuth)
			Expect(status).To(Equal(http.StatusOK))
			var instances []tps.LRPInstance
			Expect(json.Unmarshal(body, &instances)).To(Succeed())
			Expect(instances).To(HaveLen(1))
			Expect(instances[0].State).To(Equal("RUNNING"))
			Expect(instances[0].Host).To(Equal("10.0.0.5"))
			Expect(instances[0].Port).To(Equal(uint32(61001)))
			Expect(instances[0].Stats).NotTo(BeNil())
			Expect(instances[0].Stats.CPU).To(BeNumerically("~", 0.025, 1e-9))
			Expect(instances[0].Stats.Mem).To(Equal(uint64(12345678)))
			Expect(instances[0].Stats.Disk).To(Equal(uint64(23456789)))
			Expect(instances[0].Stats.Time).To(BeTemporally("~", time.Now(), 30*time.Second))
			Eventually(doppler.seenIDs).Should(Receive(Equal("/apps/" + appGuid + "/containermetrics")))
		})

		It("refuses stats without an Authorization header (401) and for an app with no desired LRP (404)", func() {
			desire(processGuid, 1)
			status, _ := get(base+"/v1/actual_lrps/"+processGuid+"/stats", "")
			Expect(status).To(Equal(http.StatusUnauthorized))
			status, _ = get(base+"/v1/actual_lrps/unknown-guid/stats", goodAuth)
			Expect(status).To(Equal(http.StatusNotFound))
		})

		It("still answers stats, with zero usage, when doppler refuses the caller", func() {
			desire(processGuid, 1)
			startIndex(processGuid, 0, "ig-0")
			status, body := get(base+"/v1/actual_lrps/"+processGuid+"/stats", "bearer other-token")
			Expect(status).To(Equal(http.StatusOK))
			var instances []tps.LRPInstance
			Expect(json.Unmarshal(body, &instances)).To(Succeed())
			Expect(instances[0].State).To(Equal("RUNNING"))
			Expect(instances[0].Stats.Mem).To(BeZero())
		})

		It("answers the bulk status of several guids, and 400 for a malformed guid list", func() {
			desire(processGuid, 1)
			desire("other-guid", 2)
			status, body := get(base+"/v1/bulk_actual_lrp_status?guids="+processGuid+",other-guid,unknown-guid", "")
			Expect(status).To(Equal(http.StatusOK))
			var out map[string][]tps.LRPInstance
			Expect(json.Unmarshal(body, &out)).To(Succeed())
			Expect(out).To(HaveKey(processGuid))
			Expect(out[processGuid]).To(HaveLen(1))
			Expect(out["other-guid"]).To(HaveLen(2))
			Expect(out["unknown-guid"]).To(BeEmpty())
			for _, bad := range []string{"", "a,,b", "a,b,", "a%20b", "a;b"} {
				status, _ := get(base+"/v1/bulk_actual_lrp_status?guids="+bad, "")
				Expect(status).To(Equal(http.StatusBadRequest), "guids=%q", bad)
			}
			status, _ = get(base+"/v1/bulk_actual_lrp_status", "")
			Expect(status).To(Equal(http.StatusBadRequest))
		})

		Context("with one request allowed in flight", func() {
			BeforeEach(func() { cfg.MaxInFlightRequests = 1 })
			It("answers 503 at once while another request is being served", func() {
				desire(processGuid, 1)
				doppler.hang.Store(true)
				done := make(chan int)
				go func() {
					defer GinkgoRecover()
					status, _ := get(base+"/v1/actual_lrps/"+processGuid+"/stats", goodAuth)
					done <- status
				}()
				Eventually(doppler.seenIDs).Should(Receive())
				status, _ := get(base+"/v1/actual_lrps/"+processGuid, "")
				Expect(status).To(Equal(http.StatusServiceUnavailable))
				doppler.hang.Store(false)
				close(doppler.release)
				Eventually(done).Should(Receive(Equal(http.StatusOK)))
				status, _ = get(base+"/v1/actual_lrps/"+processGuid, "")
				Expect(status).To(Equal(http.StatusOK))
			})
		})

		Context("with the receptor unreachable", func() {
			BeforeEach(func() {
				cfg.ReceptorURL = "http://" + portWithNothing()
				cfg.CommunicationTimeout = 2e9
			})
			It("answers 500", func() {
				status, _ := get(base+"/v1/actual_lrps/"+processGuid, "")
				Expect(status).To(Equal(http.StatusInternalServerError))
				status, _ = get(base+"/v1/actual_lrps/"+processGuid+"/stats", goodAuth)
				Expect(status).To(Equal(http.StatusInternalServerError))
			})
		})
	})

	Describe("the watcher (spec bridge §4.2)", func() {
		It("holds its lock and reports a crashed instance to the CC", func() {
			c.CC.SetApp(ccclient.DesireAppRequestFromCC{ProcessGuid: processGuid, ETag: "1"})
			Eventually(session.Out, 10*time.Second).Should(gbytes.Say(`"msg":"subscribed"`))
			client, err := etcd.Client()
			Expect(err).NotTo(HaveOccurred())
			defer client.Close()
			held, err := client.Get(ctx, c.Root+"/v1/locks/tps_watcher")
			Expect(err).NotTo(HaveOccurred())
			Expect(held.Kvs).To(HaveLen(1))

			desire(processGuid, 1)
			startIndex(processGuid, 0, "ig-0")
			key := &models.ActualLRPKey{ProcessGuid: processGuid, Index: 0, Domain: "cf-apps"}
			Expect(bbs.CrashActualLRP(ctx, key, &models.ActualLRPInstanceKey{InstanceGuid: "ig-0", CellId: "cell-1"}, "Exited with status 3")).To(Succeed())

			Eventually(c.CC.Reports, 10*time.Second).Should(HaveLen(1))
			report := c.CC.Reports()[0]
			Expect(report.Route).To(Equal(ccclient.AppCrashedRoute))
			Expect(report.ProcessGuid).To(Equal(processGuid))
			var crash map[string]any
			Expect(json.Unmarshal(report.Body, &crash)).To(Succeed())
			Expect(crash).To(HaveKeyWithValue("instance", "ig-0"))
			Expect(crash).To(HaveKeyWithValue("index", BeNumerically("==", 0)))
			Expect(crash).To(HaveKeyWithValue("cell_id", "cell-1"))
			Expect(crash).To(HaveKeyWithValue("reason", "CRASHED"))
			Expect(crash).To(HaveKeyWithValue("exit_description", "Exited with status 3"))
			Expect(crash).To(HaveKeyWithValue("crash_count", BeNumerically("==", 1)))
			Expect(crash).To(HaveKeyWithValue("crash_timestamp", BeNumerically(">", 0)))
			Expect(crash).NotTo(HaveKey("exit_status"))
		})

		It("reports a rescheduling when an evacuating instance goes", func() {
			c.CC.SetApp(ccclient.DesireAppRequestFromCC{ProcessGuid: processGuid, ETag: "1"})
			Eventually(session.Out, 10*time.Second).Should(gbytes.Say(`"msg":"subscribed"`))
			desire(processGuid, 1)
			startIndex(processGuid, 0, "ig-0")
			key := &models.ActualLRPKey{ProcessGuid: processGuid, Index: 0, Domain: "cf-apps"}
			instance := &models.ActualLRPInstanceKey{InstanceGuid: "ig-0", CellId: "cell-1"}
			_, err := bbs.EvacuateRunningActualLRP(ctx, &models.EvacuateRunningActualLRPRequest{
				ActualLrpKey: key, ActualLrpInstanceKey: instance,
				ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.5", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61001}}},
				Ttl:              60,
			})
			Expect(err).NotTo(HaveOccurred())
			Eventually(func() bool {
				list, err := c.Receptor.ActualLRPsByProcessGuid(ctx, processGuid)
				return err == nil && len(list) == 1 && list[0].Evacuating
			}).Should(BeTrue())
			Consistently(c.CC.Reports, 500*time.Millisecond).Should(BeEmpty(), "evacuating is not yet a rescheduling")

			Expect(bbs.RemoveEvacuatingActualLRP(ctx, key, instance)).To(Succeed())
			Eventually(c.CC.Reports, 10*time.Second).Should(HaveLen(1))
			report := c.CC.Reports()[0]
			Expect(report.Route).To(Equal(ccclient.AppReschedulingRoute))
			Expect(report.Body).To(MatchJSON(`{"instance":"ig-0","index":0,"cell_id":"cell-1","reason":"Cell is being evacuated"}`))
		})

		It("reports nothing for other domains", func() {
			Eventually(session.Out, 10*time.Second).Should(gbytes.Say(`"msg":"subscribed"`))
			nofile := uint64(1024)
			Expect(c.Receptor.CreateDesiredLRP(ctx, receptor.DesiredLRPCreateRequest{
				ProcessGuid: processGuid, Domain: "other", RootFS: "preloaded:cflinuxfs3", Instances: 1,
				Action:   models.WrapAction(&models.RunAction{Path: "/bin/true", User: "vcap", ResourceLimits: &models.ResourceLimits{Nofile: &nofile}}),
				MemoryMB: 64, DiskMB: 64,
			})).To(Succeed())
			c.CC.SetApp(ccclient.DesireAppRequestFromCC{ProcessGuid: processGuid})
			key := &models.ActualLRPKey{ProcessGuid: processGuid, Index: 0, Domain: "other"}
			instance := &models.ActualLRPInstanceKey{InstanceGuid: "ig-0", CellId: "cell-1"}
			Eventually(func() error {
				return bbs.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: key, ActualLrpInstanceKey: instance,
					ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.5"}})
			}).Should(Succeed())
			Expect(bbs.CrashActualLRP(ctx, key, instance, "boom")).To(Succeed())

			// A cf-apps crash after it is the only report.
			cfApp := appGuid + "-00000000-0000-0000-0000-000000000002"
			desire(cfApp, 1)
			startIndex(cfApp, 0, "ig-1")
			Expect(bbs.CrashActualLRP(ctx, &models.ActualLRPKey{ProcessGuid: cfApp, Index: 0, Domain: "cf-apps"},
				&models.ActualLRPInstanceKey{InstanceGuid: "ig-1", CellId: "cell-1"}, "boom")).To(Succeed())
			Eventually(c.CC.Reports, 10*time.Second).Should(HaveLen(1))
			Consistently(c.CC.Reports, time.Second).Should(HaveLen(1))
			Expect(c.CC.Reports()[0].ProcessGuid).To(Equal(cfApp))
		})
	})
})
