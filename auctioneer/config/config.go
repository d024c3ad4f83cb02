// Package config is the auctioneer daemon's JSON configuration
// (cmd/auctioneer -config).
package config

import (
	"fmt"
	"net/url"
	"os"
	"time"

	"diego/auctioneer/auctionrunner"
	"diego/deploy/config"
)

// Config is the auctioneer's configuration; DefaultConfig gives every
// default.
type Config struct {
	// Common holds log_level and debug_address.
	config.Common

	// ListenAddr serves the auctioneer API (spec core §5.1).
	ListenAddr string `json:"listen_addr"`
	// AdvertiseAddress is the auctioneer_address written in the lock's
	// value, which is how the BBS finds the active auctioneer; empty means
	// http://<listen_addr>, or https:// with the server TLS files.
	AdvertiseAddress string `json:"advertise_address"`
	// TLSServer (ca_cert_file, server_cert_file, server_key_file), when
	// set, serves the API over mutual TLS: the BBS must present a
	// certificate signed by ca_cert_file.
	config.TLSServer
	// ID is the auctioneer_id written in the lock's value.
	ID string `json:"id"`

	// BBSClient holds bbs_address and the bbs_*_file keys.
	config.BBSClient
	// RepClientTLS (rep_ca_cert, rep_client_cert, rep_client_key,
	// rep_require_tls) is how the auctioneer reaches the cells' reps.
	config.RepClientTLS

	// Lock holds etcd (the auctioneer lock), root, lock_ttl and
	// lock_retry_interval.
	config.Lock

	// CellStateTimeout bounds each rep GET /state; CommunicationTimeout
	// bounds each rep POST /work and each BBS call.
	CellStateTimeout     config.Duration `json:"cell_state_timeout"`
	CommunicationTimeout config.Duration `json:"communication_timeout"`
	AuctionRunnerWorkers int             `json:"auction_runner_workers"`

	// Scoring weights and the in-flight limit (spec core §5.3, §7.2 item 3).
	StartingContainerWeight       float64 `json:"starting_container_weight"`
	BinPackFirstFitWeight         float64 `json:"bin_pack_first_fit_weight"`
	LRPSpreadWeight               float64 `json:"lrp_spread_weight"`
	TaskSpreadWeight              float64 `json:"task_spread_weight"`
	StartingContainerCountMaximum int     `json:"starting_container_count_maximum"`

	// DropsondePort is the local metron's UDP port, where metrics go.
	DropsondePort int `json:"dropsonde_port"`
}

// DefaultConfig is the auctioneer's configuration when its file says
// nothing.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	weights := auctionrunner.DefaultConfig()
	return Config{
		ListenAddr:                    "0.0.0.0:9016",
		ID:                            fmt.Sprintf("%s-%d", host, os.Getpid()),
		BBSClient:                     config.BBSClient{BBSAddress: "http://127.0.0.1:8889"},
		Lock:                          config.DefaultLock(),
		CellStateTimeout:              config.Duration(10 * time.Second),
		CommunicationTimeout:          config.Duration(10 * time.Second),
		AuctionRunnerWorkers:          1000,
		StartingContainerWeight:       weights.StartingContainerWeight,
		BinPackFirstFitWeight:         weights.BinPackFirstFitWeight,
		LRPSpreadWeight:               weights.LRPSpreadWeight,
		TaskSpreadWeight:              weights.TaskSpreadWeight,
		StartingContainerCountMaximum: weights.StartingContainerCountMaximum,
		DropsondePort:                 3457,
		Common:                        config.Common{LogLevel: "info"},
	}
}

// Advertise is the auctioneer_address of the lock value: AdvertiseAddress,
// or http://<listen_addr> (https:// when the API is served over TLS).
func (c Config) Advertise() string {
	if c.AdvertiseAddress != "" {
		return c.AdvertiseAddress
	}
	if c.TLS() {
		return "https://" + c.ListenAddr
	}
	return "http://" + c.ListenAddr
}

// Scheduler is the scheduler's share of the configuration.
func (c Config) Scheduler() auctionrunner.Config {
	return auctionrunner.Config{
		StartingContainerWeight:       c.StartingContainerWeight,
		BinPackFirstFitWeight:         c.BinPackFirstFitWeight,
		LRPSpreadWeight:               c.LRPSpreadWeight,
		TaskSpreadWeight:              c.TaskSpreadWeight,
		StartingContainerCountMaximum: c.StartingContainerCountMaximum,
	}
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var v config.Validator
	v.Common(c.Common)
	v.HostPort("listen_addr", c.ListenAddr, false)
	if c.AdvertiseAddress != "" {
		u, err := url.Parse(c.AdvertiseAddress)
		v.Require(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "",
			"advertise_address %q must be a URL like http://10.0.0.5:9016", c.AdvertiseAddress)
		if err == nil {
			v.Require((u.Scheme == "https") == c.TLS(),
				"advertise_address %q must be https:// exactly when ca_cert_file, server_cert_file and server_key_file are set", c.AdvertiseAddress)
		}
	}
	v.TLSServer(c.TLSServer)
	v.ClientTLS("rep_", c.RepTLS())
	v.Require(c.ID != "", "id must not be empty")
	v.BBSClient(c.BBSClient)
	v.Lock(c.Lock)
	for _, d := range []struct {
		key   string
		value config.Duration
	}{
		{"cell_state_timeout", c.CellStateTimeout}, {"communication_timeout", c.CommunicationTimeout},
	} {
		v.Require(d.value > 0, "%s must be positive", d.key)
	}
	v.Require(c.AuctionRunnerWorkers > 0, "auction_runner_workers must be positive")
	for _, w := range []struct {
		key   string
		value float64
	}{
		{"starting_container_weight", c.StartingContainerWeight}, {"bin_pack_first_fit_weight", c.BinPackFirstFitWeight},
		{"lrp_spread_weight", c.LRPSpreadWeight}, {"task_spread_weight", c.TaskSpreadWeight},
	} {
		v.Require(w.value >= 0, "%s must not be negative", w.key)
	}
	v.Require(c.StartingContainerCountMaximum >= 0, "starting_container_count_maximum must not be negative (0 is unlimited)")
	v.Require(c.DropsondePort > 0 && c.DropsondePort < 65536, "dropsonde_port must be a port number")
	return v.Err()
}

// Load reads the file at path over the defaults and validates it.
func Load(path string) (Config, error) {
	cfg := DefaultConfig()
	if err := config.Load(path, &cfg); err != nil {
		return Config{}, fmt.Errorf("auctioneer: %w", err)
	}
	return cfg, nil
}
