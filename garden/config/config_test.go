package config_test

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/garden/config"
)

func load(contents string) (config.Config, error) {
	path := filepath.Join(GinkgoT().TempDir(), "garden.json")
	Expect(os.WriteFile(path, []byte(contents), 0o644)).To(Succeed())
	return config.Load(path)
}

var _ = Describe("Config", func() {
	It("has the documented defaults, and they are valid", func() {
		cfg, err := load(`{}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.ListenNetwork).To(Equal("tcp"))
		Expect(cfg.ListenAddr).To(Equal("127.0.0.1:7777"))
		Expect(cfg.NetworkPool).To(Equal("10.254.0.0/22"))
		Expect(cfg.PortPoolStart).To(BeEquivalentTo(61001))
		Expect(cfg.PortPoolSize).To(BeEquivalentTo(4534))
		Expect(cfg.DestroyContainersOnStartup).To(BeTrue())
		Expect(cfg.DefaultGraceTime.Duration()).To(BeZero())
		Expect(cfg.DefaultRootFS).To(Equal("/var/lib/diego/rootfs/busybox"))
		Expect(cfg.Validate()).To(Succeed())
	})

	It("reads a unix socket and a rootfs map", func() {
		cfg, err := load(`{"listen_network": "unix", "listen_addr": "/tmp/garden.sock",
			"rootfs_map": {"docker:///busybox": "/srv/busybox", "preloaded:cflinuxfs3": "/srv/cfl3"}, "tag": "a"}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.Backend().RootFSMap).To(HaveKeyWithValue("preloaded:cflinuxfs3", "/srv/cfl3"))
		Expect(cfg.Backend().Tag).To(Equal("a"))
	})

	It("names every bad setting at once", func() {
		_, err := load(`{"listen_network": "udp", "depot_dir": "depot", "rootfs_map": {"http://x": "rel"},
			"network_pool": "10.254.0.0/31", "port_pool_start": 65000, "port_pool_size": 1000, "tag": "toolong",
			"external_ip": "nope", "deny_networks": ["x"], "mtu": 10, "max_containers": -1, "log_level": "loud"}`)
		Expect(err).To(HaveOccurred())
		for _, want := range []string{"listen_network", "depot_dir", "rootfs_map key", "must be an absolute path",
			"network_pool", "port_pool_start", "tag", "external_ip", "deny_networks", "mtu", "max_containers", "log_level"} {
			Expect(err.Error()).To(ContainSubstring(want))
		}
	})

	It("refuses a unix listener without an absolute path", func() {
		_, err := load(`{"listen_network": "unix", "listen_addr": "garden.sock"}`)
		Expect(err).To(MatchError(ContainSubstring("absolute socket path")))
	})

	It("refuses a unix socket path too long for a socket address", func() {
		_, err := load(`{"listen_network": "unix", "listen_addr": "/` + strings.Repeat("s", 107) + `"}`)
		Expect(err).To(MatchError(ContainSubstring("is 108 bytes; a unix socket path must be at most 107")))
		_, err = load(`{"listen_network": "unix", "listen_addr": "/` + strings.Repeat("s", 106) + `"}`)
		Expect(err).NotTo(HaveOccurred())
	})
})
