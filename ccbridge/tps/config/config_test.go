package config_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/ccbridge/tps/config"
)

func load(contents string) (config.Config, error) {
	path := filepath.Join(GinkgoT().TempDir(), "tps.json")
	Expect(os.WriteFile(path, []byte(contents), 0o644)).To(Succeed())
	return config.Load(path)
}

var _ = Describe("TPS's config", func() {
	It("has the spec's defaults (bridge §1.3, §4, §9.2)", func() {
		cfg, err := load(`{}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.ListenAddr).To(Equal("0.0.0.0:1518"))
		Expect(cfg.MaxInFlightRequests).To(Equal(200))
		Expect(cfg.BulkLRPStatusWorkers).To(Equal(15))
		Expect(cfg.MaxEventHandlingWorkers).To(Equal(500))
		Expect(cfg.DopplerURL).To(Equal("http://127.0.0.1:8084"))
	})

	DescribeTable("refuses bad settings", func(contents, problem string) {
		_, err := load(contents)
		Expect(err).To(MatchError(ContainSubstring(problem)))
	},
		Entry("an unknown key", `{"bogus":1}`, "bogus"),
		Entry("a doppler URL without a scheme", `{"doppler_url":"d:8084"}`, "doppler_url"),
		Entry("no in-flight requests", `{"max_in_flight_requests":0}`, "max_in_flight_requests"),
		Entry("no etcd", `{"etcd":{"endpoints":[]}}`, "etcd.endpoints"),
	)
})
