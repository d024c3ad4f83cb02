package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"diego/ccbridge/stager"
	"diego/ccbridge/stager/config"
	dconfig "diego/deploy/config"
	"diego/receptor"
	receptorclient "diego/receptor/client"
	"diego/test/ports"
	"diego/test/stagingcc"
)

const guid = "11111111-2222-3333-4444-555555555555-T1"

var _ = Describe("the stager binary", func() {
	var (
		cc        *stagingcc.CC
		receptorC *receptorclient.Client
		stagerURL string
		ctx       = context.Background()
	)

	BeforeEach(func() {
		receptorURL := startBBSAndReceptor()
		var err error
		receptorC, err = receptorclient.New(receptorclient.Config{URL: receptorURL})
		Expect(err).NotTo(HaveOccurred())
		cc = stagingcc.New("internal", "secret")
		DeferCleanup(cc.Close)

		cfg := config.DefaultConfig()
		cfg.ListenAddr = ports.Addr()
		stagerURL = "http://" + cfg.ListenAddr
		cfg.StagingTaskCallbackURL = stagerURL
		cfg.ReceptorAddress = receptorURL
		cfg.CCBaseURL = cc.Server.URL
		cfg.CCBasicAuthUsername, cfg.CCBasicAuthPassword = "internal", "secret"
		cfg.CommunicationTimeout = dconfig.Duration(5 * time.Second)
		cfg.LogLevel = "debug"
		start("stager", cfg, true)
	})

	request := func(change func(map[string]any)) []byte {
		GinkgoHelper()
		req := map[string]any{
			"app_id": "11111111-2222-3333-4444-555555555555", "log_guid": "app", "memory_mb": 128, "disk_mb": 256,
			"file_descriptors": 1024, "timeout": 60, "lifecycle": "buildpack",
			"environment": []map[string]string{{"name": "MEMORY_LIMIT", "value": "128m"}},
			"lifecycle_data": map[string]any{
				"app_bits_download_uri": cc.URL() + "/staging/apps/app",
				"droplet_upload_uri":    cc.URL() + "/staging/droplets/app/upload",
				"buildpacks":            []map[string]any{{"name": "binary", "key": "binary", "url": "http://127.0.0.1:1/binary.zip"}},
				"stack":                 "cflinuxfs3",
			},
			"completion_callback": cc.Server.URL + "/internal/staging/" + guid + "/completed",
		}
		if change != nil {
			change(req)
		}
		b, err := json.Marshal(req)
		Expect(err).NotTo(HaveOccurred())
		return b
	}
	do := func(method, path string, body []byte) (int, string) {
		GinkgoHelper()
		req, err := http.NewRequest(method, stagerURL+path, bytes.NewReader(body))
		Expect(err).NotTo(HaveOccurred())
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		text, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(text)
	}
	callback := func(taskGuid, annotation string, failed bool, reason, result string) []byte {
		b, _ := json.Marshal(map[string]any{"task_guid": taskGuid, "failed": failed, "failure_reason": reason,
			"result": result, "annotation": annotation, "created_at": time.Now().UnixNano()})
		return b
	}
	annotation := func(cb string) string {
		b, _ := json.Marshal(stager.StagingTaskAnnotation{Lifecycle: "buildpack", CompletionCallback: cb})
		return string(b)
	}
	const result = `{"lifecycle_metadata":{"buildpack_key":"binary","detected_buildpack":"Binary"},"process_types":{"web":"./app-binary"},"execution_metadata":"","lifecycle_type":"buildpack"}`

	Describe("PUT /v1/staging/:staging_guid", func() {
		It("desires the staging task through the receptor and answers 202, also when it exists already", func() {
			status, _ := do(http.MethodPut, "/v1/staging/"+guid, request(nil))
			Expect(status).To(Equal(http.StatusAccepted))
			task, err := receptorC.GetTask(ctx, guid)
			Expect(err).NotTo(HaveOccurred())
			Expect(task.Domain).To(Equal("cf-app-staging"))
			Expect(task.RootFS).To(Equal("preloaded:cflinuxfs3"))
			Expect(task.LogSource).To(Equal("STG"))
			Expect(task.ResultFile).To(Equal("/tmp/result.json"))
			Expect(task.CompletionCallbackURL).To(Equal(stagerURL + "/v1/staging/" + guid + "/completed"))
			Expect(task.Annotation).To(MatchJSON(annotation(cc.Server.URL + "/internal/staging/" + guid + "/completed")))

			status, _ = do(http.MethodPut, "/v1/staging/"+guid, request(nil))
			Expect(status).To(Equal(http.StatusAccepted))
		})

		It("answers 400 for a body that is not JSON", func() {
			status, _ := do(http.MethodPut, "/v1/staging/"+guid, []byte("{nope"))
			Expect(status).To(Equal(http.StatusBadRequest))
		})

		It("answers 404 for a lifecycle with no backend (docker)", func() {
			status, _ := do(http.MethodPut, "/v1/staging/"+guid, request(func(r map[string]any) { r["lifecycle"] = "docker" }))
			Expect(status).To(Equal(http.StatusNotFound))
		})

		DescribeTable("answers 500 with a sanitised StagingError for a request it cannot build",
			func(change func(map[string]any)) {
				status, body := do(http.MethodPut, "/v1/staging/"+guid, request(change))
				Expect(status).To(Equal(http.StatusInternalServerError))
				Expect(body).To(MatchJSON(`{"error":{"id":"StagingError","message":"staging failed"}}`))
				_, err := receptorC.GetTask(ctx, guid)
				Expect(err).To(MatchError(ContainSubstring("not found")))
			},
			Entry("no app id", func(r map[string]any) { delete(r, "app_id") }),
			Entry("no lifecycle data", func(r map[string]any) { delete(r, "lifecycle_data") }),
			Entry("no app bits", func(r map[string]any) {
				delete(r["lifecycle_data"].(map[string]any), "app_bits_download_uri")
			}),
			Entry("a stack with no lifecycle", func(r map[string]any) { r["lifecycle_data"].(map[string]any)["stack"] = "windows" }),
			Entry("a request the receptor refuses (no memory to speak of, bad guid)", func(r map[string]any) {
				r["memory_mb"] = -1
			}),
		)
	})

	Describe("DELETE /v1/staging/:staging_guid", func() {
		It("answers 404 for an unknown staging guid", func() {
			status, _ := do(http.MethodDelete, "/v1/staging/unknown-guid", nil)
			Expect(status).To(Equal(http.StatusNotFound))
		})

		It("cancels the task with 202, and CC still hears of it, as a StagingError, through the BBS's callback", func() {
			status, _ := do(http.MethodPut, "/v1/staging/"+guid, request(nil))
			Expect(status).To(Equal(http.StatusAccepted))
			status, _ = do(http.MethodDelete, "/v1/staging/"+guid, nil)
			Expect(status).To(Equal(http.StatusAccepted))
			Eventually(cc.Completions, 20*time.Second).Should(HaveLen(1))
			c := cc.Completions()[0]
			Expect(c.StagingGuid).To(Equal(guid))
			Expect(c.Body).To(MatchJSON(`{"error":{"id":"StagingError","message":"staging failed"}}`))
			Eventually(func() error { _, err := receptorC.GetTask(ctx, guid); return err }, 10*time.Second).
				Should(MatchError(ContainSubstring("not found")), "the BBS deletes the task once the callback has succeeded")
		})

		It("answers 500 for a task whose annotation is not the stager's", func() {
			Expect(receptorC.CreateTask(ctx, receptor.TaskCreateRequest{
				TaskGuid: "foreign", Domain: "other", RootFS: "preloaded:cflinuxfs3", Annotation: "not json",
				Action: mustAction(`{"run":{"path":"true","user":"vcap"}}`),
			})).To(Succeed())
			status, _ := do(http.MethodDelete, "/v1/staging/foreign", nil)
			Expect(status).To(Equal(http.StatusInternalServerError))
		})
	})

	Describe("POST /v1/staging/:staging_guid/completed", func() {
		It("posts the result to the request's completion callback with the configured basic auth, and answers 200", func() {
			status, _ := do(http.MethodPost, "/v1/staging/"+guid+"/completed",
				callback(guid, annotation(strings.Replace(cc.URL(), "secret", "wrong", 1)+"/internal/staging/"+guid+"/completed"), false, "", result))
			Expect(status).To(Equal(http.StatusOK))
			Expect(cc.Completions()).To(HaveLen(1))
			Expect(cc.Completions()[0].Body).To(MatchJSON(`{"result":` + result + `}`))
		})

		It("falls back to <cc_base_url>/internal/staging/<guid>/completed", func() {
			status, _ := do(http.MethodPost, "/v1/staging/"+guid+"/completed",
				callback(guid, annotation(""), true, "Exited with status 223", ""))
			Expect(status).To(Equal(http.StatusOK))
			Expect(cc.Completions()).To(HaveLen(1))
			Expect(cc.Completions()[0].StagingGuid).To(Equal(guid))
			Expect(cc.Completions()[0].Body).To(MatchJSON(`{"error":{"id":"BuildpackCompileFailed","message":"staging failed"}}`))
		})

		It("answers with CC's status when CC refuses", func() {
			cc.SetCompletedStatus(http.StatusServiceUnavailable)
			status, _ := do(http.MethodPost, "/v1/staging/"+guid+"/completed", callback(guid, annotation(""), false, "", result))
			Expect(status).To(Equal(http.StatusServiceUnavailable))
			cc.SetCompletedStatus(http.StatusForbidden)
			status, _ = do(http.MethodPost, "/v1/staging/"+guid+"/completed", callback(guid, annotation(""), false, "", result))
			Expect(status).To(Equal(http.StatusForbidden))
		})

		It("answers 503 when CC cannot be reached, so that the BBS retries", func() {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			Expect(err).NotTo(HaveOccurred())
			dead := "http://" + l.Addr().String() + "/internal/staging/" + guid + "/completed"
			Expect(l.Close()).To(Succeed())
			status, _ := do(http.MethodPost, "/v1/staging/"+guid+"/completed", callback(guid, annotation(dead), false, "", result))
			Expect(status).To(Equal(http.StatusServiceUnavailable))
		})

		DescribeTable("refuses a callback it cannot use",
			func(body func() []byte, want int) {
				status, _ := do(http.MethodPost, "/v1/staging/"+guid+"/completed", body())
				Expect(status).To(Equal(want))
				Expect(cc.Completions()).To(BeEmpty())
			},
			Entry("not JSON: 400", func() []byte { return []byte("{nope") }, http.StatusBadRequest),
			Entry("another task's guid: 400", func() []byte { return callback("other-guid", annotation(""), false, "", result) }, http.StatusBadRequest),
			Entry("an annotation that is not JSON: 400", func() []byte { return callback(guid, "nope", false, "", result) }, http.StatusBadRequest),
			Entry("a result that is not JSON: 400", func() []byte { return callback(guid, annotation(""), false, "", "{nope") }, http.StatusBadRequest),
			Entry("a lifecycle with no backend: 404", func() []byte {
				return callback(guid, `{"lifecycle":"docker","completion_callback":""}`, false, "", result)
			}, http.StatusNotFound),
		)
	})

	It("answers 404 for an unknown route", func() {
		status, _ := do(http.MethodGet, "/v1/staging/"+guid, nil)
		Expect(status).To(Or(Equal(http.StatusNotFound), Equal(http.StatusMethodNotAllowed)))
	})

	It("refuses a bad config, naming every problem", func() {
		cfg := config.DefaultConfig()
		cfg.ReceptorAddress = "receptor:8887"
		cfg.Lifecycles = []string{"buildpack/cflinuxfs3"}
		cfg.LogLevel = "loud"
		s := start("stager", cfg, false)
		Eventually(s).Should(gexec.Exit(2))
		Expect(string(s.Err.Contents())).To(And(ContainSubstring("receptor_address"), ContainSubstring("lifecycles"),
			ContainSubstring("log_level")))
	})
})
