// Package config is the nsync daemon's JSON configuration (cmd/nsync
// -config): the listener's and the bulker's settings (spec bridge §3.4).
package config

import (
	"fmt"
	"os"
	"strings"
	"time"

	"diego/deploy/config"
)

// Config is nsync's configuration; DefaultConfig gives every default.
type Config struct {
	// Common holds log_level and debug_address.
	config.Common

	// ID names this nsync in the bulker lock's value.
	ID string `json:"id"`
	// ListenAddr serves the listener API (spec bridge §3.1).
	ListenAddr string `json:"listen_addr"`

	// ReceptorClient is the receptor nsync reads and writes through:
	// receptor_url, receptor_username, receptor_password.
	config.ReceptorClient

	// CCClient is the CC's internal API the bulker pages: cc_base_url,
	// cc_basic_auth_username, cc_basic_auth_password.
	config.CCClient
	CCPollingInterval    config.Duration `json:"cc_polling_interval"`
	CCBulkBatchSize      int             `json:"cc_bulk_batch_size"`
	DomainTTL            config.Duration `json:"domain_ttl"`
	BBSUpdateLRPWorkers  int             `json:"bbs_update_lrp_workers"`
	CommunicationTimeout config.Duration `json:"communication_timeout"`

	// Lifecycles are "buildpack/<stack>:<path under the static directory>".
	Lifecycles    []string `json:"lifecycles"`
	FileServerURL string   `json:"file_server_url"`

	// Lock holds etcd (the bulker's lock), root, lock_ttl and
	// lock_retry_interval.
	config.Lock
}

// DefaultConfig is nsync's configuration when its file says nothing.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		Common:               config.Common{LogLevel: "info"},
		ID:                   fmt.Sprintf("%s-%d", host, os.Getpid()),
		ListenAddr:           "0.0.0.0:8787",
		ReceptorClient:       config.ReceptorClient{ReceptorURL: "http://127.0.0.1:8887"},
		CCClient:             config.CCClient{CCBaseURL: "http://127.0.0.1:9022"},
		CCPollingInterval:    config.Duration(30 * time.Second),
		CCBulkBatchSize:      500,
		DomainTTL:            config.Duration(2 * time.Minute),
		BBSUpdateLRPWorkers:  50,
		CommunicationTimeout: config.Duration(30 * time.Second),
		Lifecycles:           []string{"buildpack/cflinuxfs3:buildpack_app_lifecycle/buildpack_app_lifecycle.tgz"},
		FileServerURL:        "http://127.0.0.1:8080",
		Lock:                 config.DefaultLock(),
	}
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var v config.Validator
	v.Common(c.Common)
	v.Require(c.ID != "", "id must not be empty")
	v.HostPort("listen_addr", c.ListenAddr, false)
	v.ReceptorClient(c.ReceptorClient)
	v.CCClient(c.CCClient)
	v.HTTPURL("file_server_url", c.FileServerURL)
	v.Require(c.CCBulkBatchSize > 0, "cc_bulk_batch_size must be positive")
	v.Require(c.BBSUpdateLRPWorkers > 0, "bbs_update_lrp_workers must be positive")
	v.Require(c.DomainTTL >= c.CCPollingInterval, "domain_ttl must be at least cc_polling_interval, or the domain expires between passes")
	for _, l := range c.Lifecycles {
		key, path, ok := strings.Cut(l, ":")
		v.Require(ok && strings.Contains(key, "/") && path != "", "lifecycles entry %q must be <lifecycle>/<stack>:<path>", l)
	}
	v.Positive(map[string]config.Duration{
		"cc_polling_interval": c.CCPollingInterval, "domain_ttl": c.DomainTTL,
		"communication_timeout": c.CommunicationTimeout,
	})
	v.Lock(c.Lock)
	return v.Err()
}

// Load reads the file at path over the defaults.
func Load(path string) (Config, error) {
	cfg := DefaultConfig()
	if err := config.Load(path, &cfg); err != nil {
		return Config{}, fmt.Errorf("nsync: %w", err)
	}
	return cfg, nil
}
