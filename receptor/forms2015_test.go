package receptor_test

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/models"
	"diego/receptor"
)

// Golden specs for the 2015 action forms (spec core §1.7, §1.2, §3.5): what a
// 2015 client posts, what the BBS stores, and what the client reads back.
// Each action kind has its 2015 keys; the timeout action's "timeout" is in
// nanoseconds and becomes timeout_ms (decision 37).

// run2015 is a 2015 run action, with the pre-June-2015 "privileged" key
// that diego ignores (decision 14 of the spec).
const run2015 = `{"run":{"path":"/bin/sh","args":["-c","true"],"dir":"/tmp","env":[{"name":"A","value":"b"}],` +
	`"resource_limits":{"nofile":1024},"user":"vcap","privileged":true,"log_source":"APP"}}`

// runStored is the same run action in the model's JSON (the BBS form).
const runStored = `{"run":{"path":"/bin/sh","args":["-c","true"],"dir":"/tmp","env":[{"name":"A","value":"b"}],` +
	`"resource_limits":{"nofile":1024},"user":"vcap","log_source":"APP","suppress_log_output":false,"volume_mounted_files":null}}`

// taskWithAction posts a 2015 task whose action is the given JSON and
// returns the model the receptor hands to the BBS.
func taskWithAction(action string) *models.Task {
	GinkgoHelper()
	body := `{"task_guid":"t-1","domain":"d","rootfs":"preloaded:cflinuxfs2","action":` + action + `}`
	var req receptor.TaskCreateRequest
	Expect(json.Unmarshal([]byte(body), &req)).To(Succeed())
	return receptor.TaskFromRequest(req)
}

func actionJSON(a *models.Action) string {
	GinkgoHelper()
	b, err := json.Marshal(a)
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

var _ = Describe("2015 action forms", func() {
	DescribeTable("a 2015 action is stored in the model's form and read back in the 2015 form",
		func(posted, stored, readBack string) {
			task := taskWithAction(posted)
			Expect(task.Validate()).To(Succeed())
			Expect(actionJSON(task.GetTaskDefinition().GetAction())).To(MatchJSON(stored))

			resp := receptor.TaskToResponse(task)
			Expect(actionJSON(resp.Action)).To(MatchJSON(readBack))
			// Reading must not change what the BBS holds.
			Expect(actionJSON(task.GetTaskDefinition().GetAction())).To(MatchJSON(stored))
		},
		Entry("core §1.7 download: from, to, cache_key, user, artifact, log_source",
			`{"download":{"artifact":"droplet","from":"http://fs/d.tgz","to":"/home/vcap","cache_key":"k","user":"vcap","log_source":"DL"}}`,
			`{"download":{"artifact":"droplet","from":"http://fs/d.tgz","to":"/home/vcap","cache_key":"k","log_source":"DL","user":"vcap"}}`,
			`{"download":{"artifact":"droplet","from":"http://fs/d.tgz","to":"/home/vcap","cache_key":"k","log_source":"DL","user":"vcap"}}`),
		Entry("core §1.7 upload: from, to, user, artifact, log_source",
			`{"upload":{"artifact":"result","from":"/tmp/out","to":"http://fs/up","user":"vcap","log_source":"UP"}}`,
			`{"upload":{"artifact":"result","from":"/tmp/out","to":"http://fs/up","log_source":"UP","user":"vcap"}}`,
			`{"upload":{"artifact":"result","from":"/tmp/out","to":"http://fs/up","log_source":"UP","user":"vcap"}}`),
		Entry("core §1.7 run: path, args, dir, env, resource_limits{nofile}, user; a stray privileged is dropped (core §7 decision 14)",
			run2015, runStored, runStored),
		Entry("core §1.7 timeout: 2015 timeout (ns) becomes timeout_ms and reads back as both",
			`{"timeout":{"action":`+run2015+`,"timeout":15000000000,"log_source":"T"}}`,
			`{"timeout":{"action":`+runStored+`,"log_source":"T","timeout_ms":15000}}`,
			`{"timeout":{"action":`+runStored+`,"timeout":15000000000,"log_source":"T","timeout_ms":15000}}`),
		Entry("core §1.7 timeout: a sub-millisecond remainder rounds up (decision 37)",
			`{"timeout":{"action":`+run2015+`,"timeout":1500000}}`,
			`{"timeout":{"action":`+runStored+`,"timeout_ms":2}}`,
			`{"timeout":{"action":`+runStored+`,"timeout":2000000,"timeout_ms":2}}`),
		Entry("core §1.7 timeout: a modern timeout_ms wins over a 2015 timeout",
			`{"timeout":{"action":`+run2015+`,"timeout":1000000000,"timeout_ms":3000}}`,
			`{"timeout":{"action":`+runStored+`,"timeout_ms":3000}}`,
			`{"timeout":{"action":`+runStored+`,"timeout":3000000000,"timeout_ms":3000}}`),
		Entry("core §1.7 emit_progress: action, start_message, success_message, failure_message_prefix",
			`{"emit_progress":{"action":{"timeout":{"action":`+run2015+`,"timeout":60000000000}},"start_message":"go","success_message":"ok","failure_message_prefix":"bad","log_source":"E"}}`,
			`{"emit_progress":{"action":{"timeout":{"action":`+runStored+`,"timeout_ms":60000}},"start_message":"go","success_message":"ok","failure_message_prefix":"bad","log_source":"E"}}`,
			`{"emit_progress":{"action":{"timeout":{"action":`+runStored+`,"timeout":60000000000,"timeout_ms":60000}},"start_message":"go","success_message":"ok","failure_message_prefix":"bad","log_source":"E"}}`),
		Entry("core §1.7 try: action, log_source",
			`{"try":{"action":{"timeout":{"action":`+run2015+`,"timeout":1000000}},"log_source":"TRY"}}`,
			`{"try":{"action":{"timeout":{"action":`+runStored+`,"timeout_ms":1}},"log_source":"TRY"}}`,
			`{"try":{"action":{"timeout":{"action":`+runStored+`,"timeout":1000000,"timeout_ms":1}},"log_source":"TRY"}}`),
		Entry("core §1.7 parallel: actions, log_source",
			`{"parallel":{"actions":[`+run2015+`,{"timeout":{"action":`+run2015+`,"timeout":2000000000}}],"log_source":"P"}}`,
			`{"parallel":{"actions":[`+runStored+`,{"timeout":{"action":`+runStored+`,"timeout_ms":2000}}],"log_source":"P"}}`,
			`{"parallel":{"actions":[`+runStored+`,{"timeout":{"action":`+runStored+`,"timeout":2000000000,"timeout_ms":2000}}],"log_source":"P"}}`),
		Entry("core §1.7 serial: actions, log_source",
			`{"serial":{"actions":[{"timeout":{"action":`+run2015+`,"timeout":5000000000}},`+run2015+`]}}`,
			`{"serial":{"actions":[{"timeout":{"action":`+runStored+`,"timeout_ms":5000}},`+runStored+`]}}`,
			`{"serial":{"actions":[{"timeout":{"action":`+runStored+`,"timeout":5000000000,"timeout_ms":5000}},`+runStored+`]}}`),
		Entry("core §1.7 codependent: actions, log_source",
			`{"codependent":{"actions":[`+run2015+`,{"timeout":{"action":{"timeout":{"action":`+run2015+`,"timeout":7000000}},"timeout":9000000}}],"log_source":"C"}}`,
			`{"codependent":{"actions":[`+runStored+`,{"timeout":{"action":{"timeout":{"action":`+runStored+`,"timeout_ms":7}},"timeout_ms":9}}],"log_source":"C"}}`,
			`{"codependent":{"actions":[`+runStored+`,{"timeout":{"action":{"timeout":{"action":`+runStored+`,"timeout":7000000,"timeout_ms":7}},"timeout":9000000,"timeout_ms":9}}],"log_source":"C"}}`),
	)

	It("refuses a 2015 timeout that is not positive, naming timeout_ms (core §1.7)", func() {
		task := taskWithAction(`{"timeout":{"action":` + run2015 + `,"timeout":0}}`)
		Expect(task.Validate()).To(MatchError(ContainSubstring("Invalid field: timeout_ms")))
		task = taskWithAction(`{"timeout":{"action":` + run2015 + `,"timeout":-5}}`)
		Expect(task.Validate()).To(MatchError(ContainSubstring("Invalid field: timeout_ms")))
	})

	It("converts the setup, action and monitor of a 2015 desired LRP and its start_timeout in seconds (core §3.5)", func() {
		body := `{"process_guid":"pg-1","domain":"d","rootfs":"preloaded:cflinuxfs2","instances":1,
			"setup":{"timeout":{"action":` + run2015 + `,"timeout":30000000000}},
			"action":` + run2015 + `,
			"monitor":{"timeout":{"action":` + run2015 + `,"timeout":500000000}},
			"start_timeout":60,"ports":[8080]}`
		var req receptor.DesiredLRPCreateRequest
		Expect(json.Unmarshal([]byte(body), &req)).To(Succeed())
		lrp := receptor.DesiredLRPFromRequest(req)
		Expect(lrp.Validate()).To(Succeed())
		Expect(lrp.GetSetup().GetTimeoutAction().GetTimeoutMs()).To(Equal(int64(30000)))
		Expect(lrp.GetSetup().GetTimeoutAction().GetDeprecatedTimeoutNs()).To(BeZero())
		Expect(lrp.GetMonitor().GetTimeoutAction().GetTimeoutMs()).To(Equal(int64(500)))
		Expect(lrp.GetStartTimeoutMs()).To(Equal(int64(60000)))

		resp, err := json.Marshal(receptor.DesiredLRPToResponse(lrp))
		Expect(err).NotTo(HaveOccurred())
		var got map[string]json.RawMessage
		Expect(json.Unmarshal(resp, &got)).To(Succeed())
		Expect(string(got["setup"])).To(MatchJSON(`{"timeout":{"action":` + runStored + `,"timeout":30000000000,"timeout_ms":30000}}`))
		Expect(string(got["action"])).To(MatchJSON(runStored))
		Expect(string(got["monitor"])).To(MatchJSON(`{"timeout":{"action":` + runStored + `,"timeout":500000000,"timeout_ms":500}}`))
		Expect(string(got["start_timeout"])).To(Equal("60"))
	})

	It("writes a null setup and monitor when the LRP has none, as the 2015 receptor did", func() {
		resp, err := json.Marshal(receptor.DesiredLRPToResponse(&models.DesiredLRP{ProcessGuid: "pg", Action: runAction}))
		Expect(err).NotTo(HaveOccurred())
		var got map[string]json.RawMessage
		Expect(json.Unmarshal(resp, &got)).To(Succeed())
		Expect(string(got["setup"])).To(Equal("null"))
		Expect(string(got["monitor"])).To(Equal("null"))
	})
})
