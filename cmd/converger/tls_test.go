package main_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"diego/test/etcdrunner"
)

var _ = Describe("against an etcd that requires client certificates", func() {
	It("holds its lock and converges through the etcd block's mutual TLS", func() {
		tlsETCD, proc, err := etcdrunner.StartTLS(GinkgoT().TempDir(), GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(tlsETCD.Stop(proc)).To(Succeed()) })

		bbsURL, passes := fakeBBS()
		cfg, err := json.Marshal(map[string]any{
			"id": "converger-tls", "bbs_address": bbsURL, "etcd": tlsETCD.ETCDBlock(),
			"lock_ttl": "3s", "lock_retry_interval": "500ms", "converge_repeat_interval": "200ms",
			"communication_timeout": "2s",
		})
		Expect(err).NotTo(HaveOccurred())
		path := filepath.Join(GinkgoT().TempDir(), "converger.json")
		Expect(os.WriteFile(path, cfg, 0o644)).To(Succeed())
		session, err := gexec.Start(exec.Command(convergerPath, "-config", path), GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { session.Kill().Wait(5 * time.Second) })

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
