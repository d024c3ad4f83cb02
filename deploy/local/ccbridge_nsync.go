package local

import (
	"time"

	"diego/ccbridge/lifecycle/bundle"
	nsyncconfig "diego/ccbridge/nsync/config"
	tpsconfig "diego/ccbridge/tps/config"
	"diego/deploy/config"
)

// The CC bridge's nsync and TPS, which call the Cloud Controller's internal
// app API (cloudcontroller.go) with the basic auth the stager sends.
const (
	NsyncPort = 8787
	TPSPort   = 1518
)

// nsyncTPS are nsync and TPS, started after the receptor they use.
func (p *Plan) nsyncTPS() []Daemon {
	ccURL := p.CCURL()

	n := nsyncconfig.DefaultConfig()
	n.ID = "nsync-local"
	n.ListenAddr = hostPort(NsyncPort)
	n.ReceptorURL = p.ReceptorURL
	n.CCBaseURL = ccURL
	n.CCBasicAuthUsername, n.CCBasicAuthPassword = stagingCCUser, stagingCCPassword
	n.FileServerURL = "http://" + hostPort(FileServerPort)
	n.Lifecycles = nil
	for _, stack := range p.StackNames() {
		n.Lifecycles = append(n.Lifecycles, "buildpack/"+stack+":"+bundle.LifecyclePath)
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
	t.CCBasicAuthUsername, t.CCBasicAuthPassword = stagingCCUser, stagingCCPassword
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

// addNsyncTPSPorts adds nsync's, TPS's and the Cloud Controller's ports.
func (p *Plan) addNsyncTPSPorts(ports map[int]string) {
	ports[NsyncPort] = "nsync"
	ports[TPSPort] = "tps"
	ports[CCPort] = CloudControllerName
}
