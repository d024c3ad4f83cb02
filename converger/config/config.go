// Package config is the converger daemon's JSON configuration.
package config

import (
	"fmt"
	"os"
	"time"

	"diego/deploy/config"
)

// Config is the converger's configuration; keys follow the modern BBS's
// names for the convergence durations (spec core §5.5).
type Config struct {
	// Common holds log_level and debug_address.
	config.Common

	// ID names this converger in its lock's value.
	ID string `json:"id"`

	// BBSClient holds bbs_address and the bbs_*_file keys.
	config.BBSClient

	// Lock holds etcd (the lock and the cell presences), root, lock_ttl
	// and lock_retry_interval.
	config.Lock

	ConvergeRepeatInterval      config.Duration `json:"converge_repeat_interval"`
	KickTaskDuration            config.Duration `json:"kick_task_duration"`
	ExpirePendingTaskDuration   config.Duration `json:"expire_pending_task_duration"`
	ExpireCompletedTaskDuration config.Duration `json:"expire_completed_task_duration"`
	CommunicationTimeout        config.Duration `json:"communication_timeout"`
}

// DefaultConfig is the converger's configuration when its file says nothing.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		ID:                          fmt.Sprintf("%s-%d", host, os.Getpid()),
		BBSClient:                   config.BBSClient{BBSAddress: "http://127.0.0.1:8889"},
		Lock:                        config.DefaultLock(),
		ConvergeRepeatInterval:      config.Duration(30 * time.Second),
		KickTaskDuration:            config.Duration(30 * time.Second),
		ExpirePendingTaskDuration:   config.Duration(30 * time.Minute),
		ExpireCompletedTaskDuration: config.Duration(120 * time.Second),
		CommunicationTimeout:        config.Duration(time.Minute),
		Common:                      config.Common{LogLevel: "info"},
	}
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var v config.Validator
	v.Require(c.ID != "", "id must not be empty")
	v.Common(c.Common)
	v.BBSClient(c.BBSClient)
	v.Lock(c.Lock)
	for key, d := range map[string]config.Duration{
		"converge_repeat_interval": c.ConvergeRepeatInterval, "kick_task_duration": c.KickTaskDuration,
		"expire_pending_task_duration": c.ExpirePendingTaskDuration, "expire_completed_task_duration": c.ExpireCompletedTaskDuration,
		"communication_timeout": c.CommunicationTimeout,
	} {
		v.Require(d > 0, "%s must be positive", key)
	}
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
