// Package config is the route-emitter's JSON configuration (spec bridge
// §6.5, §9.9), and the NATS block it shares with the router.
package config

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"diego/deploy/config"
)

// NATS is embedded (anonymously, keys flat) in the route-emitter's and the
// router's configs: nats_addresses is "host:port,host:port" as Diego's
// emitter takes it; with nats_ca_cert_file the connection is TLS, with a
// client certificate when nats_client_cert_file and nats_client_key_file
// are set.
type NATS struct {
	NATSAddresses      string `json:"nats_addresses"`
	NATSUsername       string `json:"nats_username"`
	NATSPassword       string `json:"nats_password"`
	NATSCACertFile     string `json:"nats_ca_cert_file"`
	NATSClientCertFile string `json:"nats_client_cert_file"`
	NATSClientKeyFile  string `json:"nats_client_key_file"`
}

// Servers are the NATS URLs to dial, tls:// when the block has a CA.
func (n NATS) Servers() []string {
	scheme := "nats://"
	if n.NATSCACertFile != "" {
		scheme = "tls://"
	}
	var out []string
	for _, a := range strings.Split(n.NATSAddresses, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, scheme+a)
		}
	}
	return out
}

// ValidateNATS checks the block.
func ValidateNATS(v *config.Validator, n NATS) {
	addrs := n.Servers()
	v.Require(len(addrs) > 0, "nats_addresses must list at least one host:port")
	for _, a := range strings.Split(n.NATSAddresses, ",") {
		if a = strings.TrimSpace(a); a != "" {
			_, _, err := net.SplitHostPort(a)
			v.Require(err == nil, "nats_addresses entry %q is not host:port", a)
		}
	}
	v.Require((n.NATSClientCertFile == "") == (n.NATSClientKeyFile == ""), "nats_client_cert_file and nats_client_key_file go together")
	v.Require(n.NATSClientCertFile == "" || n.NATSCACertFile != "", "a NATS client certificate needs nats_ca_cert_file")
}

// Config is the route-emitter's configuration.
type Config struct {
	// Common holds log_level and debug_address.
	config.Common

	// ID names this emitter in its lock's value.
	ID string `json:"id"`

	// ReceptorClient is the receptor the emitter reads (spec bridge
	// §9.0): receptor_url, receptor_username, receptor_password.
	config.ReceptorClient

	NATS

	// Lock holds etcd (the emitter's lock), root, lock_ttl and
	// lock_retry_interval.
	config.Lock

	SyncInterval         config.Duration `json:"sync_interval"`
	JitterFactor         float64         `json:"jitter_factor"`
	RouteEmittingWorkers int             `json:"route_emitting_workers"`
	// UnregistrationInterval and UnregistrationSendCount repeat each
	// unregistration, in case a router missed it (spec bridge §6.5).
	UnregistrationInterval  config.Duration `json:"unregistration_interval"`
	UnregistrationSendCount int             `json:"unregistration_send_count"`
	// DefaultRegisterInterval is the re-emit interval used until a router
	// answers router.greet.
	DefaultRegisterInterval config.Duration `json:"default_register_interval"`
	CommunicationTimeout    config.Duration `json:"communication_timeout"`
	// HealthcheckAddress serves 200 on / once the emitter runs; "" is off.
	HealthcheckAddress string `json:"healthcheck_address"`
}

// DefaultConfig is the route-emitter's configuration when its file says
// nothing: Diego's defaults.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		Common:                  config.Common{LogLevel: "info"},
		ID:                      fmt.Sprintf("%s-%d", host, os.Getpid()),
		ReceptorClient:          config.ReceptorClient{ReceptorURL: "http://127.0.0.1:8887"},
		NATS:                    NATS{NATSAddresses: "127.0.0.1:4222"},
		Lock:                    config.DefaultLock(),
		SyncInterval:            config.Duration(60 * time.Second),
		JitterFactor:            0.2,
		RouteEmittingWorkers:    20,
		UnregistrationInterval:  config.Duration(30 * time.Second),
		UnregistrationSendCount: 20,
		DefaultRegisterInterval: config.Duration(20 * time.Second),
		CommunicationTimeout:    config.Duration(30 * time.Second),
		HealthcheckAddress:      "127.0.0.1:17011",
	}
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var v config.Validator
	v.Common(c.Common)
	v.Require(c.ID != "", "id must not be empty")
	v.ReceptorClient(c.ReceptorClient)
	ValidateNATS(&v, c.NATS)
	v.Lock(c.Lock)
	v.Positive(map[string]config.Duration{
		"sync_interval": c.SyncInterval, "default_register_interval": c.DefaultRegisterInterval,
		"communication_timeout": c.CommunicationTimeout, "unregistration_interval": c.UnregistrationInterval,
	})
	v.Require(c.JitterFactor >= 0 && c.JitterFactor < 1, "jitter_factor must be in [0, 1)")
	v.Require(c.RouteEmittingWorkers > 0, "route_emitting_workers must be positive")
	v.Require(c.UnregistrationSendCount > 0, "unregistration_send_count must be positive")
	v.HostPort("healthcheck_address", c.HealthcheckAddress, true)
	return v.Err()
}

// Load reads the file at path over the defaults.
func Load(path string) (Config, error) {
	cfg := DefaultConfig()
	if err := config.Load(path, &cfg); err != nil {
		return Config{}, fmt.Errorf("route-emitter: %w", err)
	}
	return cfg, nil
}
