package local

import (
	"fmt"
	"strconv"
	"time"

	executorconfig "diego/executor/config"
	gardenconfig "diego/garden/config"
	metronconfig "diego/metron/agent/config"
	dopplerconfig "diego/metron/doppler/config"
	repconfig "diego/rep/config"
)

// The log and metric path of the local cluster (docs/logs-and-metrics.md):
// one doppler, one metron for the brain on the usual 3457, and one per cell
// on a port of its own, since every cell shares the one loopback.
const (
	DopplerPort       = 8084
	DopplerUDPPort    = 3460
	CellDropsondeBase = 3470 // cell N's metron listens on 3470+N
	LoggregatorSecret = "diego-local-loggregator"
	LoggregatorDeploy = "diego-local"
	dopplerName       = "doppler"
	brainMetronName   = "metron"
	metronStopTimeout = 5 * time.Second
)

// DopplerURL is where `diego logs` and `diego top` read (with env.sh's
// operator token) and where `cf logs` reads (with its CC token).
func (p *Plan) DopplerURL() string { return "http://" + hostPort(DopplerPort) }

// CellDropsondePort is the UDP port of cell i's metron.
func CellDropsondePort(cell int) int { return CellDropsondeBase + cell }

// withLoggregator puts the doppler and the brain's metron first (so the
// brain's first metrics have somewhere to go), a metron before each cell's
// garden, and points each cell's daemons at their cell's metron.
func (p *Plan) withLoggregator(daemons []Daemon) []Daemon {
	d := dopplerconfig.DefaultConfig()
	d.ListenAddr = hostPort(DopplerPort)
	d.IncomingUDPAddr = hostPort(DopplerUDPPort)
	d.SharedSecret = LoggregatorSecret
	d.DropsondePort = DropsondePort
	d.LogLevel = p.LogLevel
	p.ccDopplerAuth(&d) // cloudcontroller.go

	metron := func(name, job string, index, port int) Daemon {
		m := metronconfig.DefaultConfig()
		m.DropsondePort = port
		m.DopplerAddress = hostPort(DopplerUDPPort)
		m.SharedSecret = LoggregatorSecret
		m.Deployment, m.Zone, m.Job, m.Index, m.IP = LoggregatorDeploy, Zone, job, strconv.Itoa(index), Host
		m.LogLevel = p.LogLevel
		return Daemon{Name: name, Binary: "metron", Kind: KindBrain, Cell: index, ConfigPath: p.configPath(name), Config: m,
			Endpoint: fmt.Sprintf("udp://%s (dropsonde)", hostPort(port)), StopTimeout: metronStopTimeout}
	}

	out := []Daemon{
		{Name: dopplerName, Binary: "doppler", Kind: KindBrain, ConfigPath: p.configPath(dopplerName), Config: d,
			Endpoint: p.DopplerURL() + " (auth cc: cf logs; diego logs, diego top with env.sh's token)", StopTimeout: metronStopTimeout},
		metron(brainMetronName, "brain", 0, DropsondePort),
	}
	for _, daemon := range daemons {
		if daemon.Kind == KindGarden {
			c := p.Cells[daemon.Cell-1]
			out = append(out, metron(c.DaemonName(Kind("metron")), "cell", c.Index, CellDropsondePort(c.Index)))
		}
		port := CellDropsondePort(daemon.Cell)
		switch cfg := daemon.Config.(type) {
		case gardenconfig.Config:
			cfg.DropsondePort = port
			daemon.Config = cfg
		case executorconfig.Config:
			cfg.DropsondePort = port
			daemon.Config = cfg
		case repconfig.Config:
			cfg.DropsondePort = port
			daemon.Config = cfg
		}
		out = append(out, daemon)
	}
	return out
}

// loggregatorPorts adds the doppler's TCP port to the ports checked before
// start (the UDP ones fail at bind with a clear message of their own).
func (p *Plan) loggregatorPorts(ports map[int]string) {
	ports[DopplerPort] = dopplerName
}
