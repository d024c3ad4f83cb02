// Package config is the executor's JSON configuration (cmd/executor
// -config), with the modern snake_case keys of spec cell §3.11 and §7.3.
package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"diego/deploy/config"
	"diego/deploy/logging"
)

// Capacity is a number of MiB, or "auto" (0 here): read from garden.
type Capacity int

// UnmarshalJSON reads a number or "auto".
func (c *Capacity) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if s == "auto" {
			*c = 0
			return nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return fmt.Errorf("capacity %q must be \"auto\" or a positive number of MiB", s)
		}
		*c = Capacity(n)
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil || n <= 0 {
		return fmt.Errorf("capacity %s must be \"auto\" or a positive number of MiB", b)
	}
	*c = Capacity(n)
	return nil
}

// MarshalJSON writes "auto" for 0.
func (c Capacity) MarshalJSON() ([]byte, error) {
	if c == 0 {
		return json.Marshal("auto")
	}
	return json.Marshal(int(c))
}

// Config is the executor's configuration; DefaultConfig gives every default.
type Config struct {
	ListenAddr   string `json:"listen_addr"`
	DebugAddress string `json:"debug_address"`
	// CellID names the cell in the lifecycle lines of app logs.
	CellID string `json:"cell_id"`

	GardenNetwork string `json:"garden_network"`
	GardenAddr    string `json:"garden_addr"`

	MemoryMB Capacity `json:"memory_mb"`
	DiskMB   Capacity `json:"disk_mb"`
	// MaxContainers caps containers; the total is min(this, garden's
	// max_containers − 1).
	MaxContainers int `json:"max_containers"`

	TempDir                string `json:"temp_dir"`
	CachePath              string `json:"cache_path"`
	MaxCacheSizeInBytes    uint64 `json:"max_cache_size_in_bytes"`
	MaxConcurrentDownloads int    `json:"max_concurrent_downloads"`

	ReservedExpirationTime         config.Duration `json:"reserved_expiration_time"`
	ContainerReapInterval          config.Duration `json:"container_reap_interval"`
	ContainerInodeLimit            uint64          `json:"container_inode_limit"`
	ContainerMaxCPUShares          uint64          `json:"container_max_cpu_shares"`
	HealthyMonitoringInterval      config.Duration `json:"healthy_monitoring_interval"`
	UnhealthyMonitoringInterval    config.Duration `json:"unhealthy_monitoring_interval"`
	GracefulShutdownInterval       config.Duration `json:"graceful_shutdown_interval"`
	ContainerMetricsReportInterval config.Duration `json:"container_metrics_report_interval"`
	GardenHealthcheckInterval      config.Duration `json:"garden_healthcheck_interval"`
	// GardenHealthcheckRootFS is the rootfs of the health-check container
	// ("" = garden's default).
	GardenHealthcheckRootFS string `json:"garden_healthcheck_rootfs"`
	ContainerOwnerName      string `json:"container_owner_name"`

	CreateWorkPoolSize      int `json:"create_work_pool_size"`
	DeleteWorkPoolSize      int `json:"delete_work_pool_size"`
	ReadWorkPoolSize        int `json:"read_work_pool_size"`
	MetricsWorkPoolSize     int `json:"metrics_work_pool_size"`
	HealthCheckWorkPoolSize int `json:"healthcheck_work_pool_size"`

	DropsondePort int    `json:"dropsonde_port"`
	LogLevel      string `json:"log_level"`
}

// DefaultConfig is the executor's configuration when its file says
// nothing: the modern defaults except listen_addr, the garden address and
// the 500 ms unhealthy interval (spec cell §7.3).
func DefaultConfig() Config {
	return Config{
		ListenAddr:                     "127.0.0.1:1700",
		CellID:                         "cell",
		GardenNetwork:                  "tcp",
		GardenAddr:                     "127.0.0.1:7777",
		MaxContainers:                  250,
		TempDir:                        "/tmp",
		CachePath:                      "/var/lib/diego/executor/cache",
		MaxCacheSizeInBytes:            10_000_000_000,
		MaxConcurrentDownloads:         5,
		ReservedExpirationTime:         config.Duration(time.Minute),
		ContainerReapInterval:          config.Duration(time.Minute),
		ContainerInodeLimit:            200000,
		ContainerMaxCPUShares:          1024,
		HealthyMonitoringInterval:      config.Duration(30 * time.Second),
		UnhealthyMonitoringInterval:    config.Duration(500 * time.Millisecond),
		GracefulShutdownInterval:       config.Duration(10 * time.Second),
		ContainerMetricsReportInterval: config.Duration(15 * time.Second),
		GardenHealthcheckInterval:      config.Duration(10 * time.Minute),
		ContainerOwnerName:             "executor",
		CreateWorkPoolSize:             32,
		DeleteWorkPoolSize:             32,
		ReadWorkPoolSize:               64,
		MetricsWorkPoolSize:            8,
		HealthCheckWorkPoolSize:        64,
		DropsondePort:                  3457,
		LogLevel:                       "info",
	}
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var v config.Validator
	v.HostPort("listen_addr", c.ListenAddr, false)
	v.HostPort("debug_address", c.DebugAddress, true)
	v.Require(c.CellID != "", "cell_id must not be empty")
	switch c.GardenNetwork {
	case "tcp":
		v.HostPort("garden_addr", c.GardenAddr, false)
	case "unix":
		v.Require(strings.HasPrefix(c.GardenAddr, "/"), "garden_addr %q must be a socket path", c.GardenAddr)
	default:
		v.Require(false, "garden_network %q must be tcp or unix", c.GardenNetwork)
	}
	v.Require(c.MaxContainers > 0, "max_containers must be positive")
	v.Require(strings.HasPrefix(c.TempDir, "/"), "temp_dir %q must be an absolute path", c.TempDir)
	v.Require(strings.HasPrefix(c.CachePath, "/"), "cache_path %q must be an absolute path", c.CachePath)
	v.Require(c.MaxConcurrentDownloads > 0, "max_concurrent_downloads must be positive")
	v.Require(c.MaxCacheSizeInBytes > 0, "max_cache_size_in_bytes must be positive (the download cache's bound; default 10000000000)")
	v.Require(c.ContainerInodeLimit > 0, "container_inode_limit must be positive (default 200000)")
	v.Positive(map[string]config.Duration{
		"reserved_expiration_time": c.ReservedExpirationTime, "container_reap_interval": c.ContainerReapInterval,
		"healthy_monitoring_interval":       c.HealthyMonitoringInterval,
		"unhealthy_monitoring_interval":     c.UnhealthyMonitoringInterval,
		"container_metrics_report_interval": c.ContainerMetricsReportInterval,
		"garden_healthcheck_interval":       c.GardenHealthcheckInterval,
		"graceful_shutdown_interval":        c.GracefulShutdownInterval,
	})
	v.Require(c.ContainerMaxCPUShares > 0, "container_max_cpu_shares must be positive")
	v.Require(c.ContainerOwnerName != "", "container_owner_name must not be empty")
	for _, p := range []struct {
		key   string
		value int
	}{
		{"create_work_pool_size", c.CreateWorkPoolSize}, {"delete_work_pool_size", c.DeleteWorkPoolSize},
		{"read_work_pool_size", c.ReadWorkPoolSize}, {"metrics_work_pool_size", c.MetricsWorkPoolSize},
		{"healthcheck_work_pool_size", c.HealthCheckWorkPoolSize},
	} {
		v.Require(p.value > 0, "%s must be positive", p.key)
	}
	v.Require(c.DropsondePort > 0 && c.DropsondePort < 65536, "dropsonde_port must be a port number")
	_, err := logging.ParseLevel(c.LogLevel)
	v.Require(err == nil, "log_level: %v", err)
	return v.Err()
}

// Load reads the file at path over the defaults and validates it.
func Load(path string) (Config, error) {
	cfg := DefaultConfig()
	if err := config.Load(path, &cfg); err != nil {
		return Config{}, fmt.Errorf("executor: %w", err)
	}
	return cfg, nil
}

// Settings is the block every daemon shares (log_level, debug_address), for
// the daemon kit.
func (c Config) Settings() config.Common {
	return config.Common{LogLevel: c.LogLevel, DebugAddress: c.DebugAddress}
}
