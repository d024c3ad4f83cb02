// Package config is the metron agent's JSON configuration.
package config

import (
	"fmt"
	"net"
	"time"

	"diego/deploy/config"
)

// Config is the agent's configuration (spec cell §5.3, §7.5); the keys are
// Diego's metron settings in snake_case.
type Config struct {
	// Common holds log_level and debug_address.
	config.Common
	// DropsondePort is where producers send, on 127.0.0.1.
	DropsondePort int `json:"dropsonde_port"`
	// DopplerAddress is the one doppler's dropsonde UDP address.
	DopplerAddress string `json:"doppler_address"`
	// PreferredProtocol is udp (the only one diego implements).
	PreferredProtocol string `json:"preferred_protocol"`
	// SharedSecret keys the datagram signature.
	SharedSecret string `json:"shared_secret"`
	// Deployment, Zone, Job, Index and IP describe this VM; the tagger
	// sets them on envelopes that lack them (Zone is kept for Diego's
	// config shape; diego has no doppler discovery to use it).
	Deployment string `json:"deployment"`
	Zone       string `json:"zone"`
	Job        string `json:"job"`
	Index      string `json:"index"`
	IP         string `json:"ip"`
	// MetricBatchInterval is how often the agent sends its own counters.
	MetricBatchInterval config.Duration `json:"metric_batch_interval"`
	// QueueSize bounds the envelopes waiting for the doppler.
	QueueSize int `json:"queue_size"`
}

// DefaultConfig is the agent's configuration when its file says nothing.
func DefaultConfig() Config {
	return Config{
		Common:              config.Common{LogLevel: "info"},
		DropsondePort:       3457,
		DopplerAddress:      "127.0.0.1:3460",
		PreferredProtocol:   "udp",
		Deployment:          "diego",
		Job:                 "metron",
		Index:               "0",
		IP:                  "127.0.0.1",
		MetricBatchInterval: config.Duration(5 * time.Second),
		QueueSize:           10000,
	}
}

// ListenAddr is the UDP address producers send to.
func (c Config) ListenAddr() string { return fmt.Sprintf("127.0.0.1:%d", c.DropsondePort) }

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var v config.Validator
	v.Common(c.Common)
	v.Require(c.DropsondePort > 0 && c.DropsondePort < 65536, "dropsonde_port must be a port number")
	_, _, err := net.SplitHostPort(c.DopplerAddress)
	v.Require(err == nil, "doppler_address must be host:port, not %q", c.DopplerAddress)
	v.Require(c.PreferredProtocol == "udp", "preferred_protocol must be udp (tls is not implemented), not %q", c.PreferredProtocol)
	v.Require(c.SharedSecret != "", "shared_secret must not be empty (the doppler drops unsigned datagrams)")
	v.Require(c.MetricBatchInterval > 0, "metric_batch_interval must be positive")
	v.Require(c.QueueSize > 0, "queue_size must be positive")
	return v.Err()
}

// Load reads the file at path over the defaults.
func Load(path string) (Config, error) {
	cfg := DefaultConfig()
	if err := config.Load(path, &cfg); err != nil {
		return Config{}, fmt.Errorf("metron: %w", err)
	}
	return cfg, nil
}
