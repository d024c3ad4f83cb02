package config_test

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/rep"
	"diego/rep/config"
)

func load(contents string) (config.Config, error) {
	path := filepath.Join(GinkgoT().TempDir(), "rep.json")
	Expect(os.WriteFile(path, []byte(contents), 0o644)).To(Succeed())
	return config.Load(path)
}

var _ = Describe("Config", func() {
	It("has the spec's defaults and requires cell_id", func() {
		_, err := load(`{}`)
		Expect(err).To(MatchError(ContainSubstring("cell_id is required")))

		cfg, err := load(`{"cell_id": "cell-z1-0"}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.ListenAddr).To(Equal("0.0.0.0:1800"))
		Expect(cfg.CellID).To(Equal("cell-z1-0"))
		Expect(cfg.Zone).To(BeEmpty())
		Expect(cfg.PollingInterval.Duration()).To(Equal(30 * time.Second))
		Expect(cfg.EvacuationTimeout.Duration()).To(Equal(10 * time.Minute))
		Expect(cfg.EvacuationPollingInterval.Duration()).To(Equal(10 * time.Second))
		Expect(cfg.EvacuateOnShutdown).To(BeFalse())
		Expect(cfg.ExecutorAddress).To(Equal("http://127.0.0.1:1700"))
		Expect(cfg.BBSAddress).To(Equal("http://127.0.0.1:8889"))
		Expect(cfg.CommunicationTimeout.Duration()).To(Equal(10 * time.Second))
		Expect(cfg.ETCD.Endpoints).To(Equal([]string{"http://127.0.0.1:2379"}))
		Expect(cfg.Root).To(Equal("/diego"))
		Expect(cfg.LockTTL.Duration()).To(Equal(15 * time.Second))
		Expect(cfg.LockRetryInterval.Duration()).To(Equal(5 * time.Second))
		Expect(cfg.DropsondePort).To(Equal(3457))
		Expect(cfg.DebugAddress).To(BeEmpty())
		Expect(cfg.LogLevel).To(Equal("info"))
		Expect(cfg.StackPathMap()).To(BeEmpty())
	})

	It("reads every key", func() {
		cfg, err := load(`{
			"listen_addr": "10.0.0.7:1811", "rep_address": "http://cell-1.example:1811", "debug_address": "127.0.0.1:17008",
			"cell_id": "cell-1", "zone": "z1",
			"polling_interval": "20s", "evacuation_timeout": "5m", "evacuation_polling_interval": "2s", "evacuate_on_shutdown": true,
			"executor_address": "http://127.0.0.1:1701",
			"bbs_address": "https://bbs:8889", "bbs_ca_cert_file": "ca", "bbs_client_cert_file": "c", "bbs_client_key_file": "k",
			"communication_timeout": "3s",
			"etcd": {"endpoints": ["https://e1:2379", "https://e2:2379"], "ca_file": "eca", "cert_file": "ec", "key_file": "ek"},
			"root": "/x", "lock_ttl": "9s", "lock_retry_interval": "3s",
			"preloaded_root_fs": ["cflinuxfs4:/var/lib/rootfs/cflinuxfs4", "busybox:/var/lib/rootfs/busybox"],
			"supported_providers": ["docker"],
			"placement_tags": ["gpu"], "optional_placement_tags": ["ssd"],
			"dropsonde_port": 3500, "log_level": "debug"
		}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.Address()).To(Equal("http://cell-1.example:1811"))
		Expect(cfg.DebugAddress).To(Equal("127.0.0.1:17008"))
		Expect(cfg.Zone).To(Equal("z1"))
		Expect(cfg.PollingInterval.Duration()).To(Equal(20 * time.Second))
		Expect(cfg.EvacuationTimeout.Duration()).To(Equal(5 * time.Minute))
		Expect(cfg.EvacuationPollingInterval.Duration()).To(Equal(2 * time.Second))
		Expect(cfg.EvacuateOnShutdown).To(BeTrue())
		Expect(cfg.ExecutorAddress).To(Equal("http://127.0.0.1:1701"))
		Expect(cfg.ETCD.Endpoints).To(HaveLen(2))
		Expect(cfg.LockTTL.Duration()).To(Equal(9 * time.Second))
		Expect(cfg.LockRetryInterval.Duration()).To(Equal(3 * time.Second))
		Expect(cfg.PlacementTags).To(Equal([]string{"gpu"}))
		Expect(cfg.OptionalPlacementTags).To(Equal([]string{"ssd"}))
		Expect(cfg.DropsondePort).To(Equal(3500))
		Expect(cfg.StackPathMap()).To(Equal(map[string]string{
			"cflinuxfs4": "/var/lib/rootfs/cflinuxfs4", "busybox": "/var/lib/rootfs/busybox",
		}))
		Expect(cfg.Stacks()).To(Equal([]string{"cflinuxfs4", "busybox"}))
	})

	It("offers the preloaded stacks as fixed sets and each supported provider as arbitrary", func() {
		cfg := config.DefaultConfig()
		cfg.PreloadedRootFS = []string{"cflinuxfs4:/a", "busybox:/b"}
		cfg.SupportedProviders = []string{"docker"}
		providers := cfg.RootFSProviders()
		Expect(providers).To(Equal(rep.RootFSProviders{
			"preloaded":       rep.NewFixedSetProvider("cflinuxfs4", "busybox"),
			"preloaded+layer": rep.NewFixedSetProvider("cflinuxfs4", "busybox"),
			"docker":          rep.NewArbitraryProvider(),
		}))
		body, err := json.Marshal(providers)
		Expect(err).NotTo(HaveOccurred())
		Expect(body).To(MatchJSON(`{
			"preloaded": {"type":"fixed_set","set":{"cflinuxfs4":{},"busybox":{}}},
			"preloaded+layer": {"type":"fixed_set","set":{"cflinuxfs4":{},"busybox":{}}},
			"docker": {"type":"arbitrary"}
		}`))
		Expect(providers.MatchRootFS("preloaded:busybox")).To(BeTrue())
		Expect(providers.MatchRootFS("preloaded:other")).To(BeFalse())
		Expect(providers.MatchRootFS("docker:///busybox")).To(BeTrue())
	})

	Describe("the advertised address", func() {
		It("is http://<listen_addr> for a specific listen ip", func() {
			cfg := config.DefaultConfig()
			cfg.ListenAddr = "10.1.2.3:1800"
			Expect(cfg.Address()).To(Equal("http://10.1.2.3:1800"))
		})

		It("uses a non-loopback IPv4 of the host when listening on every interface", func() {
			cfg := config.DefaultConfig()
			address := cfg.Address()
			Expect(address).To(HavePrefix("http://"))
			host, port, err := net.SplitHostPort(strings.TrimPrefix(address, "http://"))
			Expect(err).NotTo(HaveOccurred())
			Expect(port).To(Equal("1800"))
			ip := net.ParseIP(host)
			Expect(ip).NotTo(BeNil())
			Expect(ip.To4()).NotTo(BeNil())
			Expect(ip.IsUnspecified()).To(BeFalse())
		})

		It("skips loopback, link-local and IPv6 addresses, falling back to 127.0.0.1", func() {
			cidr := func(s string) net.Addr {
				ip, n, err := net.ParseCIDR(s)
				Expect(err).NotTo(HaveOccurred())
				n.IP = ip
				return n
			}
			Expect(config.FirstIPv4([]net.Addr{
				cidr("127.0.0.1/8"), cidr("::1/128"), cidr("fe80::1/64"), cidr("169.254.3.4/16"), cidr("10.0.16.4/24"), cidr("192.168.1.2/24"),
			})).To(Equal("10.0.16.4"))
			Expect(config.FirstIPv4([]net.Addr{cidr("127.0.0.1/8"), cidr("2001:db8::1/64")})).To(Equal("127.0.0.1"))
			Expect(config.FirstIPv4(nil)).To(Equal("127.0.0.1"))
		})
	})

	Describe("the securable listener", func() {
		It("is off by default: rep_url is rep_address", func() {
			cfg, err := load(`{"cell_id": "c", "listen_addr": "10.1.2.3:1800"}`)
			Expect(err).NotTo(HaveOccurred())
			Expect(cfg.ListenAddrSecurable).To(BeEmpty())
			Expect(cfg.URL()).To(Equal("http://10.1.2.3:1800"))
		})

		It("advertises https://<securable listen_addr> with require_tls, keeping rep_address on the admin listener", func() {
			cfg, err := load(`{"cell_id": "c", "listen_addr": "10.1.2.3:1800", "listen_addr_securable": "10.1.2.3:1801",
				"require_tls": true, "ca_cert_file": "/c/ca.crt", "server_cert_file": "/c/s.crt", "server_key_file": "/c/s.key"}`)
			Expect(err).NotTo(HaveOccurred())
			Expect(cfg.Address()).To(Equal("http://10.1.2.3:1800"))
			Expect(cfg.URL()).To(Equal("https://10.1.2.3:1801"))
			cfg.RepURL = "https://cell-0.example:1801/"
			Expect(cfg.URL()).To(Equal("https://cell-0.example:1801"))
		})

		It("advertises http:// without require_tls", func() {
			cfg, err := load(`{"cell_id": "c", "listen_addr_securable": "10.1.2.3:1801"}`)
			Expect(err).NotTo(HaveOccurred())
			Expect(cfg.URL()).To(Equal("http://10.1.2.3:1801"))
		})

		It("refuses require_tls without its files and listener, files without require_tls, and a rep_url of the wrong scheme", func() {
			_, err := load(`{"cell_id": "c", "require_tls": true}`)
			Expect(err).To(MatchError(ContainSubstring("require_tls needs listen_addr_securable, ca_cert_file, server_cert_file and server_key_file")))
			_, err = load(`{"cell_id": "c", "listen_addr_securable": "0.0.0.0:1801", "server_cert_file": "/c/s.crt", "rep_url": "https://h:1801"}`)
			Expect(err).To(HaveOccurred())
			for _, want := range []string{
				"ca_cert_file, server_cert_file and server_key_file go together",
				"ca_cert_file, server_cert_file and server_key_file need require_tls",
				`rep_url "https://h:1801" must be a URL like https://10.0.0.5:1801, https:// exactly when require_tls is set`,
			} {
				Expect(err.Error()).To(ContainSubstring(want))
			}
			_, err = load(`{"cell_id": "c", "rep_url": "http://h:1801"}`)
			Expect(err).To(MatchError(ContainSubstring("rep_url needs listen_addr_securable")))
		})
	})

	It("refuses the old flat etcd_* keys, naming the etcd block's", func() {
		_, err := load(`{"cell_id": "cell-1", "etcd_endpoints": ["http://e1:2379"], "etcd_cert_file": "c"}`)
		Expect(err).To(MatchError(ContainSubstring("etcd_endpoints is no longer a key: use etcd.endpoints")))
		Expect(err).To(MatchError(ContainSubstring("etcd_cert_file is no longer a key: use etcd.cert_file")))
	})

	It("rejects unknown keys and bare-number durations", func() {
		_, err := load(`{"cell_id": "c", "cellID": "x"}`)
		Expect(err).To(MatchError(ContainSubstring("cellID")))
		_, err = load(`{"cell_id": "c", "lock_ttl": 15}`)
		Expect(err).To(MatchError(ContainSubstring("lock_ttl")))
	})

	It("reports every bad setting at once", func() {
		_, err := load(`{
			"listen_addr": "nope", "rep_address": "10.0.0.5", "debug_address": "x", "cell_id": "a/b",
			"executor_address": "127.0.0.1:1700", "bbs_address": "https://bbs:8889", "etcd": {"endpoints": [], "cert_file": "c"},
			"root": "diego", "polling_interval": "0s", "evacuation_timeout": "-1s", "lock_ttl": "0s",
			"preloaded_root_fs": ["cflinuxfs4", "a:/x", "a:/y"], "supported_providers": ["preloaded", "docker://"],
			"placement_tags": [""], "dropsonde_port": 0, "log_level": "loud"
		}`)
		Expect(err).To(HaveOccurred())
		for _, want := range []string{
			`listen_addr "nope"`, `rep_address "10.0.0.5"`, `debug_address "x"`, `cell_id "a/b"`,
			`executor_address "127.0.0.1:1700"`, "an https bbs_address needs", "etcd.endpoints must list",
			"etcd.cert_file and etcd.key_file", `root "diego"`, "polling_interval must be positive",
			"evacuation_timeout must be positive", "lock_ttl must be positive",
			`preloaded_root_fs entry "cflinuxfs4"`, `names stack "a" twice`, `must not list "preloaded"`,
			`supported_providers entry "docker://"`, "placement tags must not be empty", "dropsonde_port", "log_level",
		} {
			Expect(err.Error()).To(ContainSubstring(want))
		}
	})
})
