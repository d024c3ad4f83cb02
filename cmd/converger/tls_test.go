package main_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	convergerconfig "diego/converger/config"
	"diego/test/etcdrunner"
)

var _ = Describe("against an etcd that requires client certificates", func() {
	It("holds its lock and converges through the etcd block's mutual TLS", func() {
		tlsETCD, proc, err := etcdrunner.StartTLS(GinkgoT().TempDir(), GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(tlsETCD.Stop(proc)).To(Succeed()) })

		bbsURL, passes := fakeBBS()
		session := startConverger("converger-tls", bbsURL, func(c *convergerconfig.Config) { c.ETCD = tlsETCD.ETCDBlock() })
		Eventually(session.Out, 20*time.Second).Should(gbytes.Say(`"msg":"ready"`))
		Eventually(passes.Load, 10*time.Second).Should(BeNumerically(">", 0))

		client, err := tlsETCD.Client()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(client.Close)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := client.Get(ctx, "/diego/v1/locks/converger")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Kvs).To(HaveLen(1))
		Expect(string(resp.Kvs[0].Value)).To(ContainSubstring("converger-tls"))
	})
})
