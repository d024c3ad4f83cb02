package main_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	auctioneerconfig "diego/auctioneer/config"
	"diego/test/etcdrunner"
)

var _ = Describe("against an etcd that requires client certificates", func() {
	It("holds its lock through the etcd block's mutual TLS and serves auctions", func() {
		tlsETCD, proc, err := etcdrunner.StartTLS(GinkgoT().TempDir(), GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(tlsETCD.Stop(proc)).To(Succeed()) })

		p := startAuctioneer("auctioneer-tls", "http://127.0.0.1:1", func(c *auctioneerconfig.Config) {
			c.ETCD = tlsETCD.ETCDBlock()
		})
		Eventually(p.session.Out, 20*time.Second).Should(gbytes.Say(`"msg":"ready"`))

		client, err := tlsETCD.Client()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(client.Close)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := client.Get(ctx, "/diego/v1/locks/auctioneer")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Kvs).To(HaveLen(1))
		Expect(string(resp.Kvs[0].Value)).To(ContainSubstring(p.url()))
	})
})
