// Package local is the local-cluster launcher behind cmd/diego-local: it
// plans a whole diego on one host (embedded etcd and NATS, a CA and mutual
// TLS certificates for the BBS, the brain, the receptor and N cells of
// garden + executor + rep), writes each daemon's JSON config under a state
// directory, runs the daemons as separate processes with one merged log,
// and takes everything down again in order.
//
// The planning is pure (NewPlan): every address, port pool, network pool,
// tag and path follows from the Options, so it is tested without starting
// anything.
package local

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"diego/deploy/cluster"
	"diego/deploy/config"
	executorconfig "diego/executor/config"
	gardenconfig "diego/garden/config"
	repconfig "diego/rep/config"
)

// The default addresses: each daemon's own default port (shared/spec
// README), on loopback. Cell i (1-based, named cell_z1-<i-1>) adds i-1 to
// the garden, executor and rep ports.
const (
	Host               = "127.0.0.1"
	ETCDClientPort     = 2379
	ETCDPeerPort       = 2380
	NATSPort           = 4222
	BBSPort            = 8889
	BBSHealthPort      = 8890
	AuctioneerPort     = 9016
	MetricsServerPort  = 5678
	ReceptorPort       = 8887
	GardenPort         = 7777
	ExecutorPort       = 1700
	RepPort            = 1800
	DropsondePort      = 3457
	GardenPortPoolBase = 61001
	// GardenPortPoolSize host ports per cell: 61001-61500 for cell_z1-0,
	// 61501-62000 for cell_z1-1, ...
	GardenPortPoolSize = 500
	// MaxCells keeps the port pools below 65536 and the tags single letters.
	MaxCells = 8
	// Zone is every cell's zone; cells are named as diego-release names
	// its cell VMs' cell_id: cell_z1-0, cell_z1-1, ...
	Zone = "z1"
	// DockerImage is the docker:// rootfs the gardens map to the busybox
	// rootfs (also their default rootfs).
	DockerImage = "docker:///busybox"
)

// DefaultStacks are the preloaded stacks every cell offers ("preloaded:
// cflinuxfs4"), all on the stack rootfs (deploy/rootfs/build-stack.sh).
var DefaultStacks = []string{"cflinuxfs2", "cflinuxfs3", "cflinuxfs4"}

// DenyNetworks is every cell garden's deny_networks: as in diego-release,
// a container reaches only what its egress rules allow.
var DenyNetworks = []string{"0.0.0.0/0"}

// Options say what to run; the zero values of the optional fields get
// defaults from NewPlan.
type Options struct {
	// StateDir holds configs, certificates, etcd's data, depots, caches
	// and logs (absolute).
	StateDir string
	// BinDir holds the daemons' binaries.
	BinDir string
	// RootFS is the busybox rootfs directory (absolute): the gardens'
	// default rootfs and docker:///busybox.
	RootFS string
	// StackRootFS is the Debian stack rootfs directory (absolute) that
	// DefaultStacks map to.
	StackRootFS string
	// Stacks are more stacks to offer, each "name" (on StackRootFS) or
	// "name:/abs/path" (its own rootfs directory).
	Stacks []string
	// Cells is how many cells to run (1-MaxCells).
	Cells int
	// ETCDEndpoints, when set, is an external etcd; otherwise the launcher
	// embeds one.
	ETCDEndpoints []string
	// ETCDTLS makes the embedded etcd serve https and require a client
	// certificate from the CA below; every daemon's etcd block then names
	// its own.
	ETCDTLS bool
	// LogLevel is every daemon's log_level.
	LogLevel string
}

// Kind groups the daemons for shutdown.
type Kind string

// The kinds, in start order.
const (
	KindBrain    Kind = "brain"
	KindGarden   Kind = "garden"
	KindExecutor Kind = "executor"
	KindRep      Kind = "rep"
)

// Daemon is one process to run.
type Daemon struct {
	// Name prefixes its log lines: "bbs", "garden_z1-0".
	Name string
	// Binary is the file name in BinDir.
	Binary string
	Kind   Kind
	// Cell is the 1-based cell index, 0 for the brain.
	Cell int
	// ConfigPath is where its JSON config goes; Config is the config.
	ConfigPath string
	Config     any
	// Endpoint is what is printed for people ("" for none).
	Endpoint string
	// StopTimeout bounds the wait after SIGINT before SIGKILL.
	StopTimeout time.Duration
}

// Cell is one cell's share of the host: the builder's cell (addresses,
// pools, tag, directory) and its 1-based index.
type Cell struct {
	Index int
	cluster.Cell
}

// Certs are the files of the BBS's mutual TLS.
type Certs struct {
	Dir           string
	CAFile        string
	BBSServerCert string
	BBSServerKey  string
	// ETCDServerCert and ETCDServerKey are the embedded etcd's, when it
	// serves TLS ("" otherwise).
	ETCDServerCert string
	ETCDServerKey  string
	// Clients maps a client name (auctioneer, rep_z1-0, ...) to its cert
	// and key files.
	Clients map[string][2]string
}

// Plan is the whole cluster.
type Plan struct {
	Options
	EmbeddedETCD  bool
	ETCDDataDir   string
	ETCDPeerURL   string
	NATSURL       string
	BBSURL        string
	BBSHealthAddr string
	ReceptorURL   string
	LogDir        string
	ConfigDir     string
	Certs         Certs
	Cells         []Cell
	// StackMap maps each stack name to its rootfs directory.
	StackMap map[string]string
	// Daemons in start order: brain, then each cell's garden, executor
	// and rep.
	Daemons []Daemon
	ccCreds *ccCredentials // cloudcontroller.go
}

// NewPlan lays out the cluster that opts describe.
func NewPlan(opts Options) (*Plan, error) {
	if err := validate(opts); err != nil {
		return nil, err
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "info"
	}
	p := &Plan{
		Options:       opts,
		EmbeddedETCD:  len(opts.ETCDEndpoints) == 0,
		ETCDDataDir:   filepath.Join(opts.StateDir, "etcd"),
		NATSURL:       "nats://" + hostPort(NATSPort),
		BBSURL:        "https://" + hostPort(BBSPort),
		BBSHealthAddr: hostPort(BBSHealthPort),
		ReceptorURL:   "http://" + hostPort(ReceptorPort),
		LogDir:        filepath.Join(opts.StateDir, "logs"),
		ConfigDir:     filepath.Join(opts.StateDir, "config"),
	}
	if p.EmbeddedETCD {
		scheme := "http://"
		if opts.ETCDTLS {
			scheme = "https://"
		}
		p.ETCDEndpoints = []string{scheme + hostPort(ETCDClientPort)}
		p.ETCDPeerURL = "http://" + hostPort(ETCDPeerPort)
	}
	p.StackMap = stackMap(opts)
	p.Certs = planCerts(filepath.Join(opts.StateDir, "certs"), opts.Cells, opts.ETCDTLS)
	for i := 1; i <= opts.Cells; i++ {
		p.Cells = append(p.Cells, planCell(opts.StateDir, i))
	}
	p.Daemons = append(append(p.brain(), p.nsyncTPS()...), p.cells()...)
	p.Daemons = append(p.Daemons, p.routing()...)
	p.Daemons = p.withLoggregator(p.Daemons)                                             // loggregator.go
	p.Daemons = append(append(p.Daemons, p.stagingDaemons()...), p.cloudController()...) // cloudcontroller.go
	return p, nil
}

func validate(opts Options) error {
	var errs []error
	for name, dir := range map[string]string{"state dir": opts.StateDir, "bin dir": opts.BinDir, "rootfs": opts.RootFS,
		"stack rootfs": opts.StackRootFS} {
		if !filepath.IsAbs(dir) {
			errs = append(errs, fmt.Errorf("the %s %q must be an absolute path", name, dir))
		}
	}
	if opts.ETCDTLS && len(opts.ETCDEndpoints) > 0 {
		errs = append(errs, errors.New("etcd TLS is for the embedded etcd: an external etcd's TLS files are its own"))
	}
	if opts.Cells < 1 || opts.Cells > MaxCells {
		errs = append(errs, fmt.Errorf("cells must be between 1 and %d, not %d", MaxCells, opts.Cells))
	}
	for _, e := range opts.ETCDEndpoints {
		if !strings.HasPrefix(e, "http://") && !strings.HasPrefix(e, "https://") {
			errs = append(errs, fmt.Errorf("etcd endpoint %q must be a URL such as http://10.0.0.5:2379", e))
		}
	}
	seen := map[string]bool{}
	for _, s := range DefaultStacks {
		seen[s] = true
	}
	for _, entry := range opts.Stacks {
		name, dir, hasDir := strings.Cut(entry, ":")
		switch {
		case name == "" || strings.ContainsAny(name, "/ ,"):
			errs = append(errs, fmt.Errorf("stack %q: want a name such as cflinuxfs5, or name:/abs/rootfs", entry))
		case seen[name]:
			errs = append(errs, fmt.Errorf("stack %q is already offered", name))
		case hasDir && !filepath.IsAbs(dir):
			errs = append(errs, fmt.Errorf("stack %q: the rootfs %q must be an absolute path", name, dir))
		}
		seen[name] = true
	}
	return errors.Join(errs...)
}

// stackMap is every stack's rootfs directory.
func stackMap(opts Options) map[string]string {
	m := map[string]string{}
	for _, s := range DefaultStacks {
		m[s] = opts.StackRootFS
	}
	for _, entry := range opts.Stacks {
		name, dir, ok := strings.Cut(entry, ":")
		if !ok {
			dir = opts.StackRootFS
		}
		m[name] = dir
	}
	return m
}

// StackNames are the offered stacks, sorted.
func (p *Plan) StackNames() []string {
	names := make([]string, 0, len(p.StackMap))
	for name := range p.StackMap {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func hostPort(port int) string { return net.JoinHostPort(Host, strconv.Itoa(port)) }

// planCell gives cell i (1-based) its ports, pools, tag and directories.
func planCell(stateDir string, i int) Cell {
	id := fmt.Sprintf("cell_%s-%d", Zone, i-1)
	c := Cell{Index: i, Cell: cluster.Cell{
		ID:            id,
		Zone:          Zone,
		Tag:           string(rune('a' + i - 1)),
		NetworkPool:   fmt.Sprintf("10.251.%d.0/22", 4*(i-1)),
		PortPoolStart: uint32(GardenPortPoolBase + (i-1)*GardenPortPoolSize),
		PortPoolSize:  GardenPortPoolSize,
		GardenAddr:    hostPort(GardenPort + i - 1),
		ExecutorAddr:  hostPort(ExecutorPort + i - 1),
		RepAddr:       hostPort(RepPort + i - 1),
		Dir:           filepath.Join(stateDir, id),
	}}
	c.CertName = c.DaemonName(KindRep)
	return c
}

// DaemonName is the launcher's name of one of the cell's daemons, after
// the cell: "garden_z1-0", "rep_z1-1".
func (c Cell) DaemonName(kind Kind) string { return string(kind) + strings.TrimPrefix(c.ID, "cell") }

// ClientNames are the BBS's clients, each with its own certificate.
func ClientNames(cells int) []string {
	// "cli" is for people and tools (cfdot-style) that call the BBS.
	names := []string{cluster.AuctioneerClient, cluster.ConvergerClient, cluster.MetricsServerClient,
		cluster.ReceptorClient, "cli", "route-emitter"}
	for i := 1; i <= cells; i++ {
		names = append(names, planCell("", i).DaemonName(KindRep))
	}
	return names
}

// ETCDClientName is the BBS's etcd client certificate, made when the
// embedded etcd serves TLS (the other daemons present their BBS client
// certificate to etcd too).
const ETCDClientName = cluster.ETCDClient

func planCerts(dir string, cells int, etcdTLS bool) Certs {
	c := Certs{
		Dir:           dir,
		CAFile:        filepath.Join(dir, "ca.crt"),
		BBSServerCert: filepath.Join(dir, "bbs.crt"),
		BBSServerKey:  filepath.Join(dir, "bbs.key"),
		Clients:       map[string][2]string{},
	}
	names := ClientNames(cells)
	if etcdTLS {
		c.ETCDServerCert, c.ETCDServerKey = filepath.Join(dir, "etcd.crt"), filepath.Join(dir, "etcd.key")
		names = append(names, ETCDClientName)
	}
	for _, name := range names {
		c.Clients[name] = [2]string{filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")}
	}
	return c
}

// Maker is the config builder of the plan's cluster: its etcd (with the
// CA when the embedded etcd serves TLS), the BBS's URL and certificates,
// the log level, the rootfs and the stacks.
func (p *Plan) Maker() cluster.Maker {
	m := cluster.Maker{
		ETCD:   config.ETCD{Endpoints: p.ETCDEndpoints},
		BBSURL: p.BBSURL,
		Certs: cluster.Certs{CAFile: p.Certs.CAFile, BBSServerCert: p.Certs.BBSServerCert,
			BBSServerKey: p.Certs.BBSServerKey, Clients: p.Certs.Clients},
		LogLevel: p.LogLevel,
		RootFS:   p.RootFS,
		Stacks:   p.StackMap,
	}
	if p.ETCDTLS {
		m.ETCD.CAFile = p.Certs.CAFile
	}
	return m
}

func (p *Plan) configPath(name string) string { return filepath.Join(p.ConfigDir, name+".json") }

func (p *Plan) brain() []Daemon {
	m := p.Maker()
	bbs := m.BBS(hostPort(BBSPort), p.BBSHealthAddr)
	auctioneer := m.Auctioneer("auctioneer-local", hostPort(AuctioneerPort))
	converger := m.Converger("converger-local")
	metrics := m.MetricsServer(hostPort(MetricsServerPort))
	receptor := m.Receptor(hostPort(ReceptorPort))

	brain := func(name string, cfg any, endpoint string) Daemon {
		return Daemon{Name: name, Binary: name, Kind: KindBrain, ConfigPath: p.configPath(name), Config: cfg,
			Endpoint: endpoint, StopTimeout: 10 * time.Second}
	}
	return []Daemon{
		brain("bbs", bbs, p.BBSURL+" (mutual TLS), health http://"+p.BBSHealthAddr+"/ping"),
		brain("auctioneer", auctioneer, auctioneer.AdvertiseAddress),
		// The converger is ready once it holds its lock and runs.
		brain("converger", converger, ""),
		brain("metrics-server", metrics, "http://"+metrics.ListenAddr+"/v1/metrics"),
		brain("receptor", receptor, p.ReceptorURL),
	}
}

func (p *Plan) cells() []Daemon {
	m := p.Maker()
	var out []Daemon
	for _, c := range p.Cells {
		g := m.Garden(c.Cell, func(g *gardenconfig.Config) {
			g.RootFSMap[DockerImage] = p.RootFS
			// Closed egress, as diego-release configures garden.
			g.DenyNetworks = DenyNetworks
			g.AllowHostAccess = false
		})
		e := m.Executor(c.Cell, func(e *executorconfig.Config) { e.MaxCacheSizeInBytes = 1 << 30 })
		r := m.Rep(c.Cell, func(r *repconfig.Config) {
			r.SupportedProviders = []string{"docker"}
			// The launcher stops cells itself: a rep that evacuated on
			// SIGINT would wait for its instances to move to cells that
			// are stopping too.
			r.EvacuateOnShutdown = false
		})

		name := c.DaemonName
		out = append(out,
			Daemon{Name: name(KindGarden), Binary: "garden", Kind: KindGarden, Cell: c.Index,
				ConfigPath: p.configPath(name(KindGarden)), Config: g,
				Endpoint: "http://" + c.GardenAddr, StopTimeout: 10 * time.Second},
			Daemon{Name: name(KindExecutor), Binary: "executor", Kind: KindExecutor, Cell: c.Index,
				ConfigPath: p.configPath(name(KindExecutor)), Config: e,
				Endpoint: "http://" + c.ExecutorAddr, StopTimeout: 15 * time.Second},
			Daemon{Name: name(KindRep), Binary: "rep", Kind: KindRep, Cell: c.Index,
				ConfigPath: p.configPath(name(KindRep)), Config: r,
				Endpoint: r.RepAddress, StopTimeout: 15 * time.Second},
		)
	}
	return out
}

// Ports lists every TCP port the cluster listens on, with who listens, so
// the launcher can say which one is taken before starting anything.
func (p *Plan) Ports() map[int]string {
	ports := map[int]string{
		NATSPort: "nats", BBSPort: "bbs", BBSHealthPort: "bbs health", AuctioneerPort: "auctioneer",
		MetricsServerPort: "metrics-server", ReceptorPort: "receptor",
	}
	p.loggregatorPorts(ports) // loggregator.go
	p.addNsyncTPSPorts(ports)
	maps.Copy(ports, p.routingPorts())
	for port, who := range stagingPorts() {
		ports[port] = who
	}
	if p.EmbeddedETCD {
		ports[ETCDClientPort] = "etcd"
		ports[ETCDPeerPort] = "etcd peer"
	}
	for _, c := range p.Cells {
		for addr, who := range map[string]string{c.GardenAddr: "garden", c.ExecutorAddr: "executor", c.RepAddr: "rep"} {
			_, port, _ := net.SplitHostPort(addr)
			n, _ := strconv.Atoi(port)
			ports[n] = c.DaemonName(Kind(who))
		}
	}
	return ports
}

// Validate runs each daemon's own config validation over the plan.
func (p *Plan) Validate() error {
	var errs []error
	for _, d := range p.Daemons {
		v, ok := d.Config.(interface{ Validate() error })
		if !ok {
			errs = append(errs, fmt.Errorf("%s: its config has no Validate", d.Name))
			continue
		}
		if err := v.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.Name, err))
		}
	}
	return errors.Join(errs...)
}
