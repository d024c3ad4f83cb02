// Package config is the Cloud Controller's JSON configuration
// (cmd/cloud-controller -config, spec cloud-controller.md §1.3).
package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"diego/deploy/config"
)

// Stack is one stack the CC offers; the first is the default.
type Stack struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Config is the Cloud Controller's configuration; DefaultConfig gives every default.
type Config struct {
	// Common holds log_level and debug_address.
	config.Common

	ListenAddr  string `json:"listen_addr"`
	ExternalURL string `json:"external_url"`
	// InternalURL is the base of every URL handed to the bridge.
	InternalURL         string `json:"internal_url"`
	InternalAPIUser     string `json:"internal_api_user"`
	InternalAPIPassword string `json:"internal_api_password"`
	StateDir            string `json:"state_dir"`

	AdminUser          string          `json:"admin_user"`
	AdminPassword      string          `json:"admin_password"`
	TokenSigningSecret string          `json:"token_signing_secret"`
	AccessTokenTTL     config.Duration `json:"access_token_ttl"`
	RefreshTokenTTL    config.Duration `json:"refresh_token_ttl"`

	StagerURL              string `json:"stager_url"`
	NsyncURL               string `json:"nsync_url"`
	TPSURL                 string `json:"tps_url"`
	FileServerURL          string `json:"file_server_url"`
	FileServerStaticDir    string `json:"file_server_static_dir"`
	DopplerLoggingEndpoint string `json:"doppler_logging_endpoint"`

	DefaultOrg   string  `json:"default_org"`
	DefaultSpace string  `json:"default_space"`
	SharedDomain string  `json:"shared_domain"`
	Stacks       []Stack `json:"stacks"`

	StagingTimeout  config.Duration `json:"staging_timeout"`
	StagingMemoryMB int             `json:"staging_memory_mb"`
	StagingDiskMB   int             `json:"staging_disk_mb"`
	FileDescriptors int             `json:"file_descriptors"`

	DefaultAppMemoryMB        int             `json:"default_app_memory_mb"`
	DefaultAppDiskMB          int             `json:"default_app_disk_mb"`
	MaxAppDiskMB              int             `json:"max_app_disk_mb"`
	DefaultHealthCheckTimeout config.Duration `json:"default_health_check_timeout"`
	MaxHealthCheckTimeout     config.Duration `json:"max_health_check_timeout"`
	OrgMemoryLimitMB          int             `json:"org_memory_limit_mb"`
	MaxAppInstances           int             `json:"max_app_instances"`

	StagingEgressRules json.RawMessage `json:"staging_egress_rules"`
	RunningEgressRules json.RawMessage `json:"running_egress_rules"`

	MaxJSONBodyBytes            int64 `json:"max_json_body_bytes"`
	MaxResourceMatchBytes       int64 `json:"max_resource_match_bytes"`
	MaxDropletBytes             int64 `json:"max_droplet_bytes"`
	MaxPackageBytes             int64 `json:"max_package_bytes"`
	MaxPackageUncompressedBytes int64 `json:"max_package_uncompressed_bytes"`
	MaxPackageEntries           int   `json:"max_package_entries"`
	ResourcePoolMinSize         int64 `json:"resource_pool_min_size"`
	ResourcePoolMaxSize         int64 `json:"resource_pool_max_size"`
	ResourcePoolMaxBytes        int64 `json:"resource_pool_max_bytes"`

	CommunicationTimeout config.Duration `json:"communication_timeout"`
	DropsondePort        int             `json:"dropsonde_port"`
}

const allEgress = `[{"protocol":"all","destinations":["0.0.0.0-255.255.255.255"]}]`

// DefaultConfig is the configuration when the file says nothing.
func DefaultConfig() Config {
	return Config{
		Common:                      config.Common{LogLevel: "info"},
		ListenAddr:                  "127.0.0.1:9022",
		ExternalURL:                 "http://127.0.0.1:9022",
		InternalURL:                 "http://127.0.0.1:9022",
		InternalAPIUser:             "internal_user",
		AdminUser:                   "admin",
		AdminPassword:               "admin",
		AccessTokenTTL:              config.Duration(2 * time.Hour),
		RefreshTokenTTL:             config.Duration(720 * time.Hour),
		StagerURL:                   "http://127.0.0.1:8888",
		NsyncURL:                    "http://127.0.0.1:8787",
		TPSURL:                      "http://127.0.0.1:1518",
		FileServerURL:               "http://127.0.0.1:8080",
		DopplerLoggingEndpoint:      "ws://127.0.0.1:8084",
		DefaultOrg:                  "diego",
		DefaultSpace:                "dev",
		SharedDomain:                "apps.localhost",
		Stacks:                      []Stack{{Name: "cflinuxfs3", Description: "diego rootfs"}},
		StagingTimeout:              config.Duration(15 * time.Minute),
		StagingMemoryMB:             1024,
		StagingDiskMB:               4096,
		FileDescriptors:             16384,
		DefaultAppMemoryMB:          1024,
		DefaultAppDiskMB:            1024,
		MaxAppDiskMB:                2048,
		DefaultHealthCheckTimeout:   config.Duration(60 * time.Second),
		MaxHealthCheckTimeout:       config.Duration(180 * time.Second),
		OrgMemoryLimitMB:            10240,
		MaxAppInstances:             100,
		StagingEgressRules:          json.RawMessage(allEgress),
		RunningEgressRules:          json.RawMessage(allEgress),
		MaxJSONBodyBytes:            1 << 20,
		MaxResourceMatchBytes:       16 << 20,
		MaxDropletBytes:             2 << 30,
		MaxPackageBytes:             1 << 30,
		MaxPackageUncompressedBytes: 2 << 30,
		MaxPackageEntries:           100000,
		ResourcePoolMinSize:         65536,
		ResourcePoolMaxSize:         536870912,
		ResourcePoolMaxBytes:        1 << 30,
		CommunicationTimeout:        config.Duration(10 * time.Second),
		DropsondePort:               3457,
	}
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var v config.Validator
	v.Common(c.Common)
	v.HostPort("listen_addr", c.ListenAddr, false)
	for key, u := range map[string]string{"external_url": c.ExternalURL, "internal_url": c.InternalURL,
		"stager_url": c.StagerURL, "nsync_url": c.NsyncURL, "tps_url": c.TPSURL, "file_server_url": c.FileServerURL} {
		v.Require(strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://"), "%s %q must start with http:// or https://", key, u)
	}
	v.Require(c.InternalAPIUser != "", "internal_api_user must not be empty")
	v.Require(c.InternalAPIPassword != "", "internal_api_password is required")
	v.Require(c.StateDir != "", "state_dir is required")
	v.Require(c.AdminUser != "" && c.AdminPassword != "", "admin_user and admin_password must not be empty")
	v.Require(len(c.TokenSigningSecret) >= 32, "token_signing_secret is required and must be at least 32 bytes")
	v.Require(c.DefaultOrg != "" && c.DefaultSpace != "" && c.SharedDomain != "", "default_org, default_space and shared_domain must not be empty")
	v.Require(len(c.Stacks) > 0, "stacks must name at least one stack")
	for _, s := range c.Stacks {
		v.Require(s.Name != "", "every stack needs a name")
	}
	v.Positive(map[string]config.Duration{
		"access_token_ttl": c.AccessTokenTTL, "refresh_token_ttl": c.RefreshTokenTTL, "staging_timeout": c.StagingTimeout,
		"default_health_check_timeout": c.DefaultHealthCheckTimeout, "max_health_check_timeout": c.MaxHealthCheckTimeout,
		"communication_timeout": c.CommunicationTimeout,
	})
	for key, n := range map[string]int64{"staging_memory_mb": int64(c.StagingMemoryMB), "staging_disk_mb": int64(c.StagingDiskMB),
		"file_descriptors": int64(c.FileDescriptors), "default_app_memory_mb": int64(c.DefaultAppMemoryMB),
		"default_app_disk_mb": int64(c.DefaultAppDiskMB), "max_app_disk_mb": int64(c.MaxAppDiskMB),
		"org_memory_limit_mb": int64(c.OrgMemoryLimitMB), "max_app_instances": int64(c.MaxAppInstances),
		"max_json_body_bytes": c.MaxJSONBodyBytes, "max_resource_match_bytes": c.MaxResourceMatchBytes,
		"max_droplet_bytes": c.MaxDropletBytes, "max_package_bytes": c.MaxPackageBytes,
		"max_package_uncompressed_bytes": c.MaxPackageUncompressedBytes, "max_package_entries": int64(c.MaxPackageEntries),
		"resource_pool_max_size": c.ResourcePoolMaxSize, "resource_pool_max_bytes": c.ResourcePoolMaxBytes} {
		v.Require(n > 0, "%s must be positive", key)
	}
	v.Require(c.ResourcePoolMinSize >= 0 && c.ResourcePoolMinSize <= c.ResourcePoolMaxSize, "resource_pool_min_size must be between 0 and resource_pool_max_size")
	v.Require(json.Valid(c.StagingEgressRules) && json.Valid(c.RunningEgressRules), "staging_egress_rules and running_egress_rules must be JSON arrays")
	return v.Err()
}

// Load reads the file at path over the defaults.
func Load(path string) (Config, error) {
	cfg := DefaultConfig()
	if err := config.Load(path, &cfg); err != nil {
		return Config{}, fmt.Errorf("cloud-controller: %w", err)
	}
	return cfg, nil
}
