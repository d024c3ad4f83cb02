package main_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"diego/ccbridge/cloudcontroller/config"
	"diego/test/cfclient"
	"diego/test/daemontest"
	"diego/test/ports"
)

const secret = "0123456789abcdef0123456789abcdef-test"

var helloApp = map[string]string{"run.sh": "#!/bin/bash\nexec python3 -m http.server $PORT\n", "index.html": "hello\n"}

var _ = Describe("cloud-controller", func() {
	var (
		fakes   *bridgeFakes
		cfg     config.Config
		session *gexec.Session
		cf      *cfclient.Client
	)

	eventually := func(cond func() bool) { Eventually(cond, 10*time.Second, 50*time.Millisecond).Should(BeTrue()) }

	BeforeEach(func() {
		fakes = newBridgeFakes()
		cfg = config.DefaultConfig()
		addr := ports.Addr()
		cfg.ListenAddr = addr
		cfg.ExternalURL, cfg.InternalURL = "http://"+addr, "http://"+addr
		cfg.InternalAPIPassword = "internal-pw"
		cfg.StateDir = filepath.Join(GinkgoT().TempDir(), "state")
		cfg.TokenSigningSecret = secret
		cfg.StagerURL, cfg.NsyncURL, cfg.TPSURL = fakes.Stager.URL, fakes.Nsync.URL, fakes.TPS.URL
		cfg.FileServerStaticDir = GinkgoT().TempDir()
		cfg.MaxPackageBytes = 64 << 10
		cf = &cfclient.Client{URL: "http://" + addr}
	})

	start := func() { session = daemontest.Start(ccBin, cfg, `"msg":"ready"`) }

	Context("the cf CLI's commands in order", func() {
		BeforeEach(start)

		It("logs in, pushes, lists, scales, stops, starts, restarts, shows events and deletes", func() {
			cf.Login("admin", "admin")
			cf.Target("DIEGO", "Dev")
			Expect(cf.Apps()).To(BeEmpty())

			began := time.Now()
			guid := cf.Push("hello", helloApp, eventually)
			GinkgoWriter.Printf("push to first RUNNING (fake bridge): %s\n", time.Since(began))

			By("the stager got the spec's staging request and fetched the package")
			Expect(fakes.stagingRequests()).To(HaveLen(1))
			st := fakes.stagingRequests()[0]
			Expect(st.AppId).To(Equal(guid))
			Expect(st.MemoryMB).To(Equal(1024))
			Expect(st.Lifecycle).To(Equal("buildpack"))
			Expect(st.CompletionCallback).To(ContainSubstring("internal_user:internal-pw@"))
			Expect(fakes.package_(guid)).NotTo(BeEmpty())

			By("nsync got the desired app with the route")
			app := cfclient.Entity(cf.FindApp("hello"))
			pg := guid + "-" + app["version"].(string)
			d, ok := fakes.desiredApp(pg)
			Expect(ok).To(BeTrue())
			Expect(d.StartCommand).To(Equal("./run.sh"))
			Expect(d.RoutingInfo.HTTPRoutes[0].Hostname).To(Equal("hello.apps.localhost"))
			Expect(d.LogGuid).To(Equal(guid))

			apps := cf.Apps()
			Expect(apps).To(HaveLen(1))
			Expect(apps[0].(cfclient.Obj)["running_instances"]).To(BeNumerically("==", 1))
			Expect(apps[0].(cfclient.Obj)["routes"].([]any)[0].(cfclient.Obj)["host"]).To(Equal("hello"))

			sum, inst, _ := cf.App("hello")
			Expect(sum["running_instances"]).To(BeNumerically("==", 1))
			Expect(inst["0"].(cfclient.Obj)["state"]).To(Equal("RUNNING"))

			By("scale: same process guid, 3 instances, key set 0..2")
			cf.Scale("hello", 3)
			d, _ = fakes.desiredApp(pg)
			Expect(d.NumInstances).To(Equal(3))
			_, inst, stats := cf.App("hello")
			Expect(inst).To(HaveLen(3))
			Expect(stats).To(HaveLen(3))

			By("stop removes the LRP")
			cf.Stop("hello")
			Expect(fakes.desiredCount()).To(Equal(0))
			s, body := cf.Do("GET", "/v2/apps/"+guid+"/instances", nil)
			Expect(s).To(Equal(400))
			Expect(body["code"]).To(BeNumerically("==", 220001))

			By("start desires a new process guid with the current droplet")
			cf.Start("hello", eventually)
			Expect(fakes.stagingRequests()).To(HaveLen(1))
			newPG := guid + "-" + cfclient.Entity(cf.FindApp("hello"))["version"].(string)
			Expect(newPG).NotTo(Equal(pg))
			_, ok = fakes.desiredApp(newPG)
			Expect(ok).To(BeTrue())

			By("restart is stop then start")
			cf.Stop("hello")
			cf.Start("hello", eventually)
			Expect(fakes.desiredCount()).To(Equal(1))

			By("push again (update) restages the new bits")
			changed := map[string]string{"run.sh": helloApp["run.sh"], "index.html": "hello again\n"}
			cf.Push("hello", changed, eventually)
			Expect(fakes.stagingRequests()).To(HaveLen(2))

			By("events")
			evs := cf.Events("hello")
			types := []string{}
			for _, e := range evs {
				types = append(types, cfclient.Entity(e.(cfclient.Obj))["type"].(string))
			}
			Expect(types[len(types)-1]).To(Equal("audit.app.create"))
			Expect(types).To(ContainElement("audit.app.update"))

			By("a crash report from the TPS watcher is an app.crash event")
			crash := `{"instance":"i-1","index":0,"cell_id":"cell-1","reason":"CRASHED","exit_description":"boom","crash_count":1,"crash_timestamp":1}`
			s, _ = cf.Raw("POST", "/internal/v4/apps/"+guid+"-v/crashed", strings.NewReader(crash), "application/json", "")
			Expect(s).To(Equal(200))
			Expect(cfclient.Entity(cf.Events("hello")[0].(cfclient.Obj))["type"]).To(Equal("app.crash"))
			s, b := cf.Raw("POST", "/internal/v4/apps/"+guid+"-v/crashed", strings.NewReader(`[1]`), "application/json", "")
			Expect(s).To(Equal(400))
			Expect(b).To(ContainSubstring(`"code":1001`))
			big := `{"reason":"` + strings.Repeat("x", int(cfg.MaxJSONBodyBytes)) + `"}`
			s, b = cf.Raw("POST", "/internal/v4/apps/"+guid+"-v/crashed", strings.NewReader(big), "application/json", "")
			Expect(s).To(Equal(413), "spec §2.2: a body over max_json_body_bytes")
			Expect(b).To(ContainSubstring(`"code":1001`))
			Expect(cf.Events("hello")).To(HaveLen(len(evs)+1), "neither bad report is recorded")

			By("delete")
			cf.Delete("hello")
			Expect(cf.FindApp("hello")).To(BeNil())
			Expect(fakes.desiredCount()).To(Equal(0))
			Expect(cf.Apps()).To(BeEmpty())
		})

		It("refreshes tokens and serves the bulk API nsync pages", func() {
			cf.Login("admin", "admin")
			tok := cf.TokenRequest(map[string][]string{"grant_type": {"refresh_token"}, "refresh_token": {cf.Refresh}})
			Expect(cf.LastStatus).To(Equal(200))
			Expect(tok["refresh_token"]).NotTo(Equal(cf.Refresh))
			bad := cf.TokenRequest(map[string][]string{"grant_type": {"refresh_token"}, "refresh_token": {cf.Token}})
			Expect(cf.LastStatus).To(Equal(401))
			Expect(bad["error"]).To(Equal("invalid_grant"))
			wrong := cf.TokenRequest(map[string][]string{"grant_type": {"password"}, "username": {"admin"}, "password": {"nope"}})
			Expect(cf.LastStatus).To(Equal(401))
			Expect(wrong["error"]).To(Equal("unauthorized"))

			guid := cf.Push("bulky", helloApp, eventually)
			basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("internal_user:internal-pw"))
			s, b := cf.Raw("GET", "/internal/bulk/apps?batch_size=10&token=%7B%22id%22%3A0%7D&format=fingerprint", nil, "", basic)
			Expect(s).To(Equal(200))
			var page struct {
				Fingerprints []struct {
					ProcessGuid string `json:"process_guid"`
				} `json:"fingerprints"`
				Token struct {
					ID int `json:"id"`
				} `json:"token"`
			}
			Expect(json.Unmarshal(b, &page)).To(Succeed())
			Expect(page.Fingerprints).To(HaveLen(1))
			Expect(page.Fingerprints[0].ProcessGuid).To(HavePrefix(guid))
			s, _ = cf.Raw("GET", "/internal/bulk/apps?batch_size=10", nil, "", "bearer "+cf.Token)
			Expect(s).To(Equal(401))
			s, _ = cf.Raw("GET", "/internal/bulk/apps?batch_size=0", nil, "", basic)
			Expect(s).To(Equal(400))
		})

		It("answers bad input with the spec's codes and writes nothing", func() {
			cf.Login("admin", "admin")
			expectErr := func(status, code int) {
				GinkgoHelper()
				Expect(cf.LastStatus).To(Equal(status), "%v", cf.LastResponse)
				Expect(cf.LastResponse["code"]).To(BeNumerically("==", code), "%v", cf.LastResponse)
				Expect(cf.LastResponse["error_code"]).To(HavePrefix("CF-"))
			}
			countApps := func() int { return len(cfclient.Resources(cf.Must(200, "GET", "/v2/apps", nil))) }

			By("tokens")
			tok := cf.Token
			cf.Token = tok + "x"
			cf.Do("GET", "/v2/apps", nil)
			expectErr(401, 1000)
			cf.Token = expiredToken(cf.URL, tok)
			cf.Do("GET", "/v2/apps", nil)
			expectErr(401, 1000)
			cf.Token = tok
			s, b := cf.Raw("GET", "/v2/apps", nil, "", "")
			Expect(s).To(Equal(401))
			Expect(string(b)).To(ContainSubstring(`"code":10002`))

			By("malformed JSON, wrong types, unknown keys")
			cf.Do("POST", "/v2/apps", `{"name":`)
			expectErr(400, 1001)
			cf.Do("POST", "/v2/apps", `{"name":"x","space_guid":"`+cf.Space+`","memory":"lots"}`)
			expectErr(400, 1001)
			Expect(countApps()).To(Equal(0))
			cf.Must(201, "POST", "/v2/apps", cfclient.Obj{"name": "taken", "space_guid": cf.Space, "no_such_key": 1})

			By("names taken, case-insensitively")
			cf.Do("POST", "/v2/apps", cfclient.Obj{"name": "TAKEN", "space_guid": cf.Space})
			expectErr(400, 100002)
			cf.Do("POST", "/v2/organizations", cfclient.Obj{"name": "Diego"})
			expectErr(400, 30002)
			cf.Do("POST", "/v2/spaces", cfclient.Obj{"name": "DEV", "organization_guid": cf.Org})
			expectErr(400, 40002)
			cf.Do("POST", "/v2/apps", cfclient.Obj{"name": "x", "space_guid": "nope"})
			expectErr(400, 1002)
			Expect(countApps()).To(Equal(1))

			guid := cfclient.GuidOf(cfclient.Resources(cf.Must(200, "GET", "/v2/apps", nil))[0].(cfclient.Obj))

			By("starting without bits")
			cf.Do("PUT", "/v2/apps/"+guid, cfclient.Obj{"state": "STARTED"})
			expectErr(400, 150001)

			By("zips with ../ entries, absolute resource paths, and over the size limit")
			cf.UploadBits(guid, "[]", cfclient.AppZip(map[string]string{"../evil": "x", "run.sh": "x"}), true)
			expectErr(400, 160001)
			Expect(cf.LastResponse["description"]).To(ContainSubstring("zip entry '../evil' is not allowed"))
			cf.UploadBits(guid, `[{"fn":"/etc/passwd","sha1":"aa","size":1,"mode":"0644"}]`, nil, true)
			expectErr(400, 160004)
			cf.UploadBits(guid, "[]", bytes.Repeat([]byte("x"), 70<<10), true)
			expectErr(413, 160001)
			cf.UploadBits(guid, "[]", []byte("not a zip"), false)
			expectErr(400, 160001)
			app := cfclient.Entity(cf.Must(200, "GET", "/v2/apps/"+guid, nil))
			Expect(app["package_updated_at"]).To(BeNil())
			basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("internal_user:internal-pw"))
			s, _ = cf.Raw("GET", "/staging/apps/"+guid, nil, "", basic)
			Expect(s).To(Equal(404))
			Expect(filepath.Glob(filepath.Join(cfg.StateDir, "tmp", "*"))).To(BeEmpty())

			By("over the org's memory quota")
			cf.PushFiles(guid, helloApp)
			cf.Do("PUT", "/v2/apps/"+guid+"?async=true&inline-relations-depth=1", cfclient.Obj{"state": "STARTED", "memory": 20000})
			expectErr(400, 100005)
			app = cfclient.Entity(cf.Must(200, "GET", "/v2/apps/"+guid, nil))
			Expect(app["state"]).To(Equal("STOPPED"))
			Expect(app["memory"]).To(BeNumerically("==", 1024))
			Expect(fakes.stagingRequests()).To(BeEmpty())

			By("other app checks")
			cf.Do("PUT", "/v2/apps/"+guid, cfclient.Obj{"memory": 0})
			expectErr(400, 100006)
			cf.Do("PUT", "/v2/apps/"+guid, cfclient.Obj{"instances": 1000})
			expectErr(400, 100008)
			cf.Do("PUT", "/v2/apps/"+guid, cfclient.Obj{"buildpack": "nonsense"})
			expectErr(400, 100001)
			cf.Do("PUT", "/v2/apps/"+guid, cfclient.Obj{"docker_image": "busybox"})
			expectErr(400, 320003)
			cf.Do("PUT", "/v2/apps/"+guid, cfclient.Obj{"environment_json": cfclient.Obj{"VCAP_X": "1"}})
			expectErr(400, 100001)
			cf.Do("GET", "/v2/apps?results-per-page=101", nil)
			expectErr(400, 10005)
			cf.Do("GET", "/v2/apps?q=instances%3E1", nil)
			expectErr(400, 10005)
			cf.Do("GET", "/v2/no/such/thing", nil)
			expectErr(404, 10000)
			cf.Do("GET", "/v2/apps/nope/summary", nil)
			expectErr(404, 100004)
			cf.Do("POST", "/v2/routes", cfclient.Obj{"host": "bad host", "domain_guid": cfclient.GuidOf(cfclient.Resources(cf.Must(200, "GET", "/v2/shared_domains", nil))[0].(cfclient.Obj)), "space_guid": cf.Space})
			expectErr(400, 210001)
		})

		It("restages: a new staging and a new process guid; no bits is 150001", func() {
			cf.Login("admin", "admin")
			bare := cf.Must(201, "POST", "/v2/apps", cfclient.Obj{"name": "bare", "space_guid": cf.Space})
			cf.Do("POST", "/v2/apps/"+cfclient.GuidOf(bare)+"/restage", nil)
			Expect(cf.LastStatus).To(Equal(400))
			Expect(cf.LastResponse["code"]).To(BeNumerically("==", 150001))

			guid := cf.Push("again", helloApp, eventually)
			before := cfclient.Entity(cf.FindApp("again"))["version"]
			restaged := cf.Must(201, "POST", "/v2/apps/"+guid+"/restage", nil)
			Expect(cfclient.Entity(restaged)["package_state"]).To(Equal("PENDING"))
			Expect(cfclient.Entity(restaged)["state"]).To(Equal("STARTED"))
			Eventually(func() any { return cfclient.Entity(cf.FindApp("again"))["package_state"] }).Should(Equal("STAGED"))
			Expect(fakes.stagingRequests()).To(HaveLen(2))
			after := cfclient.Entity(cf.FindApp("again"))["version"]
			Expect(after).NotTo(Equal(before))
			Eventually(func() bool { _, ok := fakes.desiredApp(guid + "-" + after.(string)); return ok }).Should(BeTrue())
			Expect(fakes.desiredCount()).To(Equal(1))
			Expect(cf.Events("again")[0].(cfclient.Obj)["entity"].(cfclient.Obj)["type"]).To(Equal("audit.app.restage"))
		})

		It("fails staging with the stager's reason", func() {
			cf.Login("admin", "admin")
			fakes.mu.Lock()
			fakes.stagingErr = "NoAppDetectedError"
			fakes.mu.Unlock()
			created := cf.Must(201, "POST", "/v2/apps", cfclient.Obj{"name": "nodetect", "space_guid": cf.Space})
			guid := cfclient.GuidOf(created)
			cf.PushFiles(guid, helloApp)
			cf.Must(201, "PUT", "/v2/apps/"+guid, cfclient.Obj{"state": "STARTED"})
			Eventually(func() any { return cfclient.Entity(cf.Must(200, "GET", "/v2/apps/"+guid, nil))["package_state"] }).Should(Equal("FAILED"))
			Expect(cfclient.Entity(cf.Must(200, "GET", "/v2/apps/"+guid, nil))["staging_failed_reason"]).To(Equal("NoAppDetectedError"))
			cf.Do("GET", "/v2/apps/"+guid+"/instances", nil)
			Expect(cf.LastResponse["code"]).To(BeNumerically("==", 170003))
		})
	})

	It("keeps everything across a restart and refuses a second process on the same state", func() {
		start()
		cf.Login("admin", "admin")
		guid := cf.Push("durable", helloApp, eventually)
		second := exec.Command(ccBin, "-config", daemontest.WriteConfig(cfg))
		out, err := second.CombinedOutput()
		Expect(err).To(HaveOccurred())
		Expect(string(out)).To(ContainSubstring("is in use"))

		daemontest.Stop(session)
		start()
		cf.Login("admin", "admin")
		app := cf.FindApp("durable")
		Expect(cfclient.GuidOf(app)).To(Equal(guid))
		Expect(cfclient.Entity(app)["package_state"]).To(Equal("STAGED"))
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("internal_user:internal-pw"))
		s, b := cf.Raw("GET", "/staging/droplets/"+guid+"/download", nil, "", basic)
		Expect(s).To(Equal(200))
		Expect(string(b)).To(Equal("droplet for " + guid))
	})

	It("leaves the app absent or complete after a kill -9 mid-push, and a second push succeeds", func() {
		start()
		cf.Login("admin", "admin")
		created := cf.Must(201, "POST", "/v2/apps", cfclient.Obj{"name": "killed", "space_guid": cf.Space, "buildpack": "shell_buildpack"})
		guid := cfclient.GuidOf(created)

		By("streaming the bits slowly and killing the daemon mid-body")
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		req, err := http.NewRequest("PUT", cf.URL+"/v2/apps/"+guid+"/bits?async=true", pr)
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Authorization", "bearer "+cf.Token)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		done := make(chan error, 1)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		Expect(mw.WriteField("resources", "[]")).To(Succeed())
		part, err := mw.CreateFormFile("application", "application.zip")
		Expect(err).NotTo(HaveOccurred())
		_, err = part.Write(cfclient.AppZip(helloApp)[:40])
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() ([]string, error) { return filepath.Glob(filepath.Join(cfg.StateDir, "tmp", "*")) }).ShouldNot(BeEmpty())
		session.Kill()
		Eventually(session).Should(gexec.Exit())
		_ = pw.CloseWithError(fmt.Errorf("killed"))
		Eventually(done).Should(Receive())

		By("after a restart: no package, no leftovers, and the push works")
		start()
		cf.Login("admin", "admin")
		app := cf.FindApp("killed")
		Expect(cfclient.Entity(app)["package_updated_at"]).To(BeNil())
		Expect(filepath.Glob(filepath.Join(cfg.StateDir, "tmp", "*"))).To(BeEmpty())
		Expect(filepath.Glob(filepath.Join(cfg.StateDir, "packages", "*"))).To(BeEmpty())
		cf.Push("killed", helloApp, eventually)
		Expect(session).NotTo(gexec.Exit())
		Eventually(session.Out).ShouldNot(gbytes.Say(`"level":"ERROR"`))
	})

	It("refuses a config without secrets", func() {
		cfg.TokenSigningSecret = "short"
		s := daemontest.Start(ccBin, cfg, "")
		Eventually(s).Should(gexec.Exit(2))
		Expect(s.Err).To(gbytes.Say("token_signing_secret"))
	})
})

// expiredToken re-signs tok's claims with exp in the past.
func expiredToken(api, tok string) string {
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	Expect(err).NotTo(HaveOccurred())
	var claims map[string]any
	Expect(json.Unmarshal(payload, &claims)).To(Succeed())
	claims["exp"] = time.Now().Add(-time.Minute).Unix()
	raw, _ := json.Marshal(claims)
	signing := parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

var _ = net.JoinHostPort
