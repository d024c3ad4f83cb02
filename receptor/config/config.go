// Package config is the receptor daemon's JSON configuration
// (cmd/receptor -config).
package config

import (
	"fmt"
	"net"

	"diego/deploy/config"
	"diego/deploy/logging"
)

// Config is the receptor's configuration; DefaultConfig gives every default.
type Config struct {
	// ListenAddr serves the receptor API (plain HTTP, spec core §3.5).
	ListenAddr string `json:"listen_addr"`

	BBSAddress        string `json:"bbs_address"`
	BBSCACertFile     string `json:"bbs_ca_cert_file"`
	BBSClientCertFile string `json:"bbs_client_cert_file"`
	BBSClientKeyFile  string `json:"bbs_client_key_file"`
	// CommunicationTimeout bounds each BBS call (not the event stream).
	CommunicationTimeout config.Duration `json:"communication_timeout"`

	// Username turns on basic auth for every route, with Password.
	Username string `json:"username"`
	Password string `json:"password"`
	// CORSEnabled echoes Origin and answers OPTIONS preflights.
	CORSEnabled bool `json:"cors_enabled"`

	LogLevel string `json:"log_level"`
}

// DefaultConfig is the receptor's configuration when its file says nothing.
func DefaultConfig() Config {
	return Config{
		ListenAddr:           "0.0.0.0:8887",
		BBSAddress:           "http://127.0.0.1:8889",
		CommunicationTimeout: config.Duration(10e9),
		LogLevel:             "info",
	}
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var v config.Validator
	_, _, err := net.SplitHostPort(c.ListenAddr)
	v.Require(err == nil, "listen_addr %q is not host:port", c.ListenAddr)
	v.BBSClient(c.BBSAddress, c.BBSCACertFile, c.BBSClientCertFile, c.BBSClientKeyFile)
	v.Require(c.CommunicationTimeout > 0, "communication_timeout must be positive")
	v.Require(c.Password == "" || c.Username != "", "password needs username")
	v.Require(c.Username == "" || c.Password != "", "username needs password")
	_, err = logging.ParseLevel(c.LogLevel)
	v.Require(err == nil, "log_level: %v", err)
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
