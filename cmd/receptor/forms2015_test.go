package main_test

import (
	"encoding/json"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	bbsclient "diego/bbs/client"
)

// The 2015 forms through the real receptor and BBS (spec core §1.7, §3.5;
// decision 37): a timeout action's "timeout" in nanoseconds lands in the BBS
// as timeout_ms and reads back in the 2015 form.
var _ = Describe("2015 forms through the receptor binary", func() {
	var (
		url string
		bbs *bbsclient.Client
	)

	const run2015 = `{"run":{"path":"/bin/sh","args":["-c","sleep 1"],"user":"vcap","privileged":true}}`

	BeforeEach(func() {
		Expect(etcd.Reset()).To(Succeed())
		var bbsURL string
		url, bbsURL = startBBSAndReceptor()
		var err error
		bbs, err = bbsclient.New(bbsclient.Config{URL: bbsURL})
		Expect(err).NotTo(HaveOccurred())
	})

	// field reads one key of a JSON object.
	field := func(body, key string) string {
		GinkgoHelper()
		var m map[string]json.RawMessage
		Expect(json.Unmarshal([]byte(body), &m)).To(Succeed())
		return string(m[key])
	}

	It("stores a 2015 task's timeout (ns) as timeout_ms and reads it back in the 2015 form", func() {
		status, body := rawCall("POST", url+"/v1/tasks", `{
			"task_guid":"task-2015","domain":"d","rootfs":"preloaded:cflinuxfs2","memory_mb":64,"disk_mb":64,
			"action":{"serial":{"actions":[
				{"timeout":{"action":`+run2015+`,"timeout":90000000000,"log_source":"T"}},
				{"try":{"action":{"timeout":{"action":`+run2015+`,"timeout":1500000}}}}
			]}}}`)
		Expect(status).To(Equal(http.StatusCreated), body)

		task, err := bbs.TaskByGuid(ctx, "task-2015")
		Expect(err).NotTo(HaveOccurred())
		steps := task.GetTaskDefinition().GetAction().GetSerialAction().GetActions()
		Expect(steps).To(HaveLen(2))
		Expect(steps[0].GetTimeoutAction().GetTimeoutMs()).To(Equal(int64(90000)))
		Expect(steps[0].GetTimeoutAction().GetDeprecatedTimeoutNs()).To(BeZero())
		Expect(steps[0].GetTimeoutAction().GetAction().GetRunAction().GetUser()).To(Equal("vcap"))
		Expect(steps[1].GetTryAction().GetAction().GetTimeoutAction().GetTimeoutMs()).To(Equal(int64(2)))

		status, body = rawCall("GET", url+"/v1/tasks/task-2015", "")
		Expect(status).To(Equal(http.StatusOK), body)
		Expect(field(body, "action")).To(MatchJSON(`{"serial":{"actions":[
			{"timeout":{"action":{"run":{"path":"/bin/sh","args":["-c","sleep 1"],"user":"vcap","suppress_log_output":false,"volume_mounted_files":null}},
				"timeout":90000000000,"log_source":"T","timeout_ms":90000}},
			{"try":{"action":{"timeout":{"action":{"run":{"path":"/bin/sh","args":["-c","sleep 1"],"user":"vcap","suppress_log_output":false,"volume_mounted_files":null}},
				"timeout":2000000,"timeout_ms":2}}}}
		]}}`))
		Expect(field(body, "state")).To(Equal(`"PENDING"`))
	})

	It("stores a 2015 LRP's setup and monitor timeouts as timeout_ms and its start_timeout in ms, and reads them back in the 2015 form", func() {
		status, body := rawCall("POST", url+"/v1/desired_lrps", `{
			"process_guid":"pg-2015","domain":"d","rootfs":"preloaded:cflinuxfs2","instances":0,
			"setup":{"timeout":{"action":`+run2015+`,"timeout":30000000000}},
			"action":`+run2015+`,
			"monitor":{"timeout":{"action":`+run2015+`,"timeout":1000000000}},
			"start_timeout":60,"ports":[8080],"memory_mb":64,"disk_mb":64}`)
		Expect(status).To(Equal(http.StatusCreated), body)

		lrp, err := bbs.DesiredLRPByProcessGuid(ctx, "pg-2015")
		Expect(err).NotTo(HaveOccurred())
		Expect(lrp.GetSetup().GetTimeoutAction().GetTimeoutMs()).To(Equal(int64(30000)))
		Expect(lrp.GetMonitor().GetTimeoutAction().GetTimeoutMs()).To(Equal(int64(1000)))
		Expect(lrp.GetMonitor().GetTimeoutAction().GetDeprecatedTimeoutNs()).To(BeZero())
		Expect(lrp.GetStartTimeoutMs()).To(Equal(int64(60000)))

		status, body = rawCall("GET", url+"/v1/desired_lrps/pg-2015", "")
		Expect(status).To(Equal(http.StatusOK), body)
		Expect(field(body, "setup")).To(MatchJSON(`{"timeout":{"action":{"run":{"path":"/bin/sh","args":["-c","sleep 1"],"user":"vcap","suppress_log_output":false,"volume_mounted_files":null}},
			"timeout":30000000000,"timeout_ms":30000}}`))
		Expect(field(body, "monitor")).To(MatchJSON(`{"timeout":{"action":{"run":{"path":"/bin/sh","args":["-c","sleep 1"],"user":"vcap","suppress_log_output":false,"volume_mounted_files":null}},
			"timeout":1000000000,"timeout_ms":1000}}`))
		Expect(field(body, "start_timeout")).To(Equal("60"))
	})

	It("refuses a 2015 timeout of zero with 400 InvalidTask naming timeout_ms", func() {
		status, body := rawCall("POST", url+"/v1/tasks", `{"task_guid":"task-zero","domain":"d","rootfs":"preloaded:cflinuxfs2",
			"action":{"timeout":{"action":`+run2015+`,"timeout":0}}}`)
		Expect(status).To(Equal(http.StatusBadRequest))
		Expect(field(body, "name")).To(Equal(`"InvalidTask"`))
		Expect(field(body, "message")).To(ContainSubstring("Invalid field: timeout_ms"))
	})
})
