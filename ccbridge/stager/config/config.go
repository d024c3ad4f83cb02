// Package config is the stager's JSON configuration (cmd/stager -config;
// spec bridge.md §2.1, with the receptor in place of the BBS, §9.0).
package config

import (
	"fmt"
	"strings"

	"diego/ccbridge/stager/recipe"
	"diego/deploy/config"
)

// Config is the stager's configuration; DefaultConfig gives every default.
type Config struct {
	// Common holds log_level and debug_address.
	config.Common

	// ListenAddr serves the staging API (§2.2).
	ListenAddr string `json:"listen_addr"`
	// StagingTaskCallbackURL is the stager's own base URL as the BBS
	// reaches it: task callbacks go to <this>/v1/staging/<guid>/completed.
	StagingTaskCallbackURL string `json:"staging_task_callback_url"`

	// ReceptorAddress is the receptor the staging tasks are desired
	// through (§9.0), http:// or https://; ReceptorUsername and
	// ReceptorPassword are its basic auth, when it has some.
	ReceptorAddress  string `json:"receptor_address"`
	ReceptorUsername string `json:"receptor_username"`
	ReceptorPassword string `json:"receptor_password"`
	// CommunicationTimeout bounds each receptor call.
	CommunicationTimeout config.Duration `json:"communication_timeout"`

	// CCClient is CC's internal API (cc_base_url), for the fallback
	// completion URL; its basic auth credentials (cc_basic_auth_username,
	// cc_basic_auth_password) go on every completion POST.
	config.CCClient

	// FileServerURL serves the lifecycle bundles (<this>/v1/static/<path>).
	FileServerURL string `json:"file_server_url"`
	// CCUploaderURL takes the droplet and cache uploads (our file-server).
	CCUploaderURL string `json:"cc_uploader_url"`
	// Lifecycles lists "<lifecycle>/<stack>:<path-or-url>".
	Lifecycles []string `json:"lifecycles"`

	// DockerStagingStack is accepted for Diego's configs; docker staging
	// is left out (§9.10).
	DockerStagingStack        string   `json:"docker_staging_stack"`
	DiegoPrivilegedContainers bool     `json:"diego_privileged_containers"`
	SkipCertVerify            bool     `json:"skip_cert_verify"`
	InsecureDockerRegistries  []string `json:"insecure_docker_registries"`

	// DropsondePort is the local metron's UDP port; 0 sends no metrics.
	DropsondePort int `json:"dropsonde_port"`
}

// DefaultConfig is the stager's configuration when its file says nothing.
func DefaultConfig() Config {
	return Config{
		Common:                 config.Common{LogLevel: "info"},
		ListenAddr:             "0.0.0.0:8888",
		StagingTaskCallbackURL: "http://stager.service.cf.internal:8888",
		ReceptorAddress:        "http://127.0.0.1:8887",
		CommunicationTimeout:   config.Duration(30e9),
		CCClient:               config.CCClient{CCBaseURL: "http://127.0.0.1:9022"},
		FileServerURL:          "http://127.0.0.1:8080",
		CCUploaderURL:          "http://127.0.0.1:8080",
		Lifecycles:             []string{"buildpack/cflinuxfs3:buildpack_app_lifecycle/buildpack_app_lifecycle.tgz"},
	}
}

// Validate reports every bad setting at once.
func (c Config) Validate() error {
	var v config.Validator
	v.Common(c.Common)
	v.HostPort("listen_addr", c.ListenAddr, false)
	for key, u := range map[string]string{
		"staging_task_callback_url": c.StagingTaskCallbackURL, "receptor_address": c.ReceptorAddress,
		"cc_base_url": c.CCBaseURL, "file_server_url": c.FileServerURL, "cc_uploader_url": c.CCUploaderURL,
	} {
		v.Require(strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://"), "%s %q must start with http:// or https://", key, u)
	}
	v.Require(c.CommunicationTimeout > 0, "communication_timeout must be positive")
	v.Require((c.ReceptorUsername == "") == (c.ReceptorPassword == ""), "receptor_username and receptor_password go together")
	_, err := recipe.ParseLifecycles(c.Lifecycles)
	v.Require(err == nil, "%v", err)
	v.Require(c.DropsondePort >= 0 && c.DropsondePort < 65536, "dropsonde_port must be a port number (0: no metrics)")
	return v.Err()
}

// Load reads the file at path over the defaults.
func Load(path string) (Config, error) {
	cfg := DefaultConfig()
	if err := config.Load(path, &cfg); err != nil {
		return Config{}, fmt.Errorf("stager: %w", err)
	}
	return cfg, nil
}
