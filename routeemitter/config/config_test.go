package config_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/routeemitter/config"
	routerconfig "diego/routeemitter/router/config"
)

var _ = Describe("The route-emitter's config", func() {
	write := func(body string) string {
		path := filepath.Join(GinkgoT().TempDir(), "c.json")
		Expect(os.WriteFile(path, []byte(body), 0o644)).To(Succeed())
		return path
	}

	It("defaults to Diego's settings, which validate", func() {
		cfg := config.DefaultConfig()
		Expect(cfg.Validate()).To(Succeed())
		Expect(cfg.SyncInterval.String()).To(Equal("1m0s"))
		Expect(cfg.UnregistrationSendCount).To(Equal(20))
		Expect(cfg.HealthcheckAddress).To(Equal("127.0.0.1:17011"))
		Expect(routerconfig.DefaultConfig().Validate()).To(Succeed())
	})

	It("reads the NATS block: several servers, TLS when a CA is given", func() {
		cfg, err := config.Load(write(`{"nats_addresses":"10.0.0.1:4222, 10.0.0.2:4222","nats_ca_cert_file":"/ca.crt"}`))
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.Servers()).To(Equal([]string{"tls://10.0.0.1:4222", "tls://10.0.0.2:4222"}))
		Expect(config.NATS{NATSAddresses: "127.0.0.1:4222"}.Servers()).To(Equal([]string{"nats://127.0.0.1:4222"}))
	})

	It("names every bad setting", func() {
		_, err := config.Load(write(`{"receptor_url":"receptor:8887","nats_addresses":"nohost","sync_interval":"0s",
			"jitter_factor":1.5,"nats_client_cert_file":"/c.crt","unregistration_send_count":0}`))
		Expect(err).To(MatchError(And(ContainSubstring("receptor_url"), ContainSubstring("nats_addresses entry"),
			ContainSubstring("sync_interval"), ContainSubstring("jitter_factor"), ContainSubstring("nats_client_cert_file"),
			ContainSubstring("unregistration_send_count"))))
	})
})
