package config_test

import (
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/ccbridge/nsync/config"
)

func load(contents string) (config.Config, error) {
	path := filepath.Join(GinkgoT().TempDir(), "nsync.json")
	Expect(os.WriteFile(path, []byte(contents), 0o644)).To(Succeed())
	return config.Load(path)
}

var _ = Describe("nsync's config", func() {
	It("has the spec's defaults (bridge §1.3, §3.4)", func() {
		cfg, err := load(`{}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.ListenAddr).To(Equal("0.0.0.0:8787"))
		Expect(cfg.CCPollingInterval.Duration()).To(Equal(30 * time.Second))
		Expect(cfg.CCBulkBatchSize).To(Equal(500))
		Expect(cfg.DomainTTL.Duration()).To(Equal(2 * time.Minute))
		Expect(cfg.BBSUpdateLRPWorkers).To(Equal(50))
		Expect(cfg.CommunicationTimeout.Duration()).To(Equal(30 * time.Second))
		Expect(cfg.LockTTL.Duration()).To(Equal(15 * time.Second))
		Expect(cfg.LockRetryInterval.Duration()).To(Equal(5 * time.Second))
	})

	It("reads the keys", func() {
		cfg, err := load(`{"cc_base_url":"http://cc:9022","cc_polling_interval":"2s","domain_ttl":"6s",
			"lifecycles":["buildpack/s:x/y.tgz"],"receptor_url":"http://r:8887","file_server_url":"http://fs:8080"}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.CCBaseURL).To(Equal("http://cc:9022"))
		Expect(cfg.Lifecycles).To(Equal([]string{"buildpack/s:x/y.tgz"}))
	})

	DescribeTable("refuses bad settings", func(contents, problem string) {
		_, err := load(contents)
		Expect(err).To(MatchError(ContainSubstring(problem)))
	},
		Entry("an unknown key", `{"bogus":1}`, "bogus"),
		Entry("a receptor URL without a scheme", `{"receptor_url":"r:8887"}`, "receptor_url"),
		Entry("a lifecycle without a path", `{"lifecycles":["buildpack/s"]}`, "lifecycles"),
		Entry("a domain TTL shorter than the polling interval", `{"domain_ttl":"10s"}`, "domain_ttl"),
		Entry("a zero batch size", `{"cc_bulk_batch_size":0}`, "cc_bulk_batch_size"),
		Entry("a bad listen address", `{"listen_addr":"nope"}`, "listen_addr"),
	)
})
