package config

import "time"

// The blocks of settings several daemons share, each one struct embedded in
// the daemons' configs so that a setting has one key everywhere
// (DESIGN.md §2, config).

// Common is embedded (anonymously) in every daemon's config: the log level,
// and the optional listener for Go's pprof profiles. The daemon kit
// (deploy/daemon) reads it through Settings.
type Common struct {
	// LogLevel is debug, info, warn or error.
	LogLevel string `json:"log_level"`
	// DebugAddress, when set, serves Go's pprof profiles (/debug/pprof/).
	DebugAddress string `json:"debug_address"`
}

// Settings gives the daemon kit the Common block of any config embedding it.
func (c Common) Settings() Common { return c }

// ETCD is the "etcd" object of every daemon that reaches etcd: the BBS for
// its records, and every lock or presence holder (auctioneer, converger,
// rep, ...) through bbs/lock. With cert_file and key_file, the client
// presents a certificate (mutual TLS); with ca_file, it verifies the
// servers' certificates against that CA.
type ETCD struct {
	Endpoints []string `json:"endpoints"`
	CAFile    string   `json:"ca_file"`
	CertFile  string   `json:"cert_file"`
	KeyFile   string   `json:"key_file"`
}

// TLS reports whether the block asks for TLS.
func (e ETCD) TLS() bool { return e.CAFile != "" || e.CertFile != "" }

// Lock is embedded (anonymously, so its keys stay top-level) in every
// daemon that holds a lock through bbs/lock (auctioneer, converger,
// route-emitter, nsync, tps): the "etcd" object, the key prefix the lock
// lives under, and the lock's lease TTL and retry interval. bbs/lock's
// DialLock takes it whole.
type Lock struct {
	ETCD ETCD   `json:"etcd"`
	Root string `json:"root"`
	// LockTTL is the lease's TTL: a holder that stops renewing loses the
	// lock after it.
	LockTTL Duration `json:"lock_ttl"`
	// LockRetryInterval is how often a standby tries again while the lock
	// is taken.
	LockRetryInterval Duration `json:"lock_retry_interval"`
}

// DefaultLock is the lock block's defaults (Diego's): a local etcd, /diego,
// a 15 s TTL and a 5 s retry interval.
func DefaultLock() Lock {
	return Lock{
		ETCD:              ETCD{Endpoints: []string{"http://127.0.0.1:2379"}},
		Root:              "/diego",
		LockTTL:           Duration(15 * time.Second),
		LockRetryInterval: Duration(5 * time.Second),
	}
}

// BBSClient is embedded (anonymously, so its keys stay flat) in every
// daemon that calls the BBS API: an http:// address, or an https:// one
// with a CA and a client certificate and key.
type BBSClient struct {
	BBSAddress        string `json:"bbs_address"`
	BBSCACertFile     string `json:"bbs_ca_cert_file"`
	BBSClientCertFile string `json:"bbs_client_cert_file"`
	BBSClientKeyFile  string `json:"bbs_client_key_file"`
}

// ReceptorClient is embedded (anonymously, keys flat) in every daemon that
// calls the receptor (route-emitter, nsync, tps): its URL and optional
// basic-auth credentials.
type ReceptorClient struct {
	ReceptorURL      string `json:"receptor_url"`
	ReceptorUsername string `json:"receptor_username"`
	ReceptorPassword string `json:"receptor_password"`
}

// CCClient is embedded (anonymously, keys flat) in every daemon that calls
// the Cloud Controller's internal API (nsync, tps, stager): its base URL and the
// basic-auth credentials it takes.
type CCClient struct {
	CCBaseURL           string `json:"cc_base_url"`
	CCBasicAuthUsername string `json:"cc_basic_auth_username"`
	CCBasicAuthPassword string `json:"cc_basic_auth_password"`
}

// renamedKeys are top-level keys that moved: Load refuses them with a
// message naming the new key rather than a bare "unknown field".
var renamedKeys = map[string]string{
	"etcd_endpoints": "etcd.endpoints",
	"etcd_ca_file":   "etcd.ca_file",
	"etcd_cert_file": "etcd.cert_file",
	"etcd_key_file":  "etcd.key_file",
}

// TLSServer is embedded (anonymously, so its keys stay flat) in a daemon
// whose API may be served over mutual TLS, as diego-release names the keys
// of the rep and the auctioneer: the server's certificate and key, and the
// CA its clients' certificates must be signed by.
type TLSServer struct {
	CACertFile     string `json:"ca_cert_file"`
	ServerCertFile string `json:"server_cert_file"`
	ServerKeyFile  string `json:"server_key_file"`
}

// TLS reports whether the block holds any file (Validate requires all
// three then).
func (s TLSServer) TLS() bool {
	return s.CACertFile != "" || s.ServerCertFile != "" || s.ServerKeyFile != ""
}

// ClientTLS is how a daemon reaches a peer whose address it learns at run
// time (a cell's presence, the auctioneer's lock): the PEM files of its
// client certificate and the CA of the peer's server certificate, and
// whether a plain-HTTP peer is refused. RepClientTLS and
// AuctioneerClientTLS give it under their keys.
type ClientTLS struct {
	CACert     string
	ClientCert string
	ClientKey  string
	RequireTLS bool
}

// Creds reports whether the client has a certificate to present.
func (c ClientTLS) Creds() bool { return c.CACert != "" && c.ClientCert != "" && c.ClientKey != "" }

// RepClientTLS is embedded (anonymously) in the rep's clients, the
// auctioneer and the BBS, with diego-release's keys.
type RepClientTLS struct {
	RepCACert     string `json:"rep_ca_cert"`
	RepClientCert string `json:"rep_client_cert"`
	RepClientKey  string `json:"rep_client_key"`
	// RepRequireTLS refuses a cell that offers only plain HTTP.
	RepRequireTLS bool `json:"rep_require_tls"`
}

// RepTLS is the block as a ClientTLS.
func (r RepClientTLS) RepTLS() ClientTLS {
	return ClientTLS{CACert: r.RepCACert, ClientCert: r.RepClientCert, ClientKey: r.RepClientKey, RequireTLS: r.RepRequireTLS}
}

// AuctioneerClientTLS is embedded (anonymously) in the auctioneer's
// client, the BBS, with diego-release's keys.
type AuctioneerClientTLS struct {
	AuctioneerCACert     string `json:"auctioneer_ca_cert"`
	AuctioneerClientCert string `json:"auctioneer_client_cert"`
	AuctioneerClientKey  string `json:"auctioneer_client_key"`
	// AuctioneerRequireTLS refuses an auctioneer that advertises plain HTTP.
	AuctioneerRequireTLS bool `json:"auctioneer_require_tls"`
}

// AuctioneerTLS is the block as a ClientTLS.
func (a AuctioneerClientTLS) AuctioneerTLS() ClientTLS {
	return ClientTLS{CACert: a.AuctioneerCACert, ClientCert: a.AuctioneerClientCert, ClientKey: a.AuctioneerClientKey,
		RequireTLS: a.AuctioneerRequireTLS}
}
