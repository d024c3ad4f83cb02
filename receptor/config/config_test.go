package config_test

import (
	"os"
	"path/filepath"

	"diego/receptor/config"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func load(body string) (config.Config, error) {
	GinkgoHelper()
	path := filepath.Join(GinkgoT().TempDir(), "receptor.json")
	Expect(os.WriteFile(path, []byte(body), 0o644)).To(Succeed())
	return config.Load(path)
}

var _ = Describe("Config", func() {
	It("has the spec's defaults", func() {
		cfg, err := load(`{}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.ListenAddr).To(Equal("0.0.0.0:8887"))
		Expect(cfg.BBSAddress).To(Equal("http://127.0.0.1:8889"))
		Expect(cfg.LogLevel).To(Equal("info"))
	})

	It("reports every problem at once", func() {
		_, err := load(`{"listen_addr":"nope","bbs_address":"bbs:8889","password":"p","log_level":"loud"}`)
		Expect(err).To(MatchError(And(
			ContainSubstring(`listen_addr "nope" is not host:port`),
			ContainSubstring(`bbs_address "bbs:8889" must start with http:// or https://`),
			ContainSubstring("password needs username"),
			ContainSubstring("log_level"))))
	})

	It("needs the TLS files for an https BBS", func() {
		_, err := load(`{"bbs_address":"https://bbs:8889"}`)
		Expect(err).To(MatchError(ContainSubstring("bbs_ca_cert_file")))
	})

	It("refuses unknown keys", func() {
		_, err := load(`{"unknown":1}`)
		Expect(err).To(MatchError(ContainSubstring(`unknown field "unknown"`)))
	})
})
