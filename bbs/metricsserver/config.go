package metricsserver

import (
	"fmt"
	"net"
	"time"

	"diego/deploy/config"
	"diego/deploy/logging"
)

// Config is the metrics-server's JSON configuration (cmd/metrics-server).
type Config struct {
	ListenAddr        string          `json:"listen_addr"`
	BBSAddress        string          `json:"bbs_address"`
	BBSCACertFile     string          `json:"bbs_ca_cert_file"`
	BBSClientCertFile string          `json:"bbs_client_cert_file"`
	BBSClientKeyFile  string          `json:"bbs_client_key_file"`
	ReportInterval    config.Duration `json:"report_interval"`
	// CommunicationTimeout bounds one report's reads.
	CommunicationTimeout config.Duration `json:"communication_timeout"`
	DropsondePort        int             `json:"dropsonde_port"`
	LogLevel             string          `json:"log_level"`
}

// DefaultConfig is the configuration when the file says nothing.
func DefaultConfig() Config {
	return Config{
		ListenAddr:           "0.0.0.0:5678",
		BBSAddress:           "http://127.0.0.1:8889",
		ReportInterval:       config.Duration(time.Minute),
		CommunicationTimeout: config.Duration(30 * time.Second),
		DropsondePort:        3457,
		LogLevel:             "info",
	}
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var v config.Validator
	_, _, err := net.SplitHostPort(c.ListenAddr)
	v.Require(err == nil, "listen_addr %q is not host:port", c.ListenAddr)
	v.Require(c.BBSAddress != "", "bbs_address is required")
	v.Require((c.BBSClientCertFile == "") == (c.BBSClientKeyFile == ""), "bbs_client_cert_file and bbs_client_key_file go together")
	v.Require(c.ReportInterval > 0, "report_interval must be positive")
	v.Require(c.CommunicationTimeout > 0, "communication_timeout must be positive")
	v.Require(c.DropsondePort > 0 && c.DropsondePort < 65536, "dropsonde_port must be a port number")
	_, err = logging.ParseLevel(c.LogLevel)
	v.Require(err == nil, "log_level: %v", err)
	return v.Err()
}

// LoadConfig reads the file at path over the defaults.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	if err := config.Load(path, &cfg); err != nil {
		return Config{}, fmt.Errorf("metrics-server: %w", err)
	}
	return cfg, nil
}
