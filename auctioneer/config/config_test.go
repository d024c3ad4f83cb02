package config_test

import (
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/auctioneer/auctionrunner"
	"diego/auctioneer/config"
)

func load(contents string) (config.Config, error) {
	path := filepath.Join(GinkgoT().TempDir(), "auctioneer.json")
	Expect(os.WriteFile(path, []byte(contents), 0o644)).To(Succeed())
	return config.Load(path)
}

var _ = Describe("Config", func() {
	It("has the spec's defaults", func() {
		cfg, err := load(`{}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.ListenAddr).To(Equal("0.0.0.0:9016"))
		Expect(cfg.Advertise()).To(Equal("http://0.0.0.0:9016"))
		Expect(cfg.ID).NotTo(BeEmpty())
		Expect(cfg.Root).To(Equal("/diego"))
		Expect(cfg.LockTTL.Duration()).To(Equal(15 * time.Second))
		Expect(cfg.LockRetryInterval.Duration()).To(Equal(5 * time.Second))
		Expect(cfg.CellStateTimeout.Duration()).To(Equal(10 * time.Second))
		Expect(cfg.CommunicationTimeout.Duration()).To(Equal(10 * time.Second))
		Expect(cfg.AuctionRunnerWorkers).To(Equal(1000))
		Expect(cfg.Scheduler()).To(Equal(auctionrunner.Config{
			StartingContainerWeight: 0.25, BinPackFirstFitWeight: 0, LRPSpreadWeight: 1000, TaskSpreadWeight: 1000,
			StartingContainerCountMaximum: 0,
		}))
		Expect(cfg.LogLevel).To(Equal("info"))
	})

	It("reads every key", func() {
		cfg, err := load(`{
			"listen_addr": "127.0.0.1:9999", "advertise_address": "http://10.0.0.5:9999", "id": "a-1",
			"bbs_address": "https://bbs:8889", "bbs_ca_cert_file": "ca", "bbs_client_cert_file": "c", "bbs_client_key_file": "k",
			"etcd": {"endpoints": ["https://e1:2379", "https://e2:2379"], "ca_file": "eca", "cert_file": "ec", "key_file": "ek"},
			"root": "/x", "lock_ttl": "3s", "lock_retry_interval": "1s", "cell_state_timeout": "2s", "communication_timeout": "4s",
			"auction_runner_workers": 7, "starting_container_weight": 0.5, "bin_pack_first_fit_weight": 0.1,
			"lrp_spread_weight": 1, "task_spread_weight": 0, "starting_container_count_maximum": 20, "log_level": "debug"
		}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.Advertise()).To(Equal("http://10.0.0.5:9999"))
		Expect(cfg.ID).To(Equal("a-1"))
		Expect(cfg.ETCD.Endpoints).To(HaveLen(2))
		Expect(cfg.LockTTL.Duration()).To(Equal(3 * time.Second))
		Expect(cfg.CellStateTimeout.Duration()).To(Equal(2 * time.Second))
		Expect(cfg.AuctionRunnerWorkers).To(Equal(7))
		Expect(cfg.Scheduler()).To(Equal(auctionrunner.Config{
			StartingContainerWeight: 0.5, BinPackFirstFitWeight: 0.1, LRPSpreadWeight: 1, TaskSpreadWeight: 0,
			StartingContainerCountMaximum: 20,
		}))
	})

	It("advertises http://<listen_addr> by default", func() {
		cfg, err := load(`{"listen_addr": "10.1.2.3:9016"}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.Advertise()).To(Equal("http://10.1.2.3:9016"))
	})

	It("refuses the old flat etcd_* keys, naming the etcd block's", func() {
		_, err := load(`{"etcd_endpoints": ["http://e1:2379"], "etcd_cert_file": "c"}`)
		Expect(err).To(MatchError(ContainSubstring("etcd_endpoints is no longer a key: use etcd.endpoints")))
		Expect(err).To(MatchError(ContainSubstring("etcd_cert_file is no longer a key: use etcd.cert_file")))
	})

	It("rejects unknown keys and bare-number durations", func() {
		_, err := load(`{"listen_address": "x"}`)
		Expect(err).To(MatchError(ContainSubstring("listen_address")))
		_, err = load(`{"lock_ttl": 15}`)
		Expect(err).To(MatchError(ContainSubstring("lock_ttl")))
	})

	It("reports every bad setting at once", func() {
		_, err := load(`{
			"listen_addr": "nope", "advertise_address": "10.0.0.5", "id": "", "bbs_address": "bbs:8889",
			"etcd": {"endpoints": [], "cert_file": "c"}, "root": "diego", "lock_ttl": "0s", "cell_state_timeout": "-1s",
			"auction_runner_workers": 0, "lrp_spread_weight": -1, "starting_container_count_maximum": -1, "log_level": "loud"
		}`)
		Expect(err).To(HaveOccurred())
		for _, want := range []string{
			`listen_addr "nope" is not host:port`, `advertise_address "10.0.0.5"`, "id must not be empty",
			`bbs_address "bbs:8889" must start with http:// or https://`, "etcd.endpoints must list at least one URL",
			"etcd.cert_file and etcd.key_file go together", `root "diego" must start with /`, "lock_ttl must be positive",
			"cell_state_timeout must be positive", "auction_runner_workers must be positive",
			"lrp_spread_weight must not be negative", "starting_container_count_maximum must not be negative", "log_level",
		} {
			Expect(err.Error()).To(ContainSubstring(want))
		}
	})

	It("serves mutual TLS with the three server files, advertising https", func() {
		cfg, err := load(`{"listen_addr": "10.1.2.3:9016", "ca_cert_file": "/c/ca.crt", "server_cert_file": "/c/s.crt", "server_key_file": "/c/s.key",
			"rep_ca_cert": "/c/ca.crt", "rep_client_cert": "/c/r.crt", "rep_client_key": "/c/r.key", "rep_require_tls": true}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.TLS()).To(BeTrue())
		Expect(cfg.Advertise()).To(Equal("https://10.1.2.3:9016"))
		Expect(cfg.RepTLS().RequireTLS).To(BeTrue())
		Expect(cfg.RepTLS().ClientCert).To(Equal("/c/r.crt"))
	})

	It("refuses half a TLS setup and an advertise_address whose scheme disagrees with it", func() {
		_, err := load(`{"server_cert_file": "/c/s.crt", "rep_client_cert": "/c/r.crt", "rep_require_tls": true,
			"advertise_address": "http://10.0.0.5:9016"}`)
		Expect(err).To(HaveOccurred())
		for _, want := range []string{
			"ca_cert_file, server_cert_file and server_key_file go together",
			"rep_ca_cert, rep_client_cert and rep_client_key go together",
			"rep_require_tls needs rep_ca_cert, rep_client_cert and rep_client_key",
			`advertise_address "http://10.0.0.5:9016" must be https:// exactly when`,
		} {
			Expect(err.Error()).To(ContainSubstring(want))
		}
	})

	It("needs the client certificate files for an https BBS", func() {
		_, err := load(`{"bbs_address": "https://bbs:8889"}`)
		Expect(err).To(MatchError(ContainSubstring("bbs_ca_cert_file, bbs_client_cert_file and bbs_client_key_file")))
	})
})
