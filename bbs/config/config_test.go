package config_test

import (
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/bbs/config"
	dconfig "diego/deploy/config"
)

func load(contents string) (config.Config, error) {
	path := filepath.Join(GinkgoT().TempDir(), "bbs.json")
	Expect(os.WriteFile(path, []byte(contents), 0o644)).To(Succeed())
	return config.Load(path)
}

var _ = Describe("Config", func() {
	It("has the documented defaults, and they are valid", func() {
		cfg, err := load(`{}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.ListenAddr).To(Equal("0.0.0.0:8889"))
		Expect(cfg.HealthAddress).To(Equal("127.0.0.1:8890"))
		Expect(cfg.ETCD.Endpoints).To(Equal([]string{"http://127.0.0.1:2379"}))
		Expect(cfg.Root).To(Equal("/diego"))
		Expect(cfg.CommunicationTimeout.Duration()).To(Equal(10 * time.Second))
		Expect(cfg.MaxTaskRetries).To(BeEquivalentTo(3))
		Expect(cfg.TaskCallbackWorkers).To(Equal(1000))
		Expect(cfg.ConvergenceWorkers).To(Equal(20))
		Expect(cfg.MaxRequestBytes).To(BeEquivalentTo(1 << 20))
		Expect(cfg.DropsondePort).To(Equal(3457))
		Expect(cfg.RecordCache).To(BeTrue())
		Expect(cfg.GroupCommit).To(BeTrue())
		Expect(cfg.TLS()).To(BeFalse())
		Expect(cfg.Validate()).To(Succeed())
	})

	It("reads keys over the defaults", func() {
		cfg, err := load(`{"listen_addr": "127.0.0.1:9000", "convergence_workers": 4, "group_commit": false, "etcd": {"endpoints": ["http://e1:2379"]}}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.ListenAddr).To(Equal("127.0.0.1:9000"))
		Expect(cfg.ConvergenceWorkers).To(Equal(4))
		Expect(cfg.GroupCommit).To(BeFalse())
		Expect(cfg.ETCD.Endpoints).To(Equal([]string{"http://e1:2379"}))
		Expect(cfg.TaskCallbackWorkers).To(Equal(1000))
	})

	It("names every bad setting at once", func() {
		_, err := load(`{"listen_addr": "nope", "convergence_workers": 0, "task_callback_workers": -1,
			"root": "diego", "max_request_bytes": 0, "cert_file": "c", "log_level": "loud"}`)
		Expect(err).To(HaveOccurred())
		for _, want := range []string{"listen_addr", "convergence_workers must be positive", "task_callback_workers must be positive",
			"root", "max_request_bytes", "cert_file needs key_file and ca_file", "log_level"} {
			Expect(err.Error()).To(ContainSubstring(want))
		}
	})

	It("reads the rep and auctioneer client TLS keys, and refuses half of them", func() {
		cfg, err := load(`{"rep_ca_cert": "ca", "rep_client_cert": "c", "rep_client_key": "k", "rep_require_tls": true,
			"auctioneer_ca_cert": "aca", "auctioneer_client_cert": "ac", "auctioneer_client_key": "ak", "auctioneer_require_tls": true}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.RepTLS()).To(Equal(dconfig.ClientTLS{CACert: "ca", ClientCert: "c", ClientKey: "k", RequireTLS: true}))
		Expect(cfg.AuctioneerTLS()).To(Equal(dconfig.ClientTLS{CACert: "aca", ClientCert: "ac", ClientKey: "ak", RequireTLS: true}))

		_, err = load(`{"rep_client_cert": "c", "auctioneer_require_tls": true}`)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("rep_ca_cert, rep_client_cert and rep_client_key go together"))
		Expect(err.Error()).To(ContainSubstring("auctioneer_require_tls needs auctioneer_ca_cert, auctioneer_client_cert and auctioneer_client_key"))
	})

	It("refuses an unreadable file with its reason", func() {
		_, err := load(`{"convergence_workers": "many"}`)
		Expect(err).To(MatchError(ContainSubstring("bbs")))
	})
})
