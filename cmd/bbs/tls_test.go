package main_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	clientv3 "go.etcd.io/etcd/client/v3"

	bbsconfig "diego/bbs/config"
	"diego/test/etcdrunner"
)

var _ = Describe("against an etcd that requires client certificates", func() {
	It("stores records through the etcd block's mutual TLS", func() {
		tlsETCD, proc, err := etcdrunner.StartTLS(GinkgoT().TempDir(), GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(tlsETCD.Stop(proc)).To(Succeed()) })

		p := startBBS(false, func(c *bbsconfig.Config) { c.ETCD = tlsETCD.ETCDBlock() })
		client := newClient(p)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		Expect(client.UpsertDomain(ctx, "tls-domain", time.Minute)).To(Succeed())
		Expect(client.Domains(ctx)).To(ContainElement("tls-domain"))

		etcdClient, err := tlsETCD.Client()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(etcdClient.Close)
		resp, err := etcdClient.Get(ctx, "/diego", clientv3.WithPrefix(), clientv3.WithKeysOnly())
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Kvs).NotTo(BeEmpty())
	})
})
