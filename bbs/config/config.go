// Package config is the BBS daemon's JSON configuration (cmd/bbs -config).
package config

import (
	"fmt"

	"diego/bbs/converge"
	"diego/deploy/config"
)

// Config is the BBS's configuration; DefaultConfig gives every default.
type Config struct {
	// Common holds log_level and debug_address.
	config.Common

	// ListenAddr serves the BBS API: mutual TLS when CertFile is set, plain
	// HTTP (development only) otherwise.
	ListenAddr string `json:"listen_addr"`
	// HealthAddress answers GET /ping while the BBS runs.
	HealthAddress string `json:"health_address"`
	// CAFile verifies client certificates; CertFile and KeyFile are the
	// server's own (RSA).
	CAFile   string `json:"ca_file"`
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`

	// ETCD reaches the etcd holding every record.
	ETCD config.ETCD `json:"etcd"`
	// Root is the etcd key prefix of everything diego stores.
	Root string `json:"root"`

	// RecordCache serves reads from a watch-fed copy of the store behind a
	// linearizable read barrier (decision 85); false reads etcd each time.
	RecordCache bool `json:"record_cache"`
	// GroupCommit sends the write transactions that arrive while one is in
	// flight to etcd together, as one transaction of guarded
	// sub-transactions (decision 180); false sends each on its own.
	GroupCommit bool `json:"group_commit"`

	// AuctioneerClientTLS (auctioneer_ca_cert, auctioneer_client_cert,
	// auctioneer_client_key, auctioneer_require_tls) is how the BBS
	// reaches the auctioneer whose lock value it reads.
	config.AuctioneerClientTLS
	// RepClientTLS (rep_ca_cert, rep_client_cert, rep_client_key,
	// rep_require_tls) is how it reaches the reps, to stop instances and
	// cancel tasks.
	config.RepClientTLS

	// CommunicationTimeout bounds calls to the auctioneer and the reps.
	CommunicationTimeout config.Duration `json:"communication_timeout"`
	MaxTaskRetries       int32           `json:"max_task_retries"`
	TaskCallbackWorkers  int             `json:"task_callback_workers"`
	// ConvergenceWorkers bounds the parallel writes of a convergence pass.
	ConvergenceWorkers int   `json:"convergence_workers"`
	MaxRequestBytes    int64 `json:"max_request_bytes"`
	// DropsondePort is the local metron's UDP port, where metrics go.
	DropsondePort int `json:"dropsonde_port"`
}

// DefaultConfig is the BBS's configuration when its file says nothing.
func DefaultConfig() Config {
	return Config{
		ListenAddr:           "0.0.0.0:8889",
		HealthAddress:        "127.0.0.1:8890",
		ETCD:                 config.ETCD{Endpoints: []string{"http://127.0.0.1:2379"}},
		Root:                 "/diego",
		RecordCache:          true,
		GroupCommit:          true,
		CommunicationTimeout: config.Duration(10e9),
		MaxTaskRetries:       3,
		TaskCallbackWorkers:  1000,
		ConvergenceWorkers:   converge.DefaultConvergenceWorkers,
		MaxRequestBytes:      1 << 20,
		DropsondePort:        3457,
		Common:               config.Common{LogLevel: "info"},
	}
}

// TLS reports whether the API is served with mutual TLS.
func (c Config) TLS() bool { return c.CertFile != "" }

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var v config.Validator
	v.Common(c.Common)
	v.HostPort("listen_addr", c.ListenAddr, false)
	v.HostPort("health_address", c.HealthAddress, false)
	v.Require(c.CertFile == "" || (c.KeyFile != "" && c.CAFile != ""),
		"cert_file needs key_file and ca_file (the CA that signs client certificates)")
	v.Require(c.CertFile != "" || (c.KeyFile == "" && c.CAFile == ""), "key_file and ca_file need cert_file")
	v.ETCD(c.ETCD, c.Root)
	v.ClientTLS("auctioneer_", c.AuctioneerTLS())
	v.ClientTLS("rep_", c.RepTLS())
	v.Require(c.CommunicationTimeout > 0, "communication_timeout must be positive")
	v.Require(c.MaxTaskRetries >= 0, "max_task_retries must not be negative")
	v.Require(c.TaskCallbackWorkers > 0, "task_callback_workers must be positive")
	v.Require(c.ConvergenceWorkers > 0, "convergence_workers must be positive")
	v.Require(c.MaxRequestBytes > 0, "max_request_bytes must be positive")
	v.Require(c.DropsondePort > 0 && c.DropsondePort < 65536, "dropsonde_port must be a port number")
	return v.Err()
}

// Load reads the file at path over the defaults.
func Load(path string) (Config, error) {
	cfg := DefaultConfig()
	if err := config.Load(path, &cfg); err != nil {
		return Config{}, fmt.Errorf("bbs: %w", err)
	}
	return cfg, nil
}
