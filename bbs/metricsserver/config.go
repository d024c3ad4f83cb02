package metricsserver

import (
	"fmt"
	"time"

	"diego/deploy/config"
)

// Config is the metrics-server's JSON configuration (cmd/metrics-server).
type Config struct {
	// Common holds log_level and debug_address.
	config.Common
	// BBSClient holds bbs_address and the bbs_*_file keys.
	config.BBSClient

	ListenAddr     string          `json:"listen_addr"`
	ReportInterval config.Duration `json:"report_interval"`
	// CommunicationTimeout bounds one report's reads.
	CommunicationTimeout config.Duration `json:"communication_timeout"`
	DropsondePort        int             `json:"dropsonde_port"`
}

// DefaultConfig is the configuration when the file says nothing.
func DefaultConfig() Config {
	return Config{
		ListenAddr:           "0.0.0.0:5678",
		BBSClient:            config.BBSClient{BBSAddress: "http://127.0.0.1:8889"},
		ReportInterval:       config.Duration(time.Minute),
		CommunicationTimeout: config.Duration(30 * time.Second),
		DropsondePort:        3457,
		Common:               config.Common{LogLevel: "info"},
	}
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var v config.Validator
	v.Common(c.Common)
	v.HostPort("listen_addr", c.ListenAddr, false)
	v.BBSClient(c.BBSClient)
	v.Require(c.ReportInterval > 0, "report_interval must be positive")
	v.Require(c.CommunicationTimeout > 0, "communication_timeout must be positive")
	v.Require(c.DropsondePort > 0 && c.DropsondePort < 65536, "dropsonde_port must be a port number")
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
