// Package members runs the two stores diego needs beside its own daemons,
// an etcd member and a NATS server, each from one JSON config like every
// daemon's (cmd/diego-etcd, cmd/diego-nats). They are what the BOSH
// release's etcd and nats jobs and the multi-VM cluster run; an operator
// with an etcd or NATS of their own points the daemons at it instead.
package members

import (
	"fmt"
	"net/url"
	"strings"

	"diego/deploy/config"
)

// ETCDConfig is one etcd member: its name, data, listeners and the
// cluster it starts in. With cert_file, clients must present a
// certificate signed by ca_file (mutual TLS); with peer_cert_file, so must
// the other members.
type ETCDConfig struct {
	config.Common

	Name    string `json:"name"`
	DataDir string `json:"data_dir"`
	// ListenClientURL and ListenPeerURL are where this member listens;
	// AdvertiseClientURL and AdvertisePeerURL what it tells the others.
	ListenClientURL    string `json:"listen_client_url"`
	AdvertiseClientURL string `json:"advertise_client_url"`
	ListenPeerURL      string `json:"listen_peer_url"`
	AdvertisePeerURL   string `json:"advertise_peer_url"`
	// InitialCluster lists every member as name=peer-url, comma-separated.
	InitialCluster      string `json:"initial_cluster"`
	InitialClusterToken string `json:"initial_cluster_token"`
	// InitialClusterState is "new" for the first start of a cluster and
	// "existing" for a member joining one that runs.
	InitialClusterState string `json:"initial_cluster_state"`

	CAFile       string `json:"ca_file"`
	CertFile     string `json:"cert_file"`
	KeyFile      string `json:"key_file"`
	PeerCAFile   string `json:"peer_ca_file"`
	PeerCertFile string `json:"peer_cert_file"`
	PeerKeyFile  string `json:"peer_key_file"`
	// HeartbeatInterval and ElectionTimeout are raft's timers.
	HeartbeatInterval config.Duration `json:"heartbeat_interval"`
	ElectionTimeout   config.Duration `json:"election_timeout"`
}

// DefaultETCDConfig is a one-member cluster on loopback.
func DefaultETCDConfig() ETCDConfig {
	return ETCDConfig{
		Common:              config.Common{LogLevel: "info"},
		Name:                "etcd0",
		DataDir:             "/var/lib/diego/etcd",
		ListenClientURL:     "http://127.0.0.1:2379",
		AdvertiseClientURL:  "http://127.0.0.1:2379",
		ListenPeerURL:       "http://127.0.0.1:2380",
		AdvertisePeerURL:    "http://127.0.0.1:2380",
		InitialCluster:      "etcd0=http://127.0.0.1:2380",
		InitialClusterToken: "diego-etcd",
		InitialClusterState: "new",
		HeartbeatInterval:   config.Duration(100e6),
		ElectionTimeout:     config.Duration(1000e6),
	}
}

// Validate reports every bad setting at once.
func (c ETCDConfig) Validate() error {
	var v config.Validator
	v.Common(c.Common)
	v.Require(c.Name != "", "name must not be empty")
	v.Require(strings.HasPrefix(c.DataDir, "/"), "data_dir %q must be an absolute path", c.DataDir)
	clientTLS := c.CertFile != ""
	peerTLS := c.PeerCertFile != ""
	urlKey(&v, "listen_client_url", c.ListenClientURL, clientTLS)
	urlKey(&v, "advertise_client_url", c.AdvertiseClientURL, clientTLS)
	urlKey(&v, "listen_peer_url", c.ListenPeerURL, peerTLS)
	urlKey(&v, "advertise_peer_url", c.AdvertisePeerURL, peerTLS)
	v.Require(c.InitialCluster != "", "initial_cluster must list the members as name=peer-url")
	found := false
	for _, m := range strings.Split(c.InitialCluster, ",") {
		name, peer, ok := strings.Cut(m, "=")
		v.Require(ok && name != "" && peer != "", "initial_cluster entry %q must be name=peer-url", m)
		found = found || (name == c.Name && peer == c.AdvertisePeerURL)
	}
	v.Require(found, "initial_cluster must name this member as %s=%s", c.Name, c.AdvertisePeerURL)
	v.Require(c.InitialClusterState == "new" || c.InitialClusterState == "existing",
		"initial_cluster_state %q must be new or existing", c.InitialClusterState)
	v.Require((c.CertFile == "") == (c.KeyFile == ""), "cert_file and key_file go together")
	v.Require(c.CertFile == "" || c.CAFile != "", "cert_file needs ca_file, the CA of the clients' certificates")
	v.Require((c.PeerCertFile == "") == (c.PeerKeyFile == ""), "peer_cert_file and peer_key_file go together")
	v.Require(c.PeerCertFile == "" || c.PeerCAFile != "", "peer_cert_file needs peer_ca_file")
	v.Positive(map[string]config.Duration{"heartbeat_interval": c.HeartbeatInterval, "election_timeout": c.ElectionTimeout})
	v.Require(c.ElectionTimeout >= 5*c.HeartbeatInterval, "election_timeout must be at least 5 heartbeat_intervals")
	return v.Err()
}

// LoadETCD reads the file at path over the defaults and validates it.
func LoadETCD(path string) (ETCDConfig, error) {
	cfg := DefaultETCDConfig()
	if err := config.Load(path, &cfg); err != nil {
		return ETCDConfig{}, fmt.Errorf("etcd: %w", err)
	}
	return cfg, nil
}

// NATSConfig is one NATS server of a cluster: clients on listen_addr, the
// other servers on cluster_listen_addr and routes. With cert_file, both
// clients and routes must present certificates signed by ca_file.
type NATSConfig struct {
	config.Common

	Name              string   `json:"name"`
	ListenAddr        string   `json:"listen_addr"`
	ClusterName       string   `json:"cluster_name"`
	ClusterListenAddr string   `json:"cluster_listen_addr"`
	Routes            []string `json:"routes"`
	Username          string   `json:"username"`
	Password          string   `json:"password"`
	CAFile            string   `json:"ca_file"`
	CertFile          string   `json:"cert_file"`
	KeyFile           string   `json:"key_file"`
}

// DefaultNATSConfig is a lone server on loopback.
func DefaultNATSConfig() NATSConfig {
	return NATSConfig{
		Common:      config.Common{LogLevel: "info"},
		Name:        "nats0",
		ListenAddr:  "127.0.0.1:4222",
		ClusterName: "diego-nats",
	}
}

// Validate reports every bad setting at once.
func (c NATSConfig) Validate() error {
	var v config.Validator
	v.Common(c.Common)
	v.Require(c.Name != "", "name must not be empty")
	v.HostPort("listen_addr", c.ListenAddr, false)
	v.HostPort("cluster_listen_addr", c.ClusterListenAddr, true)
	v.Require(len(c.Routes) == 0 || c.ClusterListenAddr != "", "routes need cluster_listen_addr")
	v.Require(c.ClusterListenAddr == "" || c.ClusterName != "", "cluster_listen_addr needs cluster_name")
	for _, r := range c.Routes {
		u, err := url.Parse(r)
		v.Require(err == nil && u.Scheme == "nats-route" && u.Host != "", "routes entry %q must be nats-route://host:port", r)
	}
	v.Require((c.Username == "") == (c.Password == ""), "username and password go together")
	v.Require((c.CertFile == "") == (c.KeyFile == ""), "cert_file and key_file go together")
	v.Require(c.CertFile == "" || c.CAFile != "", "cert_file needs ca_file")
	return v.Err()
}

// LoadNATS reads the file at path over the defaults and validates it.
func LoadNATS(path string) (NATSConfig, error) {
	cfg := DefaultNATSConfig()
	if err := config.Load(path, &cfg); err != nil {
		return NATSConfig{}, fmt.Errorf("nats: %w", err)
	}
	return cfg, nil
}

func urlKey(v *config.Validator, key, value string, tls bool) {
	u, err := url.Parse(value)
	v.Require(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "", "%s %q must be a URL like https://10.0.0.5:2379", key, value)
	if err == nil && u.Scheme != "" {
		v.Require(!tls || u.Scheme == "https", "%s %q must be https:// with TLS files", key, value)
		v.Require(tls || u.Scheme == "http", "%s %q is https:// but the TLS files are missing", key, value)
	}
}
