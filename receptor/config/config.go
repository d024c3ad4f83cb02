// Package config is the receptor daemon's JSON configuration
// (cmd/receptor -config).
package config

import (
	"fmt"

	"diego/deploy/config"
)

// Config is the receptor's configuration; DefaultConfig gives every default.
type Config struct {
	// Common holds log_level and debug_address.
	config.Common

	// ListenAddr serves the receptor API (plain HTTP, spec core §3.5).
	ListenAddr string `json:"listen_addr"`

	// BBSClient holds bbs_address and the bbs_*_file keys.
	config.BBSClient
	// CommunicationTimeout bounds each BBS call (not the event stream).
	CommunicationTimeout config.Duration `json:"communication_timeout"`

	// Username turns on basic auth for every route, with Password.
	Username string `json:"username"`
	Password string `json:"password"`
	// CORSEnabled echoes Origin and answers OPTIONS preflights.
	CORSEnabled bool `json:"cors_enabled"`
}

// DefaultConfig is the receptor's configuration when its file says nothing.
func DefaultConfig() Config {
	return Config{
		ListenAddr:           "0.0.0.0:8887",
		BBSClient:            config.BBSClient{BBSAddress: "http://127.0.0.1:8889"},
		CommunicationTimeout: config.Duration(10e9),
		Common:               config.Common{LogLevel: "info"},
	}
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var v config.Validator
	v.Common(c.Common)
	v.HostPort("listen_addr", c.ListenAddr, false)
	v.BBSClient(c.BBSClient)
	v.Require(c.CommunicationTimeout > 0, "communication_timeout must be positive")
	v.Require(c.Password == "" || c.Username != "", "password needs username")
	v.Require(c.Username == "" || c.Password != "", "username needs password")
	return v.Err()
}

// Load reads the file at path over the defaults.
func Load(path string) (Config, error) {
	cfg := DefaultConfig()
	if err := config.Load(path, &cfg); err != nil {
		return Config{}, fmt.Errorf("receptor: %w", err)
	}
	return cfg, nil
}
