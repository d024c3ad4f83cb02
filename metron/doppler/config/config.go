// Package config is the doppler daemon's JSON configuration.
package config

import (
	"fmt"
	"time"

	"diego/deploy/config"
)

// Config is the doppler's configuration (spec cell §7.5).
type Config struct {
	// Common holds log_level and debug_address.
	config.Common
	// ListenAddr serves the traffic-controller routes (HTTP and websockets).
	ListenAddr string `json:"listen_addr"`
	// IncomingUDPAddr receives signed envelopes from the metron agents.
	IncomingUDPAddr string `json:"incoming_udp_addr"`
	// SharedSecret verifies the agents' signatures.
	SharedSecret string `json:"shared_secret"`
	// MaxRetainedLogMessages are the recent logs kept per app.
	MaxRetainedLogMessages int `json:"max_retained_log_messages"`
	// ContainerMetricTTL is how long an instance's latest metric is kept.
	ContainerMetricTTL config.Duration `json:"container_metric_ttl"`
	// WebsocketPingInterval is the keep-alive ping of a stream.
	WebsocketPingInterval config.Duration `json:"websocket_ping_interval"`
	// AuthMode is none, token (AuthToken) or cc (CCLogAccessURL).
	AuthMode       string `json:"auth_mode"`
	AuthToken      string `json:"auth_token"`
	CCLogAccessURL string `json:"cc_log_access_url"`
	// OperatorToken, in auth_mode cc, is a bearer token admitted for every
	// app id without asking the CC: the operator's, for log guids that are
	// not CC apps (docs/decisions.md 103). Empty admits only CC tokens.
	OperatorToken string `json:"operator_token"`
	// DropsondePort is the local metron's port, for the doppler's own metrics.
	DropsondePort int `json:"dropsonde_port"`
	// ReportInterval is how often the doppler sends its own counters.
	ReportInterval config.Duration `json:"report_interval"`
}

// DefaultConfig is the doppler's configuration when its file says nothing.
func DefaultConfig() Config {
	return Config{
		Common:                 config.Common{LogLevel: "info"},
		ListenAddr:             "0.0.0.0:8084",
		IncomingUDPAddr:        "0.0.0.0:3460",
		MaxRetainedLogMessages: 100,
		ContainerMetricTTL:     config.Duration(120 * time.Second),
		WebsocketPingInterval:  config.Duration(30 * time.Second),
		AuthMode:               "none",
		CCLogAccessURL:         "http://127.0.0.1:9022/internal/log_access",
		DropsondePort:          3457,
		ReportInterval:         config.Duration(15 * time.Second),
	}
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var v config.Validator
	v.Common(c.Common)
	v.Require(c.ListenAddr != "", "listen_addr must not be empty")
	v.Require(c.IncomingUDPAddr != "", "incoming_udp_addr must not be empty")
	v.Require(c.SharedSecret != "", "shared_secret must not be empty (the agents sign with it)")
	v.Require(c.MaxRetainedLogMessages > 0, "max_retained_log_messages must be positive")
	v.Require(c.ContainerMetricTTL > 0, "container_metric_ttl must be positive")
	v.Require(c.WebsocketPingInterval > 0, "websocket_ping_interval must be positive")
	v.Require(c.ReportInterval > 0, "report_interval must be positive")
	v.Require(c.DropsondePort > 0 && c.DropsondePort < 65536, "dropsonde_port must be a port number")
	switch c.AuthMode {
	case "none", "cc":
		v.Require(c.AuthMode != "cc" || c.CCLogAccessURL != "", "cc_log_access_url must be set for auth_mode cc")
		v.Require(c.AuthMode == "cc" || c.OperatorToken == "", "operator_token is only for auth_mode cc")
	case "token":
		v.Require(c.AuthToken != "", "auth_token must be set for auth_mode token")
		v.Require(c.OperatorToken == "", "operator_token is only for auth_mode cc")
	default:
		v.Require(false, "auth_mode must be none, token or cc, not %q", c.AuthMode)
	}
	return v.Err()
}

// Load reads the file at path over the defaults.
func Load(path string) (Config, error) {
	cfg := DefaultConfig()
	if err := config.Load(path, &cfg); err != nil {
		return Config{}, fmt.Errorf("doppler: %w", err)
	}
	return cfg, nil
}
