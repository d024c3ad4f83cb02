package etcdrunner_test

import (
	"context"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit/ginkgomon_v2"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"diego/test/etcdrunner"
)

var _ = Describe("Runner with TLS", func() {
	It("serves https to clients with a certificate from its CA, and refuses clients without one", func() {
		files, err := etcdrunner.NewTLS(GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		runner := etcdrunner.New(etcdrunner.Config{TLS: files, LogWriter: GinkgoWriter})
		Expect(strings.HasPrefix(runner.ClientURL(), "https://")).To(BeTrue())
		process := ginkgomon_v2.Invoke(runner)
		DeferCleanup(func() {
			ginkgomon_v2.Interrupt(process, "10s")
			Expect(runner.Cleanup()).To(Succeed())
		})

		client, err := runner.Client()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(client.Close)
		Expect(put(client, "/k", "v")).To(Succeed())
		Expect(get(client, "/k")).To(Equal("v"))
		Expect(runner.Reset()).To(Succeed())

		// Plain http to the https listener: no answer.
		plain, err := clientv3.New(clientv3.Config{Endpoints: []string{strings.Replace(runner.ClientURL(), "https", "http", 1)},
			DialTimeout: time.Second, Logger: zap.NewNop()})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(plain.Close)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err = plain.Get(ctx, "/k")
		Expect(err).To(HaveOccurred())

		// TLS that trusts the server but presents no certificate: refused.
		tc, err := transport.TLSInfo{TrustedCAFile: files.CAFile}.ClientConfig()
		Expect(err).NotTo(HaveOccurred())
		anonymous, err := clientv3.New(clientv3.Config{Endpoints: []string{runner.ClientURL()}, TLS: tc,
			DialTimeout: time.Second, Logger: zap.NewNop()})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(anonymous.Close)
		ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel2()
		_, err = anonymous.Get(ctx2, "/k")
		Expect(err).To(HaveOccurred())
	})
})
