package recipe_test

import (
	"encoding/json"
	"os"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/ccbridge/lifecycle"
	"diego/ccbridge/stager"
	"diego/ccbridge/stager/recipe"
	"diego/models"
	"diego/receptor"
)

func golden(name string) string {
	GinkgoHelper()
	b, err := os.ReadFile("testdata/" + name)
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

var cfg = recipe.Config{
	CallbackURL:   "http://127.0.0.1:8888",
	FileServerURL: "http://127.0.0.1:8080",
	CCUploaderURL: "http://127.0.0.1:8080",
	Lifecycles:    map[string]string{"buildpack/cflinuxfs3": "buildpack_app_lifecycle/buildpack_app_lifecycle.tgz"},
}

func request() stager.StagingRequestFromCC {
	GinkgoHelper()
	var req stager.StagingRequestFromCC
	Expect(json.Unmarshal([]byte(golden("staging_request.json")), &req)).To(Succeed())
	return req
}

var _ = Describe("the staging task", func() {
	It("is §2.4's task, in the receptor's form, exactly", func() {
		task, err := cfg.BuildTask("A-T", request())
		Expect(err).NotTo(HaveOccurred())
		out, err := json.Marshal(task)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchJSON(golden("staging_task.json")))
	})

	It("is a task the receptor accepts as valid", func() {
		task, err := cfg.BuildTask("A-T", request())
		Expect(err).NotTo(HaveOccurred())
		Expect(receptor.TaskFromRequest(task).Validate()).To(Succeed())
	})

	It("puts the buildpacks where the builder looks for them", func() {
		task, err := cfg.BuildTask("A-T", request())
		Expect(err).NotTo(HaveOccurred())
		serial := task.Action.GetTimeoutAction().GetAction().GetSerialAction().GetActions()
		Expect(serial[1].GetDownloadAction().GetTo()).To(Equal(lifecycle.BuildpackPath("/tmp/buildpacks", "binary_buildpack")))
		Expect(serial[1].GetDownloadAction().GetTo()).To(Equal("/tmp/buildpacks/a7347ba2cca93a0c5033dac10d7a5bba"), "md5 of the key, as md5sum has it")
	})

	It("skips detection only for a single buildpack that asks to", func() {
		req := request()
		var data stager.BuildpackStagingData
		Expect(json.Unmarshal(*req.LifecycleData, &data)).To(Succeed())
		data.Buildpacks = data.Buildpacks[:1]
		data.Buildpacks[0].SkipDetect = true
		raw, _ := json.Marshal(data)
		msg := json.RawMessage(raw)
		req.LifecycleData = &msg
		task, err := cfg.BuildTask("A-T", req)
		Expect(err).NotTo(HaveOccurred())
		Expect(builderArgs(task)).To(ContainElement("-skipDetect=true"))
		Expect(builderArgs(task)).To(ContainElement("-buildpackOrder=binary_buildpack"))
	})

	It("uses the default timeout for a timeout of zero, and an http lifecycle URL as is", func() {
		req := request()
		req.Timeout = 0
		c := cfg
		c.Lifecycles = map[string]string{"buildpack/cflinuxfs3": "https://blobs.example.com/lifecycle.tgz"}
		task, err := c.BuildTask("A-T", req)
		Expect(err).NotTo(HaveOccurred())
		Expect(task.Action.GetTimeoutAction().GetTimeoutMs()).To(Equal(int64(900_000)))
		serial := task.Action.GetTimeoutAction().GetAction().GetSerialAction().GetActions()
		Expect(serial[0].GetDownloadAction().GetFrom()).To(Equal("https://blobs.example.com/lifecycle.tgz"))
		Expect(task.Action.GetTimeoutAction().GetAction().GetSerialAction().GetActions()[len(serial)-1].
			GetEmitProgressAction().GetAction().GetParallelAction().GetActions()[0].GetUploadAction().GetTo()).
			To(HaveSuffix("&timeout=900"))
	})

	It("sets no nofile limit when the request has no file_descriptors", func() {
		req := request()
		req.FileDescriptors = 0
		task, err := cfg.BuildTask("A-T", req)
		Expect(err).NotTo(HaveOccurred())
		for _, a := range task.Action.GetTimeoutAction().GetAction().GetSerialAction().GetActions() {
			if run := a.GetEmitProgressAction().GetAction().GetRunAction(); run != nil {
				Expect(run.GetResourceLimits()).To(BeNil())
				return
			}
		}
		Fail("no builder run in the task")
	})

	It("refuses a lifecycle bundle with an unknown URL scheme", func() {
		c := cfg
		c.Lifecycles = map[string]string{"buildpack/cflinuxfs3": "ftp://x/y.tgz"}
		_, err := c.BuildTask("A-T", request())
		Expect(err).To(MatchError(ContainSubstring(stager.UnsupportedLifecycleScheme)))
	})

	DescribeTable("validates in §2.4's order",
		func(change func(*stager.StagingRequestFromCC, *stager.BuildpackStagingData), want error) {
			req := request()
			var data stager.BuildpackStagingData
			Expect(json.Unmarshal(*req.LifecycleData, &data)).To(Succeed())
			change(&req, &data)
			if req.LifecycleData != nil {
				raw, _ := json.Marshal(data)
				msg := json.RawMessage(raw)
				req.LifecycleData = &msg
			}
			_, err := cfg.BuildTask("A-T", req)
			Expect(err).To(MatchError(want))
		},
		Entry("no lifecycle data", func(r *stager.StagingRequestFromCC, d *stager.BuildpackStagingData) {
			r.LifecycleData = nil
			r.AppId = ""
		}, recipe.ErrMissingLifecycleData),
		Entry("no app id", func(r *stager.StagingRequestFromCC, d *stager.BuildpackStagingData) {
			r.AppId = ""
			d.AppBitsDownloadUri = ""
		}, recipe.ErrMissingAppID),
		Entry("no app bits", func(r *stager.StagingRequestFromCC, d *stager.BuildpackStagingData) {
			d.AppBitsDownloadUri = ""
			d.Stack = "nope"
		}, recipe.ErrMissingAppBits),
		Entry("no lifecycle for the stack", func(r *stager.StagingRequestFromCC, d *stager.BuildpackStagingData) {
			d.Stack = "nope"
		}, recipe.ErrNoCompilerDefined),
	)
})

var _ = Describe("the staging response", func() {
	It("passes the builder's result.json through verbatim", func() {
		resp, err := recipe.Response(&models.TaskCallbackResponse{
			TaskGuid: "A-T", Result: golden("result.json"),
		})
		Expect(err).NotTo(HaveOccurred())
		out, err := json.Marshal(resp)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchJSON(golden("staging_response_success.json")))
	})

	It("carries a sanitised error for a failed task", func() {
		resp, err := recipe.Response(&models.TaskCallbackResponse{
			TaskGuid: "A-T", Failed: true, FailureReason: "Exited with status 222",
		})
		Expect(err).NotTo(HaveOccurred())
		out, err := json.Marshal(resp)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchJSON(golden("staging_response_failure.json")))
	})

	It("refuses a result that is not JSON", func() {
		_, err := recipe.Response(&models.TaskCallbackResponse{TaskGuid: "A-T", Result: "{not json"})
		Expect(err).To(HaveOccurred())
	})

	DescribeTable("sanitises failure reasons as §2.6 says",
		func(reason, id, message string) {
			Expect(recipe.Sanitize(reason)).To(Equal(stager.StagingError{Id: id, Message: message}))
		},
		Entry(nil, "Exited with status 222", "NoAppDetectedError", "staging failed"),
		Entry(nil, "Exited with status 223", "BuildpackCompileFailed", "staging failed"),
		Entry(nil, "Exited with status 224", "BuildpackReleaseFailed", "staging failed"),
		Entry(nil, "Exited with status 225", "StagingError", "staging failed"),
		Entry(nil, "insufficient resources: memory", "InsufficientResources", "insufficient resources: memory"),
		Entry(nil, "found no compatible cell for stack x", "NoCompatibleCell", "found no compatible cell for stack x"),
		Entry(nil, "unable to communicate to compatible cells", "CellCommunicationError", "unable to communicate to compatible cells"),
		Entry(nil, "missing docker registry", "StagingError", "missing docker registry"),
		Entry(nil, "task was cancelled", "StagingError", "staging failed"),
		Entry(nil, "secret path /var/vcap leaked", "StagingError", "staging failed"),
	)
})

var _ = Describe("the lifecycles config", func() {
	It("splits on the first colon and refuses an empty side", func() {
		m, err := recipe.ParseLifecycles([]string{"buildpack/cflinuxfs3:http://x:8080/l.tgz"})
		Expect(err).NotTo(HaveOccurred())
		Expect(m).To(Equal(map[string]string{"buildpack/cflinuxfs3": "http://x:8080/l.tgz"}))
		_, err = recipe.ParseLifecycles([]string{"buildpack/cflinuxfs3:"})
		Expect(err).To(HaveOccurred())
		_, err = recipe.ParseLifecycles([]string{":x"})
		Expect(err).To(HaveOccurred())
	})
})

func builderArgs(task receptor.TaskCreateRequest) []string {
	for _, a := range task.Action.GetTimeoutAction().GetAction().GetSerialAction().GetActions() {
		if run := a.GetEmitProgressAction().GetAction().GetRunAction(); run != nil {
			return run.GetArgs()
		}
	}
	return nil
}
