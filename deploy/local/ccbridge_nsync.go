package local

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"diego/ccbridge/lifecycle/bundle"
	nsyncconfig "diego/ccbridge/nsync/config"
	"diego/ccbridge/standincc"
	tpsconfig "diego/ccbridge/tps/config"
	"diego/deploy/config"
)

// The CC bridge's nsync and TPS, and the STAND-IN for the Cloud
// Controller's internal app API they call (ccbridge/standincc), which the
// launcher serves itself until the cloud-controller daemon lands.
const (
	NsyncPort = 8787
	TPSPort   = 1518
	// StandInCCPort is the Cloud Controller's internal API (ccbridge.go).
	StandInCCPort = CCPort
	// StandInCCUser and StandInCCPassword are the internal API's basic
	// auth, the same the stager sends (spec bridge §9.1).
	StandInCCUser     = stagingCCUser
	StandInCCPassword = stagingCCPassword
	// LifecycleBundle is the lifecycle's path under the file-server's
	// static directory (spec bridge §9.3).
	LifecycleBundle = bundle.LifecyclePath
)

// StandInCCAppsFile is where the stand-in CC reads the apps it lists at
// start: a JSON array of desire-app messages (spec bridge §3.2), optional.
func (p *Plan) StandInCCAppsFile() string { return filepath.Join(p.StateDir, "cc", "apps.json") }

// nsyncTPS are nsync and TPS, started after the receptor they use.
func (p *Plan) nsyncTPS() []Daemon {
	ccURL := "http://" + hostPort(StandInCCPort)

	n := nsyncconfig.DefaultConfig()
	n.ID = "nsync-local"
	n.ListenAddr = hostPort(NsyncPort)
	n.ReceptorURL = p.ReceptorURL
	n.CCBaseURL = ccURL
	n.CCBasicAuthUsername, n.CCBasicAuthPassword = StandInCCUser, StandInCCPassword
	n.FileServerURL = "http://" + hostPort(FileServerPort)
	n.Lifecycles = nil
	for _, stack := range p.StackNames() {
		n.Lifecycles = append(n.Lifecycles, "buildpack/"+stack+":"+LifecycleBundle)
	}
	// Short cycles, as spec bridge §9.5 suggests for a local cluster.
	n.CCPollingInterval = config.Duration(5 * time.Second)
	n.DomainTTL = config.Duration(15 * time.Second)
	// The bridge has no client certificates of its own: with the embedded
	// etcd's TLS it presents the receptor's, whose API it speaks.
	n.ETCD = p.Maker().ETCDBlock("receptor")
	n.LogLevel = p.LogLevel

	t := tpsconfig.DefaultConfig()
	t.ID = "tps-local"
	t.ListenAddr = hostPort(TPSPort)
	t.ReceptorURL = p.ReceptorURL
	t.DopplerURL = "http://" + hostPort(DopplerPort)
	t.CCBaseURL = ccURL
	t.CCBasicAuthUsername, t.CCBasicAuthPassword = StandInCCUser, StandInCCPassword
	t.ETCD = p.Maker().ETCDBlock("receptor")
	t.LogLevel = p.LogLevel

	d := func(name string, cfg any, endpoint string) Daemon {
		return Daemon{Name: name, Binary: name, Kind: KindBrain, ConfigPath: p.configPath(name), Config: cfg,
			Endpoint: endpoint, StopTimeout: 10 * time.Second}
	}
	return []Daemon{
		d("nsync", n, "http://"+n.ListenAddr),
		d("tps", t, "http://"+t.ListenAddr),
	}
}

// addNsyncTPSPorts adds nsync's, TPS's and the stand-in CC's ports.
func (p *Plan) addNsyncTPSPorts(ports map[int]string) {
	ports[NsyncPort] = "nsync"
	ports[TPSPort] = "tps"
	ports[StandInCCPort] = "stand-in cc"
}

// startStandInCC serves the stand-in CC on its port, with the apps of
// StandInCCAppsFile when it exists; the returned function stops it.
func (c *Cluster) startStandInCC() (func(), error) {
	cc := standincc.New(StandInCCUser, StandInCCPassword)
	if err := cc.LoadFile(c.Plan.StandInCCAppsFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	l, err := net.Listen("tcp", hostPort(StandInCCPort))
	if err != nil {
		return nil, fmt.Errorf("stand-in cc: %w", err)
	}
	server := &http.Server{Handler: cc.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = server.Serve(l) }()
	c.Log.Printf("stand-in cc (internal bulk and crash routes only) serving on http://%s", hostPort(StandInCCPort))
	return func() { _ = server.Close() }, nil
}
