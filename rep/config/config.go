// Package config is the rep daemon's JSON configuration (cmd/rep -config):
// the modern snake_case keys of spec cell §4.10 and §7.4 item 7, plus the
// etcd settings of the presence lease (DESIGN.md: presence is an etcd lease
// taken through bbs/lock).
package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"diego/deploy/config"
	"diego/rep"
)

// The rootfs schemes a cell's preloaded stacks are offered under.
const (
	PreloadedScheme      = "preloaded"
	PreloadedLayerScheme = "preloaded+layer"
)

// Config is the rep's configuration; DefaultConfig gives every default.
type Config struct {
	// Common holds log_level and debug_address.
	config.Common

	// ListenAddr serves the whole rep API on one plain-HTTP listener
	// (spec cell §7.4 item 1); with ListenAddrSecurable set, only the
	// admin routes, /ping and /evacuate (diego-release's admin listener).
	ListenAddr string `json:"listen_addr"`
	// ListenAddrSecurable, when set, serves every route but /evacuate on
	// a second listener, over mutual TLS when RequireTLS is set (Diego's
	// 0.0.0.0:1801); the presence's rep_url points at it.
	ListenAddrSecurable string `json:"listen_addr_securable"`
	// RequireTLS serves ListenAddrSecurable over mutual TLS with the
	// TLSServer files (ca_cert_file, server_cert_file, server_key_file):
	// a client must present a certificate signed by ca_cert_file.
	RequireTLS bool `json:"require_tls"`
	config.TLSServer
	// RepAddress is the rep_address of the cell's presence, and its
	// rep_url too without ListenAddrSecurable: how the auctioneer and the
	// BBS reach this rep; empty means http://<listen ip>:<listen port>,
	// with the host's first non-loopback IPv4 address when listening on
	// every interface.
	RepAddress string `json:"rep_address"`
	// RepURL is the presence's rep_url when ListenAddrSecurable is set;
	// empty means http(s)://<securable ip>:<securable port> as for
	// RepAddress (https with RequireTLS). Diego builds it from the cell id
	// and advertise_domain; diego names cells by address instead.
	RepURL string `json:"rep_url"`

	// CellID names the cell: its presence key and every instance key.
	CellID string `json:"cell_id"`
	// Zone is the cell's availability zone.
	Zone string `json:"zone"`

	// PollingInterval paces the bulk sync; EvacuationPollingInterval
	// replaces it once evacuation starts, and also paces the evacuator's
	// look at the executor's containers (spec cell §4.7, §4.9).
	PollingInterval           config.Duration `json:"polling_interval"`
	EvacuationTimeout         config.Duration `json:"evacuation_timeout"`
	EvacuationPollingInterval config.Duration `json:"evacuation_polling_interval"`
	// EvacuateOnShutdown makes SIGTERM and SIGINT start an evacuation
	// instead of stopping the rep (spec cell §7.4 item 6).
	EvacuateOnShutdown bool `json:"evacuate_on_shutdown"`

	// ExecutorAddress is the local executor's API.
	ExecutorAddress string `json:"executor_address"`

	// BBSClient holds bbs_address and the bbs_*_file keys.
	config.BBSClient
	// CommunicationTimeout bounds every HTTP call: BBS and executor.
	CommunicationTimeout config.Duration `json:"communication_timeout"`

	// ETCD reaches the etcd holding the presence lease.
	ETCD config.ETCD `json:"etcd"`
	Root string      `json:"root"`
	// LockTTL is the presence lease's TTL; LockRetryInterval is how often
	// the executor is pinged while present and how often a lost presence
	// is retried.
	LockTTL           config.Duration `json:"lock_ttl"`
	LockRetryInterval config.Duration `json:"lock_retry_interval"`

	// PreloadedRootFS lists the stacks on this cell as "name:/path".
	PreloadedRootFS []string `json:"preloaded_root_fs"`
	// SupportedProviders lists other rootfs schemes the cell accepts
	// whatever follows them, such as "docker".
	SupportedProviders    []string `json:"supported_providers"`
	PlacementTags         []string `json:"placement_tags"`
	OptionalPlacementTags []string `json:"optional_placement_tags"`

	// DropsondePort is the local metron's UDP port, where metrics go.
	DropsondePort int `json:"dropsonde_port"`
}

// DefaultConfig is the rep's configuration when its file says nothing
// (cell_id has no default and must be set).
func DefaultConfig() Config {
	return Config{
		ListenAddr:                "0.0.0.0:1800",
		PollingInterval:           config.Duration(30 * time.Second),
		EvacuationTimeout:         config.Duration(10 * time.Minute),
		EvacuationPollingInterval: config.Duration(10 * time.Second),
		ExecutorAddress:           "http://127.0.0.1:1700",
		BBSClient:                 config.BBSClient{BBSAddress: "http://127.0.0.1:8889"},
		CommunicationTimeout:      config.Duration(10 * time.Second),
		ETCD:                      config.ETCD{Endpoints: []string{"http://127.0.0.1:2379"}},
		Root:                      "/diego",
		LockTTL:                   config.Duration(15 * time.Second),
		LockRetryInterval:         config.Duration(5 * time.Second),
		DropsondePort:             3457,
		Common:                    config.Common{LogLevel: "info"},
	}
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var v config.Validator
	v.Common(c.Common)
	v.HostPort("listen_addr", c.ListenAddr, false)
	if c.RepAddress != "" {
		v.Require(isHTTPURL(c.RepAddress), "rep_address %q must be a URL like http://10.0.0.5:1800", c.RepAddress)
	}
	v.HostPort("listen_addr_securable", c.ListenAddrSecurable, true)
	v.TLSServer(c.TLSServer)
	v.Require(!c.RequireTLS || (c.ListenAddrSecurable != "" && c.TLS()),
		"require_tls needs listen_addr_securable, ca_cert_file, server_cert_file and server_key_file")
	v.Require(c.RequireTLS || !c.TLS(), "ca_cert_file, server_cert_file and server_key_file need require_tls")
	if c.RepURL != "" {
		v.Require(c.ListenAddrSecurable != "", "rep_url needs listen_addr_securable (without it, rep_url is rep_address)")
		scheme := "http"
		if c.RequireTLS {
			scheme = "https"
		}
		u, err := url.Parse(c.RepURL)
		v.Require(err == nil && u.Host != "" && u.Scheme == scheme,
			"rep_url %q must be a URL like https://10.0.0.5:1801, https:// exactly when require_tls is set", c.RepURL)
	}
	v.Require(c.CellID != "", "cell_id is required")
	v.Require(!strings.Contains(c.CellID, "/"), "cell_id %q must not contain /", c.CellID)
	v.Require(isHTTPURL(c.ExecutorAddress), "executor_address %q must be a URL like http://127.0.0.1:1700", c.ExecutorAddress)

	v.BBSClient(c.BBSClient)
	v.ETCD(c.ETCD, c.Root)

	v.Positive(map[string]config.Duration{
		"polling_interval": c.PollingInterval, "evacuation_timeout": c.EvacuationTimeout,
		"evacuation_polling_interval": c.EvacuationPollingInterval, "communication_timeout": c.CommunicationTimeout,
		"lock_ttl": c.LockTTL, "lock_retry_interval": c.LockRetryInterval,
	})

	seen := map[string]bool{}
	for _, entry := range c.PreloadedRootFS {
		name, path, ok := strings.Cut(entry, ":")
		v.Require(ok && name != "" && path != "", "preloaded_root_fs entry %q must be name:/path", entry)
		v.Require(!seen[name], "preloaded_root_fs names stack %q twice", name)
		seen[name] = true
	}
	for _, p := range c.SupportedProviders {
		v.Require(p != "" && !strings.ContainsAny(p, ":/ "), "supported_providers entry %q must be a URL scheme such as docker", p)
		v.Require(p != PreloadedScheme && p != PreloadedLayerScheme,
			"supported_providers must not list %q: preloaded_root_fs sets its stacks", p)
	}
	for _, t := range slices.Concat(c.PlacementTags, c.OptionalPlacementTags) {
		v.Require(t != "", "placement tags must not be empty strings")
	}

	v.Require(c.DropsondePort > 0 && c.DropsondePort < 65536, "dropsonde_port must be a port number")
	return v.Err()
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// StackPathMap maps each preloaded stack to its rootfs path: the
// preloaded_root_fs entries "cflinuxfs4:/var/lib/rootfs/cflinuxfs4" give
// {"cflinuxfs4": "/var/lib/rootfs/cflinuxfs4"}.
func (c Config) StackPathMap() map[string]string {
	m := make(map[string]string, len(c.PreloadedRootFS))
	for _, entry := range c.PreloadedRootFS {
		if name, path, ok := strings.Cut(entry, ":"); ok {
			m[name] = path
		}
	}
	return m
}

// Stacks are the preloaded stack names, in config order.
func (c Config) Stacks() []string {
	var stacks []string
	for _, entry := range c.PreloadedRootFS {
		if name, _, ok := strings.Cut(entry, ":"); ok {
			stacks = append(stacks, name)
		}
	}
	return stacks
}

// RootFSProviders is what the cell offers in /state and its presence: the
// preloaded stacks as a fixed set under both preloaded and
// preloaded+layer, and each supported provider as arbitrary.
func (c Config) RootFSProviders() rep.RootFSProviders {
	stacks := c.Stacks()
	providers := rep.RootFSProviders{
		PreloadedScheme:      rep.NewFixedSetProvider(stacks...),
		PreloadedLayerScheme: rep.NewFixedSetProvider(stacks...),
	}
	for _, p := range c.SupportedProviders {
		providers[p] = rep.NewArbitraryProvider()
	}
	return providers
}

// Address is the rep's rep_address (spec cell §7.4 item 1): rep_address
// when set, else http://<listen host>:<listen port>, where a wildcard
// listen host (0.0.0.0, ::, empty) becomes the host's first non-loopback
// IPv4 address (127.0.0.1 when it has none).
func (c Config) Address() string {
	if c.RepAddress != "" {
		return strings.TrimSuffix(c.RepAddress, "/")
	}
	return advertised("http", c.ListenAddr)
}

// URL is the presence's rep_url: Address without a securable listener;
// with one, rep_url when set, else http(s)://<securable host>:<port> with a
// wildcard host replaced as in Address.
func (c Config) URL() string {
	switch {
	case c.ListenAddrSecurable == "":
		return c.Address()
	case c.RepURL != "":
		return strings.TrimSuffix(c.RepURL, "/")
	case c.RequireTLS:
		return advertised("https", c.ListenAddrSecurable)
	}
	return advertised("http", c.ListenAddrSecurable)
}

func advertised(scheme, listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return scheme + "://" + listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		addrs, _ := net.InterfaceAddrs()
		host = firstIPv4(addrs)
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// firstIPv4 is the first non-loopback IPv4 address of addrs, or 127.0.0.1.
func firstIPv4(addrs []net.Addr) string {
	for _, a := range addrs {
		var ip net.IP
		switch a := a.(type) {
		case *net.IPNet:
			ip = a.IP
		case *net.IPAddr:
			ip = a.IP
		}
		if v4 := ip.To4(); v4 != nil && !v4.IsLoopback() && !v4.IsUnspecified() && !v4.IsLinkLocalUnicast() {
			return v4.String()
		}
	}
	return "127.0.0.1"
}

// Load reads the file at path over the defaults and validates it.
func Load(path string) (Config, error) {
	cfg := DefaultConfig()
	if err := config.Load(path, &cfg); err != nil {
		return Config{}, fmt.Errorf("rep: %w", err)
	}
	return cfg, nil
}
