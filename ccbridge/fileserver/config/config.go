// Package config is the file-server's JSON configuration (cmd/file-server
// -config; spec bridge.md §9.2).
package config

import (
	"fmt"

	"diego/deploy/config"
)

// Config is the file-server's configuration; DefaultConfig gives every
// default.
type Config struct {
	// Common holds log_level and debug_address.
	config.Common

	// ListenAddr serves the static files and the upload routes.
	ListenAddr string `json:"listen_addr"`
	// StaticDirectory is served at /v1/static/.
	StaticDirectory string `json:"static_directory"`
	// CCJobPollingInterval is how often a droplet's CC job is polled.
	CCJobPollingInterval config.Duration `json:"cc_job_polling_interval"`
	// CommunicationTimeout bounds dialling CC and waiting for its headers.
	CommunicationTimeout config.Duration `json:"communication_timeout"`
	// SkipCertVerify accepts any certificate from CC.
	SkipCertVerify bool `json:"skip_cert_verify"`
}

// DefaultConfig is the file-server's configuration when its file says
// nothing.
func DefaultConfig() Config {
	return Config{
		Common:               config.Common{LogLevel: "info"},
		ListenAddr:           "0.0.0.0:8080",
		StaticDirectory:      "/var/vcap/jobs/file_server/packages/",
		CCJobPollingInterval: config.Duration(1e9),
		CommunicationTimeout: config.Duration(30e9),
	}
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var v config.Validator
	v.Common(c.Common)
	v.HostPort("listen_addr", c.ListenAddr, false)
	v.Require(c.StaticDirectory != "", "static_directory is required")
	v.Positive(map[string]config.Duration{
		"cc_job_polling_interval": c.CCJobPollingInterval, "communication_timeout": c.CommunicationTimeout,
	})
	return v.Err()
}

// Load reads the file at path over the defaults.
func Load(path string) (Config, error) {
	cfg := DefaultConfig()
	if err := config.Load(path, &cfg); err != nil {
		return Config{}, fmt.Errorf("file-server: %w", err)
	}
	return cfg, nil
}
