package depot

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"

	"diego/executor"
	"diego/executor/depot/steps"
	"diego/garden"
	"diego/models"
)

// Garden property names the executor sets (spec cell §3.5).
const (
	OwnerProperty     = "executor:owner"
	LogConfigProperty = "log_config"
)

// gardenSpec maps an executor container to the garden container that runs
// it (spec cell §3.5).
func (d *Depot) gardenSpec(c executor.Container) (garden.ContainerSpec, error) {
	env := make([]string, 0, len(c.Env))
	for _, e := range c.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	// The rep lists its own variables before the LRP's: the LRP's win, and
	// garden gets each name once (decision 46).
	env = steps.MergeEnv(env)
	logConfig, _ := json.Marshal(c.LogConfig)
	// disk_mb is the container's own; the image counts against a
	// scope-total limit, so its size is added (spec cell §3.5).
	diskBytes := uint64(c.DiskMB) * mib
	if diskBytes > 0 {
		diskBytes += rootfsSize(c.RootFSPath)
	}
	spec := garden.ContainerSpec{
		Handle:     c.Guid,
		Image:      garden.ImageRef{URI: c.RootFSPath},
		Privileged: c.Privileged,
		Env:        env,
		Properties: garden.Properties{OwnerProperty: d.cfg.OwnerName, LogConfigProperty: string(logConfig)},
		Limits: garden.Limits{
			Memory: garden.MemoryLimits{LimitInBytes: uint64(c.MemoryMB) * mib},
			Disk: garden.DiskLimits{
				ByteHard: diskBytes, InodeHard: d.cfg.ContainerInodeLimit,
				Scope: garden.DiskLimitScopeTotal,
			},
			Pid: garden.PidLimits{Max: uint64(c.MaxPids)},
			CPU: garden.CPULimits{LimitInShares: uint64(d.cfg.ContainerMaxCPUShares) * uint64(c.CPUWeight) / 100},
		},
	}
	seen := map[uint16]bool{}
	for _, p := range c.Ports {
		if seen[p.ContainerPort] {
			continue
		}
		seen[p.ContainerPort] = true
		spec.NetIn = append(spec.NetIn, garden.NetInSpec{ContainerPort: uint32(p.ContainerPort)})
	}
	for _, rule := range c.EgressRules {
		out, err := netOutRule(rule)
		if err != nil {
			return spec, err
		}
		spec.NetOut = append(spec.NetOut, out)
	}
	return spec, nil
}

const mib = 1024 * 1024

// netOutRule converts a BBS security group rule to a garden NetOutRule.
func netOutRule(r *models.SecurityGroupRule) (garden.NetOutRule, error) {
	var out garden.NetOutRule
	switch r.GetProtocol() {
	case "tcp":
		out.Protocol = garden.ProtocolTCP
	case "udp":
		out.Protocol = garden.ProtocolUDP
	case "icmp":
		out.Protocol = garden.ProtocolICMP
	case "all":
		out.Protocol = garden.ProtocolAll
	default:
		return out, fmt.Errorf("%w: protocol %q", executor.ErrInvalidSecurityGroup, r.GetProtocol())
	}
	for _, dest := range r.GetDestinations() {
		rng, err := ipRange(dest)
		if err != nil {
			return out, fmt.Errorf("%w: %v", executor.ErrInvalidSecurityGroup, err)
		}
		out.Networks = append(out.Networks, rng)
	}
	for _, p := range r.GetPorts() {
		out.Ports = append(out.Ports, garden.PortRange{Start: uint16(p), End: uint16(p)})
	}
	if pr := r.GetPortRange(); pr != nil {
		out.Ports = append(out.Ports, garden.PortRange{Start: uint16(pr.GetStart()), End: uint16(pr.GetEnd())})
	}
	if icmp := r.GetIcmpInfo(); icmp != nil {
		code := uint8(icmp.GetCode())
		out.ICMPs = &garden.ICMPControl{Type: uint8(icmp.GetType()), Code: &code}
	}
	out.Log = r.GetLog()
	return out, nil
}

// ipRange reads "a.b.c.d", "a.b.c.d/n" or "a.b.c.d-e.f.g.h".
func ipRange(dest string) (garden.IPRange, error) {
	if start, end, ok := strings.Cut(dest, "-"); ok {
		s, e := net.ParseIP(start), net.ParseIP(end)
		if s == nil || e == nil {
			return garden.IPRange{}, fmt.Errorf("invalid destination %q", dest)
		}
		return garden.IPRange{Start: s.String(), End: e.String()}, nil
	}
	if _, n, err := net.ParseCIDR(dest); err == nil {
		first := n.IP.To4()
		if first == nil {
			return garden.IPRange{}, fmt.Errorf("invalid destination %q: only IPv4", dest)
		}
		last := make(net.IP, 4)
		for i := range 4 {
			last[i] = first[i] | ^n.Mask[i]
		}
		return garden.IPRange{Start: first.String(), End: last.String()}, nil
	}
	ip := net.ParseIP(dest)
	if ip == nil {
		return garden.IPRange{}, fmt.Errorf("invalid destination %q", dest)
	}
	return garden.IPRange{Start: ip.String(), End: ip.String()}, nil
}
