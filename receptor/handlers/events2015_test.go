package handlers_test

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/models"
	"diego/receptor/handlers"
)

// Desired LRP events carry actions in the 2015 form, as the routes do
// (spec core §3.5, decision 37).
var _ = Describe("2015 forms in events", func() {
	It("fills a timeout action's 2015 timeout (ns) in desired LRP events, and leaves the BBS event alone", func() {
		monitor := models.WrapAction(&models.TimeoutAction{
			Action:    models.WrapAction(&models.RunAction{Path: "/bin/true", User: "vcap"}),
			TimeoutMs: 2500,
		})
		bbsEvent := &models.DesiredLRPChangedEvent{
			Before: &models.DesiredLRP{ProcessGuid: "pg", Monitor: monitor},
			After:  &models.DesiredLRP{ProcessGuid: "pg", Monitor: monitor, Instances: 2},
		}
		e, ok := handlers.ConvertEvent(bbsEvent)
		Expect(ok).To(BeTrue())
		data, err := json.Marshal(e)
		Expect(err).NotTo(HaveOccurred())

		var raw map[string]map[string]json.RawMessage
		Expect(json.Unmarshal(data, &raw)).To(Succeed())
		want := `{"timeout":{"action":{"run":{"path":"/bin/true","user":"vcap","suppress_log_output":false,"volume_mounted_files":null}},"timeout":2500000000,"timeout_ms":2500}}`
		Expect(string(raw["desired_lrp_before"]["monitor"])).To(MatchJSON(want))
		Expect(string(raw["desired_lrp_after"]["monitor"])).To(MatchJSON(want))
		Expect(monitor.GetTimeoutAction().GetDeprecatedTimeoutNs()).To(BeZero())
	})
})
