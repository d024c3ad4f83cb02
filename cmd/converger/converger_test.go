package main_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

var _ = Describe("The converger binary", func() {
	BeforeEach(func() {
		Expect(etcd.Reset()).To(Succeed())
	})

	It("converges only while it holds the lock; a standby takes over within the lock TTL", func() {
		urlA, passesA := fakeBBS()
		urlB, passesB := fakeBBS()
		a := startConverger("a", urlA)
		Eventually(passesA.Load, 10*time.Second).Should(BeNumerically(">=", 2), "the first converger holds the lock and converges")
		b := startConverger("b", urlB)
		Consistently(passesB.Load, 2*time.Second).Should(BeZero(), "the standby waits for the lock")

		a.Kill()
		Eventually(a).Should(gexec.Exit())
		killedAt := time.Now()
		Eventually(passesB.Load, 10*time.Second).Should(BeNumerically(">=", 1))
		Expect(time.Since(killedAt)).To(BeNumerically("<", 3*time.Second+2*time.Second), "within the TTL (3 s) and a retry")
		Expect(b).NotTo(gexec.Exit())
	})

	It("refuses a bad config, naming every problem", func() {
		session := startConvergerWithRaw(`{"bbs_address":"","lock_ttl":"0s","log_level":"loud"}`)
		Eventually(session).Should(gexec.Exit(2))
		Expect(string(session.Err.Contents())).To(And(ContainSubstring("bbs_address"), ContainSubstring("lock_ttl"), ContainSubstring("log_level")))
	})
})
