// Package config is the TPS daemon's JSON configuration (cmd/tps -config):
// the listener's and the watcher's settings (spec bridge §4).
package config

import (
	"fmt"
	"os"
	"time"

	"diego/deploy/config"
)

// Config is TPS's configuration; DefaultConfig gives every default.
type Config struct {
	// Common holds log_level and debug_address.
	config.Common

	// ID names this TPS in the watcher lock's value.
	ID string `json:"id"`
	// ListenAddr serves the listener API (spec bridge §4.1).
	ListenAddr           string `json:"listen_addr"`
	MaxInFlightRequests  int    `json:"max_in_flight_requests"`
	BulkLRPStatusWorkers int    `json:"bulk_lrp_status_workers"`

	// ReceptorClient is the receptor TPS reads through: receptor_url,
	// receptor_username, receptor_password.
	config.ReceptorClient

	// DopplerURL serves /apps/:id/containermetrics (spec bridge §9.2).
	DopplerURL string `json:"doppler_url"`

	// CCClient receives the watcher's reports (plain HTTP, spec bridge
	// §9.2): cc_base_url, cc_basic_auth_username, cc_basic_auth_password.
	config.CCClient
	MaxEventHandlingWorkers int             `json:"max_event_handling_workers"`
	CommunicationTimeout    config.Duration `json:"communication_timeout"`

	// Lock holds etcd (the watcher's lock), root, lock_ttl and
	// lock_retry_interval.
	config.Lock
}

// DefaultConfig is TPS's configuration when its file says nothing.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		Common:                  config.Common{LogLevel: "info"},
		ID:                      fmt.Sprintf("%s-%d", host, os.Getpid()),
		ListenAddr:              "0.0.0.0:1518",
		MaxInFlightRequests:     200,
		BulkLRPStatusWorkers:    15,
		ReceptorClient:          config.ReceptorClient{ReceptorURL: "http://127.0.0.1:8887"},
		DopplerURL:              "http://127.0.0.1:8084",
		CCClient:                config.CCClient{CCBaseURL: "http://127.0.0.1:9022"},
		MaxEventHandlingWorkers: 500,
		CommunicationTimeout:    config.Duration(30 * time.Second),
		Lock:                    config.DefaultLock(),
	}
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var v config.Validator
	v.Common(c.Common)
	v.Require(c.ID != "", "id must not be empty")
	v.HostPort("listen_addr", c.ListenAddr, false)
	v.ReceptorClient(c.ReceptorClient)
	v.HTTPURL("doppler_url", c.DopplerURL)
	v.CCClient(c.CCClient)
	v.Require(c.MaxInFlightRequests > 0, "max_in_flight_requests must be positive")
	v.Require(c.BulkLRPStatusWorkers > 0, "bulk_lrp_status_workers must be positive")
	v.Require(c.MaxEventHandlingWorkers > 0, "max_event_handling_workers must be positive")
	v.Require(c.CommunicationTimeout > 0, "communication_timeout must be positive")
	v.Lock(c.Lock)
	return v.Err()
}

// Load reads the file at path over the defaults.
func Load(path string) (Config, error) {
	cfg := DefaultConfig()
	if err := config.Load(path, &cfg); err != nil {
		return Config{}, fmt.Errorf("tps: %w", err)
	}
	return cfg, nil
}
