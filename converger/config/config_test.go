package config_test

import (
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/converger/config"
	deployconfig "diego/deploy/config"
)

func load(contents string) (config.Config, error) {
	path := filepath.Join(GinkgoT().TempDir(), "converger.json")
	Expect(os.WriteFile(path, []byte(contents), 0o644)).To(Succeed())
	return config.Load(path)
}

var _ = Describe("Config", func() {
	It("has the defaults", func() {
		cfg, err := load(`{}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.ID).NotTo(BeEmpty())
		Expect(cfg.BBSAddress).To(Equal("http://127.0.0.1:8889"))
		Expect(cfg.ETCD).To(Equal(deployconfig.ETCD{Endpoints: []string{"http://127.0.0.1:2379"}}))
		Expect(cfg.Root).To(Equal("/diego"))
		Expect(cfg.ConvergeRepeatInterval.Duration()).To(Equal(30 * time.Second))
		Expect(cfg.LogLevel).To(Equal("info"))
	})

	It("reads the shared blocks: the etcd object with its TLS files, and the flat bbs_* keys", func() {
		cfg, err := load(`{"id": "c-1", "log_level": "debug", "debug_address": "127.0.0.1:17018",
			"bbs_address": "https://bbs:8889", "bbs_ca_cert_file": "ca", "bbs_client_cert_file": "c", "bbs_client_key_file": "k",
			"etcd": {"endpoints": ["https://e1:2379"], "ca_file": "eca", "cert_file": "ec", "key_file": "ek"}}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.ETCD).To(Equal(deployconfig.ETCD{Endpoints: []string{"https://e1:2379"}, CAFile: "eca", CertFile: "ec", KeyFile: "ek"}))
		Expect(cfg.BBSClient).To(Equal(deployconfig.BBSClient{BBSAddress: "https://bbs:8889", BBSCACertFile: "ca",
			BBSClientCertFile: "c", BBSClientKeyFile: "k"}))
		Expect(cfg.Settings()).To(Equal(deployconfig.Common{LogLevel: "debug", DebugAddress: "127.0.0.1:17018"}))
	})

	It("refuses the old etcd_endpoints key, naming the new one", func() {
		_, err := load(`{"etcd_endpoints": ["http://e1:2379"]}`)
		Expect(err).To(MatchError(ContainSubstring("etcd_endpoints is no longer a key: use etcd.endpoints")))
	})

	It("reports every bad setting at once", func() {
		_, err := load(`{"id": "", "bbs_address": "https://bbs:8889", "etcd": {"endpoints": ["http://e1:2379"], "cert_file": "c"},
			"root": "diego", "lock_ttl": "0s", "log_level": "loud"}`)
		Expect(err).To(HaveOccurred())
		for _, want := range []string{"id must not be empty", "an https bbs_address needs", "etcd.cert_file and etcd.key_file go together",
			"must be https:// when the etcd block has TLS files", `root "diego" must start with /`, "lock_ttl must be positive", "log_level"} {
			Expect(err.Error()).To(ContainSubstring(want))
		}
	})
})
