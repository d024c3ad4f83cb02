package config_test

import (
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/executor/config"
)

func load(contents string) (config.Config, error) {
	path := filepath.Join(GinkgoT().TempDir(), "executor.json")
	Expect(os.WriteFile(path, []byte(contents), 0o644)).To(Succeed())
	return config.Load(path)
}

var _ = Describe("Config", func() {
	It("has diego's defaults (spec cell §7.3), and they are valid", func() {
		cfg, err := load(`{}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.ListenAddr).To(Equal("127.0.0.1:1700"))
		Expect(cfg.GardenNetwork).To(Equal("tcp"))
		Expect(cfg.GardenAddr).To(Equal("127.0.0.1:7777"))
		Expect(cfg.MemoryMB).To(BeZero(), "auto")
		Expect(cfg.UnhealthyMonitoringInterval.Duration()).To(Equal(500 * time.Millisecond))
		Expect(cfg.HealthyMonitoringInterval.Duration()).To(Equal(30 * time.Second))
		Expect(cfg.GracefulShutdownInterval.Duration()).To(Equal(10 * time.Second))
		Expect(cfg.ContainerMetricsReportInterval.Duration()).To(Equal(15 * time.Second))
		Expect(cfg.MaxContainers).To(Equal(250))
		Expect(cfg.CreateWorkPoolSize).To(Equal(32))
		Expect(cfg.MetricsWorkPoolSize).To(Equal(8))
		Expect(cfg.ContainerOwnerName).To(Equal("executor"))
		Expect(cfg.DropsondePort).To(Equal(3457))
		Expect(cfg.Validate()).To(Succeed())
	})

	It("reads capacities as numbers or auto", func() {
		cfg, err := load(`{"memory_mb": 4096, "disk_mb": "auto"}`)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.MemoryMB).To(BeEquivalentTo(4096))
		Expect(cfg.DiskMB).To(BeZero())
		_, err = load(`{"memory_mb": "lots"}`)
		Expect(err).To(MatchError(ContainSubstring("auto")))
	})

	It("names every bad setting at once", func() {
		_, err := load(`{"listen_addr": "x", "garden_network": "udp", "max_containers": 0, "temp_dir": "tmp",
			"unhealthy_monitoring_interval": "0s", "create_work_pool_size": 0, "cell_id": "", "log_level": "loud",
			"max_cache_size_in_bytes": 0, "container_inode_limit": 0}`)
		Expect(err).To(HaveOccurred())
		for _, want := range []string{"listen_addr", "garden_network", "max_containers", "temp_dir",
			"unhealthy_monitoring_interval", "create_work_pool_size", "cell_id", "log_level",
			"max_cache_size_in_bytes", "container_inode_limit"} {
			Expect(err.Error()).To(ContainSubstring(want))
		}
	})
})
