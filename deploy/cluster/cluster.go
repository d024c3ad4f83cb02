// Package cluster is the one builder of daemon configs (the idea of
// inigo's ComponentMaker): each method returns a daemon's typed Config,
// starting from that daemon's own DefaultConfig and filling in what the
// cluster shares (etcd, the BBS's address, certificates, the log level,
// the cell's addresses and pools), then applying the caller's func(*Config)
// modifiers in order.
//
// The local-cluster launcher (deploy/local), test/integration and every
// cmd/* binary suite make their configs here, so a key renamed in a
// daemon's config is renamed for all of them by the compiler. A new
// daemon adds its method in a file of its own (routing.go, ccbridge.go,
// ...), after the pattern below.
package cluster

import (
	"path/filepath"
	"sort"

	auctioneerconfig "diego/auctioneer/config"
	bbsconfig "diego/bbs/config"
	"diego/bbs/metricsserver"
	convergerconfig "diego/converger/config"
	"diego/deploy/config"
	executorconfig "diego/executor/config"
	gardenconfig "diego/garden/config"
	receptorconfig "diego/receptor/config"
	repconfig "diego/rep/config"
)

// Maker holds what the daemons of one cluster share. The zero value of an
// optional field leaves the daemon's default.
type Maker struct {
	// ETCD is the etcd block of the BBS and every lock or presence holder.
	// With a CA file but no client certificate, each daemon presents its
	// own from Certs.Clients (the BBS the ETCDClient one).
	ETCD config.ETCD
	// BBSURL is the BBS API's URL ("http://..." or "https://..." with
	// Certs).
	BBSURL string
	// Certs, when CAFile is set, make the BBS serve mutual TLS and every
	// BBS client present its own certificate.
	Certs Certs
	// LogLevel is every daemon's log_level ("" keeps each default).
	LogLevel string
	// RootFS is every garden's default rootfs.
	RootFS string
	// Stacks maps each preloaded stack (cflinuxfs4) to its rootfs
	// directory: the gardens map "preloaded:<name>" to it and the reps
	// offer it.
	Stacks map[string]string
}

// Certs are the files of the cluster's mutual TLS.
type Certs struct {
	CAFile        string
	BBSServerCert string
	BBSServerKey  string
	// Clients maps a client name (auctioneer, rep_z1-0, ...) to its
	// certificate and key files.
	Clients map[string][2]string
}

// The names of the BBS's clients in Certs.Clients; a rep's is its Cell's
// CertName.
const (
	AuctioneerClient    = "auctioneer"
	ConvergerClient     = "converger"
	MetricsServerClient = "metrics-server"
	ReceptorClient      = "receptor"
	// ETCDClient is the BBS's own etcd client certificate.
	ETCDClient = "bbs-etcd"
)

// Cell is one cell's share of the host: its garden, executor and rep.
type Cell struct {
	// ID is the cell_id; Zone its zone.
	ID   string
	Zone string
	// CertName names the rep's client certificate in Certs.Clients.
	CertName     string
	GardenAddr   string
	ExecutorAddr string
	RepAddr      string
	// Dir holds the garden's depot and the executor's temp and cache
	// directories.
	Dir string
	// Tag, NetworkPool and the port pool keep the cell's gardens apart
	// from others on the host.
	Tag           string
	NetworkPool   string
	PortPoolStart uint32
	PortPoolSize  uint32
}

// DepotDir is the cell's garden depot.
func (c Cell) DepotDir() string { return filepath.Join(c.Dir, "depot") }

// ExecutorTempDir is the executor's temp_dir.
func (c Cell) ExecutorTempDir() string { return filepath.Join(c.Dir, "executor", "tmp") }

// ExecutorCacheDir is the executor's cache_path.
func (c Cell) ExecutorCacheDir() string { return filepath.Join(c.Dir, "executor", "cache") }

// etcd fills the etcd block of the daemon whose client certificate is
// client's (when the cluster names an etcd).
func (m Maker) etcd(block *config.ETCD, client string) {
	if len(m.ETCD.Endpoints) == 0 {
		return
	}
	*block = m.ETCD
	block.Endpoints = append([]string(nil), m.ETCD.Endpoints...)
	if block.CAFile != "" && block.CertFile == "" {
		files := m.Certs.Clients[client]
		block.CertFile, block.KeyFile = files[0], files[1]
	}
}

// ETCDBlock is the etcd block of a daemon the Maker has no method for yet
// (its client certificate is client's).
func (m Maker) ETCDBlock(client string) config.ETCD {
	var block config.ETCD
	m.etcd(&block, client)
	return block
}

// bbsClient fills the BBS-client block of the daemon whose certificate is
// client's.
func (m Maker) bbsClient(block *config.BBSClient, client string) {
	if m.BBSURL != "" {
		block.BBSAddress = m.BBSURL
	}
	if m.Certs.CAFile != "" {
		files := m.Certs.Clients[client]
		block.BBSCACertFile, block.BBSClientCertFile, block.BBSClientKeyFile = m.Certs.CAFile, files[0], files[1]
	}
}

func (m Maker) logLevel(level *string) {
	if m.LogLevel != "" {
		*level = m.LogLevel
	}
}

// apply runs the modifiers in order; a nil one changes nothing.
func apply[C any](cfg *C, mods []func(*C)) {
	for _, mod := range mods {
		if mod != nil {
			mod(cfg)
		}
	}
}

// BBS serves its API on listen and its health check on health.
func (m Maker) BBS(listen, health string, mods ...func(*bbsconfig.Config)) bbsconfig.Config {
	c := bbsconfig.DefaultConfig()
	c.ListenAddr, c.HealthAddress = listen, health
	if m.Certs.CAFile != "" {
		c.CAFile, c.CertFile, c.KeyFile = m.Certs.CAFile, m.Certs.BBSServerCert, m.Certs.BBSServerKey
	}
	m.etcd(&c.ETCD, ETCDClient)
	m.logLevel(&c.LogLevel)
	apply(&c, mods)
	return c
}

// Auctioneer listens on listen and advertises http://listen under id.
func (m Maker) Auctioneer(id, listen string, mods ...func(*auctioneerconfig.Config)) auctioneerconfig.Config {
	c := auctioneerconfig.DefaultConfig()
	c.ID, c.ListenAddr, c.AdvertiseAddress = id, listen, "http://"+listen
	m.bbsClient(&c.BBSClient, AuctioneerClient)
	m.etcd(&c.ETCD, AuctioneerClient)
	m.logLevel(&c.LogLevel)
	apply(&c, mods)
	return c
}

// Converger holds its lock under id.
func (m Maker) Converger(id string, mods ...func(*convergerconfig.Config)) convergerconfig.Config {
	c := convergerconfig.DefaultConfig()
	c.ID = id
	m.bbsClient(&c.BBSClient, ConvergerClient)
	m.etcd(&c.ETCD, ConvergerClient)
	m.logLevel(&c.LogLevel)
	apply(&c, mods)
	return c
}

// MetricsServer serves /v1/metrics on listen.
func (m Maker) MetricsServer(listen string, mods ...func(*metricsserver.Config)) metricsserver.Config {
	c := metricsserver.DefaultConfig()
	c.ListenAddr = listen
	m.bbsClient(&c.BBSClient, MetricsServerClient)
	m.logLevel(&c.LogLevel)
	apply(&c, mods)
	return c
}

// Receptor serves the receptor API on listen.
func (m Maker) Receptor(listen string, mods ...func(*receptorconfig.Config)) receptorconfig.Config {
	c := receptorconfig.DefaultConfig()
	c.ListenAddr = listen
	m.bbsClient(&c.BBSClient, ReceptorClient)
	m.logLevel(&c.LogLevel)
	apply(&c, mods)
	return c
}

// Garden is the cell's garden on TCP, with its depot, pools and tag, the
// cluster's default rootfs and every stack as "preloaded:<name>".
func (m Maker) Garden(cell Cell, mods ...func(*gardenconfig.Config)) gardenconfig.Config {
	c := gardenconfig.DefaultConfig()
	c.ListenNetwork, c.ListenAddr = "tcp", cell.GardenAddr
	c.DepotDir = cell.DepotDir()
	if m.RootFS != "" {
		c.DefaultRootFS = m.RootFS
	}
	for name, dir := range m.Stacks {
		c.RootFSMap["preloaded:"+name] = dir
	}
	if cell.NetworkPool != "" {
		c.NetworkPool = cell.NetworkPool
	}
	if cell.PortPoolSize != 0 {
		c.PortPoolStart, c.PortPoolSize = cell.PortPoolStart, cell.PortPoolSize
	}
	c.Tag = cell.Tag
	m.logLevel(&c.LogLevel)
	apply(&c, mods)
	return c
}

// Executor is the cell's executor, on its garden over TCP, with its
// containers owned by executor-<cell id>.
func (m Maker) Executor(cell Cell, mods ...func(*executorconfig.Config)) executorconfig.Config {
	c := executorconfig.DefaultConfig()
	c.ListenAddr = cell.ExecutorAddr
	c.CellID = cell.ID
	c.GardenNetwork, c.GardenAddr = "tcp", cell.GardenAddr
	c.TempDir, c.CachePath = cell.ExecutorTempDir(), cell.ExecutorCacheDir()
	c.ContainerOwnerName = "executor-" + cell.ID
	m.logLevel(&c.LogLevel)
	apply(&c, mods)
	return c
}

// Rep is the cell's rep, on its executor, holding its presence in etcd and
// offering every stack.
func (m Maker) Rep(cell Cell, mods ...func(*repconfig.Config)) repconfig.Config {
	c := repconfig.DefaultConfig()
	c.ListenAddr = cell.RepAddr
	c.RepAddress = "http://" + cell.RepAddr
	c.CellID, c.Zone = cell.ID, cell.Zone
	c.ExecutorAddress = "http://" + cell.ExecutorAddr
	m.bbsClient(&c.BBSClient, cell.CertName)
	m.etcd(&c.ETCD, cell.CertName)
	if len(m.Stacks) > 0 {
		names := make([]string, 0, len(m.Stacks))
		for name := range m.Stacks {
			names = append(names, name)
		}
		sort.Strings(names)
		c.PreloadedRootFS = nil
		for _, name := range names {
			c.PreloadedRootFS = append(c.PreloadedRootFS, name+":"+m.Stacks[name])
		}
	}
	m.logLevel(&c.LogLevel)
	apply(&c, mods)
	return c
}
