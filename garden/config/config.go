// Package config is garden's JSON configuration (cmd/garden -config).
package config

import (
	"fmt"
	"net"
	"strings"
	"time"

	"diego/deploy/config"
	"diego/deploy/logging"
	"diego/garden"
	"diego/garden/backend/linux"
)

// Config is garden's configuration; DefaultConfig gives every default
// (spec cell §6, §7.2).
type Config struct {
	// ListenNetwork is "tcp" or "unix"; ListenAddr is host:port or a
	// socket path.
	ListenNetwork string `json:"listen_network"`
	ListenAddr    string `json:"listen_addr"`
	// DebugAddress serves pprof when set.
	DebugAddress string `json:"debug_address"`

	DepotDir string `json:"depot_dir"`
	// DefaultRootFS is the rootfs directory of containers that name none.
	DefaultRootFS string `json:"default_rootfs"`
	// RootFSMap maps docker:///… and preloaded:… URIs to rootfs
	// directories.
	RootFSMap map[string]string `json:"rootfs_map"`

	NetworkPool     string   `json:"network_pool"`
	PortPoolStart   uint32   `json:"port_pool_start"`
	PortPoolSize    uint32   `json:"port_pool_size"`
	Tag             string   `json:"tag"`
	ExternalIP      string   `json:"external_ip"`
	DenyNetworks    []string `json:"deny_networks"`
	AllowHostAccess bool     `json:"allow_host_access"`
	DNSServers      []string `json:"dns_servers"`
	MTU             int      `json:"mtu"`

	DefaultGraceTime            config.Duration `json:"default_grace_time"`
	DestroyContainersOnStartup  bool            `json:"destroy_containers_on_startup"`
	MaxContainers               int             `json:"max_containers"`
	DisablePrivilegedContainers bool            `json:"disable_privileged_containers"`

	IPTablesBin        string `json:"iptables_bin"`
	IPTablesRestoreBin string `json:"iptables_restore_bin"`

	LogLevel string `json:"log_level"`

	// DropsondePort is the local metron's UDP port; garden's metrics go
	// there with DropsondeOrigin every MetricsEmissionInterval.
	DropsondePort           int             `json:"dropsonde_port"`
	DropsondeOrigin         string          `json:"dropsonde_origin"`
	MetricsEmissionInterval config.Duration `json:"metrics_emission_interval"`
}

// DefaultConfig is garden's configuration when its file says nothing.
func DefaultConfig() Config {
	return Config{
		ListenNetwork:              garden.DefaultListenNetwork,
		ListenAddr:                 garden.DefaultListenAddress,
		DepotDir:                   "/var/run/diego/garden/depot",
		DefaultRootFS:              "/var/lib/diego/rootfs/busybox",
		RootFSMap:                  map[string]string{},
		NetworkPool:                garden.DefaultNetworkPool,
		PortPoolStart:              garden.DefaultPortPoolStart,
		PortPoolSize:               garden.DefaultPortPoolSize,
		MTU:                        1500,
		DestroyContainersOnStartup: true,
		IPTablesBin:                "iptables",
		IPTablesRestoreBin:         "iptables-restore",
		LogLevel:                   "info",
		DropsondePort:              3457,
		DropsondeOrigin:            "garden-linux",
		MetricsEmissionInterval:    config.Duration(time.Minute),
	}
}

// maxSocketPath is the longest path a unix socket address holds
// (sockaddr_un's 108 bytes less the terminating NUL); a longer one fails
// only at listen, with "invalid argument".
const maxSocketPath = 107

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var v config.Validator
	switch c.ListenNetwork {
	case "tcp":
		v.HostPort("listen_addr", c.ListenAddr, false)
	case "unix":
		v.Require(strings.HasPrefix(c.ListenAddr, "/"), "listen_addr %q must be an absolute socket path for listen_network unix", c.ListenAddr)
		v.Require(len(c.ListenAddr) <= maxSocketPath, "listen_addr %q is %d bytes; a unix socket path must be at most %d: choose a shorter one",
			c.ListenAddr, len(c.ListenAddr), maxSocketPath)
	default:
		v.Require(false, "listen_network %q must be tcp or unix", c.ListenNetwork)
	}
	v.HostPort("debug_address", c.DebugAddress, true)
	v.Require(strings.HasPrefix(c.DepotDir, "/"), "depot_dir %q must be an absolute path", c.DepotDir)
	v.Require(c.DefaultRootFS == "" || strings.HasPrefix(c.DefaultRootFS, "/"), "default_rootfs %q must be an absolute path", c.DefaultRootFS)
	for uri, dir := range c.RootFSMap {
		v.Require(strings.HasPrefix(uri, "docker:") || strings.HasPrefix(uri, "preloaded:"),
			"rootfs_map key %q must be a docker:///… or preloaded:… URI", uri)
		v.Require(strings.HasPrefix(dir, "/"), "rootfs_map[%q] = %q must be an absolute path", uri, dir)
	}
	_, pool, err := net.ParseCIDR(c.NetworkPool)
	v.Require(err == nil && pool.IP.To4() != nil, "network_pool %q must be an IPv4 CIDR such as 10.254.0.0/22", c.NetworkPool)
	if err == nil {
		ones, _ := pool.Mask.Size()
		v.Require(ones <= 30, "network_pool %q must hold at least one /30", c.NetworkPool)
	}
	v.Require(c.PortPoolStart > 0 && c.PortPoolSize > 0 && uint64(c.PortPoolStart)+uint64(c.PortPoolSize) <= 65536,
		"port_pool_start %d and port_pool_size %d must describe ports within 1-65535", c.PortPoolStart, c.PortPoolSize)
	// Interface names are at most 15 bytes: "w<tag><8 hex>-0".
	v.Require(len(c.Tag) <= 4 && !strings.ContainsAny(c.Tag, "-/ +"), "tag %q must be at most 4 characters without '-', '/', '+' or spaces", c.Tag)
	if c.ExternalIP != "" {
		v.Require(net.ParseIP(c.ExternalIP) != nil, "external_ip %q is not an IP address", c.ExternalIP)
	}
	for _, d := range c.DenyNetworks {
		_, _, err := net.ParseCIDR(d)
		v.Require(err == nil, "deny_networks entry %q is not a CIDR", d)
	}
	for _, d := range c.DNSServers {
		v.Require(net.ParseIP(d) != nil, "dns_servers entry %q is not an IP address", d)
	}
	v.Require(c.MTU >= 576 && c.MTU <= 9000, "mtu %d must be within 576-9000", c.MTU)
	v.Require(c.DefaultGraceTime >= 0, "default_grace_time must not be negative")
	v.Require(c.MaxContainers >= 0, "max_containers must not be negative (0 = as many as the network pool holds)")
	v.Require(c.DropsondePort > 0 && c.DropsondePort < 65536, "dropsonde_port %d must be a port number", c.DropsondePort)
	v.Require(c.DropsondeOrigin != "", "dropsonde_origin must not be empty")
	v.Require(c.MetricsEmissionInterval > 0, "metrics_emission_interval must be positive")
	_, err = logging.ParseLevel(c.LogLevel)
	v.Require(err == nil, "log_level: %v", err)
	return v.Err()
}

// Backend is the Linux backend's share of the configuration.
func (c Config) Backend() linux.Config {
	return linux.Config{
		DepotDir: c.DepotDir, DefaultRootFS: c.DefaultRootFS, RootFSMap: c.RootFSMap,
		NetworkPool: c.NetworkPool, PortPoolStart: c.PortPoolStart, PortPoolSize: c.PortPoolSize,
		Tag: c.Tag, ExternalIP: c.ExternalIP, DenyNetworks: c.DenyNetworks, AllowHostAccess: c.AllowHostAccess,
		DNSServers: c.DNSServers, MTU: c.MTU, MaxContainers: c.MaxContainers,
		DefaultGraceTime: time.Duration(c.DefaultGraceTime), DestroyContainersOnStartup: c.DestroyContainersOnStartup,
		DisablePrivilegedContainers: c.DisablePrivilegedContainers,
		IPTablesBin:                 c.IPTablesBin, IPTablesRestoreBin: c.IPTablesRestoreBin,
	}
}

// Load reads the file at path over the defaults and validates it.
func Load(path string) (Config, error) {
	cfg := DefaultConfig()
	if err := config.Load(path, &cfg); err != nil {
		return Config{}, fmt.Errorf("garden: %w", err)
	}
	return cfg, nil
}

// Settings is the block every daemon shares (log_level, debug_address), for
// the daemon kit.
func (c Config) Settings() config.Common {
	return config.Common{LogLevel: c.LogLevel, DebugAddress: c.DebugAddress}
}
