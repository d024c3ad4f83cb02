package cloudcontroller_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"diego/ccbridge/ccclient"
	"diego/ccbridge/cloudcontroller"
	"diego/ccbridge/cloudcontroller/config"
	"diego/ccbridge/stager"
	"diego/ccbridge/tps"
	"diego/deploy/clock/fakeclock"
)

type fakeBridge struct {
	mu       sync.Mutex
	stages   []string
	stopped  []string
	stageErr error
}

func (f *fakeBridge) Stage(_ context.Context, g string, _ stager.StagingRequestFromCC) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stages = append(f.stages, g)
	return f.stageErr
}
func (f *fakeBridge) StopStaging(_ context.Context, g string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, g)
	return nil
}
func (f *fakeBridge) Desire(context.Context, string, ccclient.DesireAppRequestFromCC) error {
	return nil
}
func (f *fakeBridge) StopApp(context.Context, string) error                        { return nil }
func (f *fakeBridge) KillIndex(context.Context, string, int) error                 { return nil }
func (f *fakeBridge) Instances(context.Context, string) ([]tps.LRPInstance, error) { return nil, nil }
func (f *fakeBridge) Stats(context.Context, string, string) ([]tps.LRPInstance, error) {
	return nil, nil
}
func (f *fakeBridge) BulkStatus(context.Context, []string) (map[string][]tps.LRPInstance, error) {
	return nil, nil
}
func (f *fakeBridge) stagesSeen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string{}, f.stages...)
}

var _ = Describe("Tokens", func() {
	tokens := cloudcontroller.NewTokens("0123456789abcdef0123456789abcdef", "http://cc/uaa/oauth/token")
	now := time.Unix(1700000000, 0)
	claims := cloudcontroller.Claims{UserID: "u", UserName: "ädmin>?~", Iss: "http://cc/uaa/oauth/token", TokenUse: "access",
		Exp: now.Unix() + 60, Scope: cloudcontroller.Scopes}

	It("writes a payload the CLI's standard-alphabet decoder reads (the ASCII rule)", func() {
		tok, err := tokens.Sign(claims)
		Expect(err).NotTo(HaveOccurred())
		payload := strings.Split(tok, ".")[1]
		Expect(payload).NotTo(ContainSubstring("-"))
		Expect(payload).NotTo(ContainSubstring("_"))
		padded := payload + strings.Repeat("=", (4-len(payload)%4)%4)
		raw, err := base64.StdEncoding.DecodeString(padded)
		Expect(err).NotTo(HaveOccurred())
		var back map[string]any
		Expect(json.Unmarshal(raw, &back)).To(Succeed())
		Expect(back["user_name"]).To(Equal("ädmin>?~"))
	})

	It("verifies signature, algorithm, use, issuer and expiry", func() {
		tok, _ := tokens.Sign(claims)
		_, err := tokens.Verify(tok, "access", now)
		Expect(err).NotTo(HaveOccurred())
		_, err = tokens.Verify(tok, "refresh", now)
		Expect(err).To(HaveOccurred())
		_, err = tokens.Verify(tok, "access", now.Add(time.Minute))
		Expect(err).To(HaveOccurred(), "exp = now is expired: no leeway")
		other := cloudcontroller.NewTokens("another-secret-another-secret-xx", "http://cc/uaa/oauth/token")
		_, err = other.Verify(tok, "access", now)
		Expect(err).To(HaveOccurred())
		parts := strings.Split(tok, ".")
		none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
		_, err = tokens.Verify(none, "access", now)
		Expect(err).To(HaveOccurred())
	})
})

var _ = Describe("Server", func() {
	var (
		cfg    config.Config
		clk    *fakeclock.FakeClock
		bridge *fakeBridge
		server *cloudcontroller.Server
		store  *cloudcontroller.Store
		api    *httptest.Server
		token  string
	)

	open := func() {
		var err error
		store, err = cloudcontroller.OpenStore(cfg.StateDir)
		Expect(err).NotTo(HaveOccurred())
		server, err = cloudcontroller.New(cfg, store, slog.New(slog.NewTextHandler(GinkgoWriter, nil)), clk, bridge)
		Expect(err).NotTo(HaveOccurred())
		h, err := server.Handler()
		Expect(err).NotTo(HaveOccurred())
		api = httptest.NewServer(h)
		req, _ := http.NewRequest("POST", api.URL+"/uaa/oauth/token", strings.NewReader(url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"admin"}}.Encode()))
		req.SetBasicAuth("cf", "")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		var tok map[string]any
		Expect(json.NewDecoder(resp.Body).Decode(&tok)).To(Succeed())
		resp.Body.Close()
		token = tok["access_token"].(string)
	}
	closeAll := func() { api.Close(); Expect(store.Close()).To(Succeed()) }

	call := func(method, path string, body io.Reader, ctype string) (int, map[string]any) {
		req, _ := http.NewRequest(method, api.URL+path, body)
		req.Header.Set("Authorization", "bearer "+token)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}

	BeforeEach(func() {
		cfg = config.DefaultConfig()
		cfg.StateDir = GinkgoT().TempDir()
		cfg.InternalAPIPassword = "pw"
		cfg.TokenSigningSecret = "0123456789abcdef0123456789abcdef"
		clk = fakeclock.NewFakeClock(time.Now())
		bridge = &fakeBridge{}
		open()
		DeferCleanup(func() { closeAll() })
	})

	// stagingApp creates an app with bits and starts it (staging in flight).
	stagingApp := func() string {
		_, spaces := call("GET", "/v2/spaces/x", nil, "")
		_ = spaces
		_, orgs := call("GET", "/v2/organizations?inline-relations-depth=1", nil, "")
		space := orgs["resources"].([]any)[0].(map[string]any)["entity"].(map[string]any)["spaces"].([]any)[0].(map[string]any)["metadata"].(map[string]any)["guid"].(string)
		body, _ := json.Marshal(map[string]any{"name": "a", "space_guid": space})
		s, app := call("POST", "/v2/apps", bytes.NewReader(body), "application/json")
		Expect(s).To(Equal(201))
		guid := app["metadata"].(map[string]any)["guid"].(string)
		buf := &bytes.Buffer{}
		mw := multipart.NewWriter(buf)
		_ = mw.WriteField("resources", `[]`)
		part, _ := mw.CreateFormFile("application", "application.zip")
		_, _ = part.Write(zipOf("run.sh", "echo hi"))
		_ = mw.Close()
		s, _ = call("PUT", "/v2/apps/"+guid+"/bits", buf, mw.FormDataContentType())
		Expect(s).To(Equal(201))
		s, _ = call("PUT", "/v2/apps/"+guid, strings.NewReader(`{"state":"STARTED"}`), "application/json")
		Expect(s).To(Equal(201))
		return guid
	}

	It("answers a stager that refuses with FAILED StagerError in the same PUT", func() {
		bridge.stageErr = errors.New("status 503")
		guid := stagingApp()
		_, app := call("GET", "/v2/apps/"+guid, nil, "")
		e := app["entity"].(map[string]any)
		Expect(e["package_state"]).To(Equal("FAILED"))
		Expect(e["staging_failed_reason"]).To(Equal("StagerError"))
	})

	It("re-sends a staging in flight at start and fails it after staging_timeout + 5 min", func() {
		guid := stagingApp()
		Expect(bridge.stagesSeen()).To(HaveLen(1))
		closeAll()
		open()
		proc := ifrit.Invoke(ifrit.RunFunc(server.Janitor()))
		DeferCleanup(func() { proc.Signal(os.Interrupt); Eventually(proc.Wait()).Should(Receive()) })
		Eventually(bridge.stagesSeen).Should(HaveLen(2))
		Expect(bridge.stagesSeen()[1]).To(Equal(bridge.stagesSeen()[0]), "the same staging guid")

		clk.Increment(cfg.StagingTimeout.Duration() + 5*time.Minute + cloudcontroller.JanitorInterval)
		Eventually(func() any {
			_, app := call("GET", "/v2/apps/"+guid, nil, "")
			return app["entity"].(map[string]any)["staging_failed_reason"]
		}).Should(Equal("StagingTimeExpired"))
		Eventually(func() []string {
			bridge.mu.Lock()
			defer bridge.mu.Unlock()
			return append([]string{}, bridge.stopped...)
		}).Should(HaveLen(1))
	})
})
