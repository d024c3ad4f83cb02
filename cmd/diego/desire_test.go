package main_test

import (
	"path/filepath"
	"runtime"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
)

var _ = Describe("desire-lrp", func() {
	var env []string

	BeforeEach(func() {
		url := startStack()
		env = []string{"DIEGO_RECEPTOR=" + url, "DIEGO_USERNAME=user", "DIEGO_PASSWORD=secret"}
	})

	run := func(env []string, stdin string, args ...string) *gexec.Session {
		GinkgoHelper()
		s := diego(env, stdin, args...)
		Eventually(s, 10*time.Second).Should(gexec.Exit())
		return s
	}

	It("desires the example's modern LRP, check_definition included, through the BBS", func() {
		_, self, _, _ := runtime.Caller(0)
		example := filepath.Join(filepath.Dir(self), "..", "..", "deploy", "examples", "lrp-check.json")
		s := run(append(env, "BBS_URL="+bbsURL), "", "desire-lrp", example)
		Expect(s).To(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say("desired LRP checked-lrp through the BBS"))

		s = run(env, "", "actual-lrps", "checked-lrp")
		Expect(s).To(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`checked-lrp\s+0\s+UNCLAIMED`))
		Expect(run(env, "", "desired-lrp", "checked-lrp").Out.Contents()).To(ContainSubstring(`"ports": [`))
	})

	It("says what is missing or wrong", func() {
		s := run(env, `{"process_guid":"x"}`, "desire-lrp", "-")
		Expect(s).To(gexec.Exit(1))
		Expect(s.Err).To(gbytes.Say(`set \$BBS_URL`))

		s = run(append(env, "BBS_URL="+bbsURL), `{"process_guid":"bad guid","domain":"d"}`, "desire-lrp", "-")
		Expect(s).To(gexec.Exit(1))
		Expect(s.Err).To(gbytes.Say(`desiring bad guid through the BBS.*process_guid`))

		s = run(append(env, "BBS_URL="+bbsURL), `{"process_guid":`, "desire-lrp", "-")
		Expect(s).To(gexec.Exit(1))
		Expect(s.Err).To(gbytes.Say(`the definition in - is not valid`))
	})
})
