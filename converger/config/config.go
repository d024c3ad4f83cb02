// Package config is the converger daemon's JSON configuration.
package config

import (
	"fmt"
	"os"
	"time"

	"diego/deploy/config"
	"diego/deploy/logging"
)

// Config is the converger's configuration; keys follow the modern BBS's
// names for the convergence durations (spec core §5.5).
type Config struct {
	// ID names this converger in its lock's value.
	ID string `json:"id"`

	BBSAddress        string `json:"bbs_address"`
	BBSCACertFile     string `json:"bbs_ca_cert_file"`
	BBSClientCertFile string `json:"bbs_client_cert_file"`
	BBSClientKeyFile  string `json:"bbs_client_key_file"`

	// ETCDEndpoints reach the etcd holding the lock and the cell presences.
	ETCDEndpoints []string `json:"etcd_endpoints"`
	Root          string   `json:"root"`

	LockTTL           config.Duration `json:"lock_ttl"`
	LockRetryInterval config.Duration `json:"lock_retry_interval"`

	ConvergeRepeatInterval      config.Duration `json:"converge_repeat_interval"`
	KickTaskDuration            config.Duration `json:"kick_task_duration"`
	ExpirePendingTaskDuration   config.Duration `json:"expire_pending_task_duration"`
	ExpireCompletedTaskDuration config.Duration `json:"expire_completed_task_duration"`
	CommunicationTimeout        config.Duration `json:"communication_timeout"`

	LogLevel string `json:"log_level"`
}

// DefaultConfig is the converger's configuration when its file says nothing.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		ID:                          fmt.Sprintf("%s-%d", host, os.Getpid()),
		BBSAddress:                  "http://127.0.0.1:8889",
		ETCDEndpoints:               []string{"http://127.0.0.1:2379"},
		Root:                        "/diego",
		LockTTL:                     config.Duration(15 * time.Second),
		LockRetryInterval:           config.Duration(5 * time.Second),
		ConvergeRepeatInterval:      config.Duration(30 * time.Second),
		KickTaskDuration:            config.Duration(30 * time.Second),
		ExpirePendingTaskDuration:   config.Duration(30 * time.Minute),
		ExpireCompletedTaskDuration: config.Duration(120 * time.Second),
		CommunicationTimeout:        config.Duration(time.Minute),
		LogLevel:                    "info",
	}
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var v config.Validator
	v.Require(c.ID != "", "id must not be empty")
	v.Require(c.BBSAddress != "", "bbs_address is required (http://host:8889 or https://...)")
	v.Require((c.BBSClientCertFile == "") == (c.BBSClientKeyFile == ""), "bbs_client_cert_file and bbs_client_key_file go together")
	v.Require(len(c.ETCDEndpoints) > 0, "etcd_endpoints must list at least one URL")
	v.Require(c.Root != "" && c.Root[0] == '/', "root %q must start with /", c.Root)
	for key, d := range map[string]config.Duration{
		"lock_ttl": c.LockTTL, "lock_retry_interval": c.LockRetryInterval,
		"converge_repeat_interval": c.ConvergeRepeatInterval, "kick_task_duration": c.KickTaskDuration,
		"expire_pending_task_duration": c.ExpirePendingTaskDuration, "expire_completed_task_duration": c.ExpireCompletedTaskDuration,
		"communication_timeout": c.CommunicationTimeout,
	} {
		v.Require(d > 0, "%s must be positive", key)
	}
	_, err := logging.ParseLevel(c.LogLevel)
	v.Require(err == nil, "log_level: %v", err)
	return v.Err()
}

// Load reads the file at path over the defaults.
func Load(path string) (Config, error) {
	cfg := DefaultConfig()
	if err := config.Load(path, &cfg); err != nil {
		return Config{}, fmt.Errorf("converger: %w", err)
	}
	return cfg, nil
}
