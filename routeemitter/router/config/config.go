// Package config is the router's JSON configuration: gorouter's settings
// (spec bridge §7) in diego's shape (DESIGN.md §2, config).
package config

import (
	"fmt"
	"time"

	"diego/deploy/config"
	emitterconfig "diego/routeemitter/config"
)

// Config is the router's configuration.
type Config struct {
	// Common holds log_level and debug_address.
	config.Common

	// ListenAddr is where requests are proxied (gorouter's port).
	ListenAddr string `json:"listen_addr"`
	// StatusAddress serves /health, /healthz and /routes.
	StatusAddress  string `json:"status_address"`
	StatusUsername string `json:"status_username"`
	StatusPassword string `json:"status_password"`
	// Index is the first part of the router's id in router.start.
	Index int `json:"index"`

	emitterconfig.NATS

	PruneStaleDropletsInterval      config.Duration `json:"prune_stale_droplets_interval"`
	DropletStaleThreshold           config.Duration `json:"droplet_stale_threshold"`
	StartResponseDelayInterval      config.Duration `json:"start_response_delay_interval"`
	PublishStartMessageInterval     config.Duration `json:"publish_start_message_interval"`
	SuspendPruningIfNATSUnavailable bool            `json:"suspend_pruning_if_nats_unavailable"`
	// EndpointDialTimeout bounds the connect to one endpoint before the
	// next one is tried.
	EndpointDialTimeout config.Duration `json:"endpoint_dial_timeout"`
}

// DefaultConfig is gorouter's defaults on diego's ports (spec README).
func DefaultConfig() Config {
	return Config{
		Common:                      config.Common{LogLevel: "info"},
		ListenAddr:                  "127.0.0.1:8081",
		StatusAddress:               "127.0.0.1:8082",
		StatusUsername:              "admin",
		StatusPassword:              "admin",
		NATS:                        emitterconfig.NATS{NATSAddresses: "127.0.0.1:4222"},
		PruneStaleDropletsInterval:  config.Duration(30 * time.Second),
		DropletStaleThreshold:       config.Duration(120 * time.Second),
		StartResponseDelayInterval:  config.Duration(5 * time.Second),
		PublishStartMessageInterval: config.Duration(30 * time.Second),
		EndpointDialTimeout:         config.Duration(5 * time.Second),
	}
}

// StaleThreshold is the prune threshold: droplet_stale_threshold, raised to
// start_response_delay_interval if that is longer (as gorouter does).
func (c Config) StaleThreshold() time.Duration {
	return max(c.DropletStaleThreshold.Duration(), c.StartResponseDelayInterval.Duration())
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var v config.Validator
	v.Common(c.Common)
	v.HostPort("listen_addr", c.ListenAddr, false)
	v.HostPort("status_address", c.StatusAddress, false)
	v.Require(c.Index >= 0, "index must not be negative")
	emitterconfig.ValidateNATS(&v, c.NATS)
	v.Positive(map[string]config.Duration{
		"prune_stale_droplets_interval": c.PruneStaleDropletsInterval, "droplet_stale_threshold": c.DropletStaleThreshold,
		"publish_start_message_interval": c.PublishStartMessageInterval, "endpoint_dial_timeout": c.EndpointDialTimeout,
	})
	v.Require(c.StartResponseDelayInterval.Duration() >= time.Second,
		"start_response_delay_interval must be at least 1s (router.start gives it in whole seconds)")
	return v.Err()
}

// Load reads the file at path over the defaults.
func Load(path string) (Config, error) {
	cfg := DefaultConfig()
	if err := config.Load(path, &cfg); err != nil {
		return Config{}, fmt.Errorf("router: %w", err)
	}
	return cfg, nil
}
