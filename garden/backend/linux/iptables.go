package linux

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"

	"diego/garden"
)

func (n *networker) chain(name string) string { return "w-" + n.tag + "-" + name }

func (n *networker) instanceChain(id string) string { return n.chain("instance-" + id) }

// teardownRules undoes instanceRules: the three jumps into the container's
// chains by their exact text, then the chains with everything in them
// (net-in and net-out rules included).
func (n *networker) teardownRules(handle string, cn containerNetwork) string {
	inst, c := n.instanceChain(cn.ID), comment(handle)
	var b strings.Builder
	b.WriteString("*nat\n")
	fmt.Fprintf(&b, "-D %s -j %s %s\n", n.chain("prerouting"), inst, c)
	fmt.Fprintf(&b, "-D %s -s %s ! -d %s -j MASQUERADE %s\n", n.chain("postrouting"), cn.Subnet, cn.Subnet, c)
	fmt.Fprintf(&b, "-F %s\n-X %s\nCOMMIT\n*filter\n", inst, inst)
	fmt.Fprintf(&b, "-D %s -i %s -s %s -g %s %s\n", n.chain("forward"), cn.hostIface(), cn.ContainerIP, inst, c)
	fmt.Fprintf(&b, "-F %s\n-F %s-log\n-X %s\n-X %s-log\nCOMMIT\n", inst, inst, inst, inst)
	return b.String()
}

func hasComment(line, handle string) bool {
	return strings.Contains(line, "--comment "+handle+" ") || strings.HasSuffix(line, "--comment "+handle) ||
		strings.Contains(line, `--comment "`+handle+`"`)
}

func comment(handle string) string { return fmt.Sprintf("-m comment --comment %q", handle) }

// instanceRules are a new container's chains and the jumps into them.
func (n *networker) instanceRules(handle string, cn containerNetwork) string {
	inst := n.instanceChain(cn.ID)
	c := comment(handle)
	logPrefix := handle
	if len(logPrefix) > 28 {
		logPrefix = logPrefix[:28]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*nat\n:%s - [0:0]\n", inst)
	fmt.Fprintf(&b, "-A %s -j %s %s\n", n.chain("prerouting"), inst, c)
	fmt.Fprintf(&b, "-A %s -s %s ! -d %s -j MASQUERADE %s\n", n.chain("postrouting"), cn.Subnet, cn.Subnet, c)
	b.WriteString("COMMIT\n*filter\n")
	fmt.Fprintf(&b, ":%s - [0:0]\n:%s-log - [0:0]\n", inst, inst)
	fmt.Fprintf(&b, "-A %s -s %s -d %s -j ACCEPT %s\n", inst, cn.Subnet, cn.Subnet, c)
	fmt.Fprintf(&b, "-A %s -g %s %s\n", inst, n.chain("default"), c)
	fmt.Fprintf(&b, "-A %s-log -j LOG --log-prefix %q %s\n", inst, logPrefix+" ", c)
	fmt.Fprintf(&b, "-A %s-log -j RETURN %s\n", inst, c)
	fmt.Fprintf(&b, "-I %s 1 -i %s -s %s -g %s %s\n", n.chain("forward"), cn.hostIface(), cn.ContainerIP, inst, c)
	b.WriteString("COMMIT\n")
	return b.String()
}

// setUpHost creates the global chains (replacing any from an earlier run)
// and turns on forwarding.
func (n *networker) setUpHost() error {
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enabling ip_forward: %w", err)
	}
	// Drop the jumps from the built-in chains (they are added again
	// below); declaring the global chains then creates or flushes them,
	// which keeps reloaded containers' instance chains valid.
	globals := map[string]bool{}
	for _, c := range []string{"prerouting", "postrouting", "input", "forward", "default"} {
		globals[n.chain(c)] = true
	}
	builtins := map[string]bool{"PREROUTING": true, "OUTPUT": true, "POSTROUTING": true, "INPUT": true, "FORWARD": true}
	if err := n.purge(func(line string) bool {
		f := strings.Fields(line)
		return len(f) > 1 && builtins[f[1]] && globals[f[len(f)-1]]
	}, func(string) bool { return false }); err != nil {
		return err
	}
	ifaces := "w" + n.tag + "+"
	var b strings.Builder
	b.WriteString("*nat\n")
	for _, c := range []string{"prerouting", "postrouting"} {
		fmt.Fprintf(&b, ":%s - [0:0]\n", n.chain(c))
	}
	fmt.Fprintf(&b, "-A PREROUTING -j %s\n", n.chain("prerouting"))
	fmt.Fprintf(&b, "-A OUTPUT -o lo -j %s\n", n.chain("prerouting"))
	fmt.Fprintf(&b, "-A POSTROUTING -j %s\n", n.chain("postrouting"))
	b.WriteString("COMMIT\n*filter\n")
	for _, c := range []string{"input", "forward", "default"} {
		fmt.Fprintf(&b, ":%s - [0:0]\n", n.chain(c))
	}
	fmt.Fprintf(&b, "-A INPUT -i %s -j %s\n", ifaces, n.chain("input"))
	fmt.Fprintf(&b, "-A FORWARD -i %s -j %s\n", ifaces, n.chain("forward"))
	fmt.Fprintf(&b, "-A %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n", n.chain("input"))
	// The resolvers of the containers' resolv.conf stay reachable on port
	// 53, on the host (without host access) and beyond it (whatever the
	// deny networks), as in Diego's deployments.
	dns := n.dnsRules()
	for _, rule := range dns {
		fmt.Fprintf(&b, "-A %s %s -j ACCEPT\n", n.chain("input"), rule)
	}
	if !n.hostAccess {
		fmt.Fprintf(&b, "-A %s -j REJECT --reject-with icmp-host-prohibited\n", n.chain("input"))
	}
	fmt.Fprintf(&b, "-A %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n", n.chain("forward"))
	fmt.Fprintf(&b, "-A %s -j DROP\n", n.chain("forward"))
	fmt.Fprintf(&b, "-A %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n", n.chain("default"))
	for _, rule := range dns {
		fmt.Fprintf(&b, "-A %s %s -j ACCEPT\n", n.chain("default"), rule)
	}
	for _, deny := range n.denyNetworks {
		fmt.Fprintf(&b, "-A %s -d %s -j REJECT --reject-with icmp-port-unreachable\n", n.chain("default"), deny)
	}
	b.WriteString("COMMIT\n")
	return n.restoreRules(b.String())
}

// dnsRules match DNS (udp and tcp port 53) to each IPv4 resolver of the
// containers' resolv.conf.
func (n *networker) dnsRules() []string {
	var rules []string
	seen := map[string]bool{}
	for _, r := range resolvers(n.dnsServers) {
		ip := net.ParseIP(r)
		if ip == nil || ip.To4() == nil || seen[ip.String()] {
			continue
		}
		seen[ip.String()] = true
		for _, proto := range []string{"udp", "tcp"} {
			rules = append(rules, fmt.Sprintf("-d %s -p %s -m %s --dport 53", ip, proto, proto))
		}
	}
	return rules
}

// purgeAll removes every chain and rule of this garden's tag, for
// destroy-containers-on-startup.
func (n *networker) purgeAll() error {
	prefix := n.chain("")
	return n.purge(func(string) bool { return false }, func(chain string) bool { return strings.HasPrefix(chain, prefix) })
}

// purge deletes the rules that match ruleMatch, every rule that jumps to a
// chain that chainMatch selects, and those chains, in one restore per
// table.
func (n *networker) purge(ruleMatch func(string) bool, chainMatch func(string) bool) error {
	var b strings.Builder
	for _, table := range []string{"nat", "filter"} {
		out, err := exec.Command(n.iptables, "-w", "-t", table, "-S").CombinedOutput()
		if err != nil {
			return fmt.Errorf("listing %s rules: %w: %s", table, err, bytes.TrimSpace(out))
		}
		var deletes, chains []string
		seen := map[string]bool{}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			switch f[0] {
			case "-N":
				// iptables-nft's listing has been seen to name a chain
				// twice while the table changes under it; a second
				// -X would fail the whole restore.
				if chainMatch(f[1]) && !seen[f[1]] {
					seen[f[1]] = true
					chains = append(chains, f[1])
				}
			case "-A":
				if chainMatch(f[1]) {
					continue // goes with its chain
				}
				target := ""
				for i := range len(f) - 1 {
					if f[i] == "-j" || f[i] == "-g" {
						target = f[i+1]
					}
				}
				if ruleMatch(line) || (target != "" && chainMatch(target)) {
					deletes = append(deletes, "-D"+strings.TrimPrefix(line, "-A"))
				}
			}
		}
		if len(deletes) == 0 && len(chains) == 0 {
			continue
		}
		fmt.Fprintf(&b, "*%s\n", table)
		for _, d := range deletes {
			b.WriteString(d + "\n")
		}
		for _, c := range chains {
			fmt.Fprintf(&b, "-F %s\n", c)
		}
		for _, c := range chains {
			fmt.Fprintf(&b, "-X %s\n", c)
		}
		b.WriteString("COMMIT\n")
	}
	if b.Len() == 0 {
		return nil
	}
	return n.restoreRules(b.String())
}

// restoreRules applies rules with one iptables-restore, leaving everything
// else in place.
func (n *networker) restoreRules(rules string) error {
	cmd := exec.Command(n.restore, "-w", "--noflush")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("iptables-restore: %w: %s\ninput:\n%s", err, bytes.TrimSpace(out), rules)
	}
	return nil
}

// reloadRules puts back a reloaded container's entries in the global
// chains, which setUpHost flushed.
func (n *networker) reloadRules(handle string, cn containerNetwork) string {
	inst, c := n.instanceChain(cn.ID), comment(handle)
	return fmt.Sprintf("*nat\n-A %s -j %s %s\n-A %s -s %s ! -d %s -j MASQUERADE %s\nCOMMIT\n*filter\n-I %s 1 -i %s -s %s -g %s %s\nCOMMIT\n",
		n.chain("prerouting"), inst, c, n.chain("postrouting"), cn.Subnet, cn.Subnet, c,
		n.chain("forward"), cn.hostIface(), cn.ContainerIP, inst, c)
}

// netIn adds the DNAT rule of a mapping.
func (n *networker) netIn(handle string, cn containerNetwork, hostPort, containerPort uint32) error {
	rule := fmt.Sprintf("*nat\n-A %s -d %s -p tcp -m tcp --dport %d -j DNAT --to-destination %s:%d %s\nCOMMIT\n",
		n.instanceChain(cn.ID), n.externalIP, hostPort, cn.ContainerIP, containerPort, comment(handle))
	return n.restoreRules(rule)
}

// netOut prepends the expanded rules (ports × networks) to the container's
// filter chain.
func (n *networker) netOut(handle string, cn containerNetwork, rules []garden.NetOutRule) error {
	var b strings.Builder
	b.WriteString("*filter\n")
	inst := n.instanceChain(cn.ID)
	for _, r := range rules {
		lines, err := expandNetOut(r)
		if err != nil {
			return err
		}
		for _, l := range lines {
			target := "-j RETURN"
			if r.Log {
				target = "-g " + inst + "-log"
			}
			fmt.Fprintf(&b, "-I %s 1 %s %s %s\n", inst, l, target, comment(handle))
		}
	}
	b.WriteString("COMMIT\n")
	return n.restoreRules(b.String())
}

// expandNetOut turns a rule into the match part of one iptables rule per
// port range × network (spec cell §2.3, §2.10).
func expandNetOut(r garden.NetOutRule) ([]string, error) {
	var proto string
	switch r.Protocol {
	case garden.ProtocolAll:
	case garden.ProtocolTCP:
		proto = "-p tcp"
	case garden.ProtocolUDP:
		proto = "-p udp"
	case garden.ProtocolICMP:
		proto = "-p icmp"
	case garden.ProtocolICMPv6:
		return nil, errors.New("netout: icmpv6 rules are not supported (the container network is IPv4)")
	default:
		return nil, fmt.Errorf("netout: invalid protocol %d", r.Protocol)
	}
	if len(r.Ports) > 0 && r.Protocol != garden.ProtocolTCP && r.Protocol != garden.ProtocolUDP {
		return nil, fmt.Errorf("netout: ports may only be given for tcp or udp rules, not protocol %d", r.Protocol)
	}
	if r.ICMPs != nil && r.Protocol != garden.ProtocolICMP {
		return nil, errors.New("netout: icmp types may only be given for icmp rules")
	}
	networks := []string{""}
	if len(r.Networks) > 0 {
		networks = nil
		for _, nw := range r.Networks {
			start, end := net.ParseIP(nw.Start), net.ParseIP(nw.End)
			if nw.End == "" {
				end = start
			}
			if start == nil || end == nil || start.To4() == nil || end.To4() == nil {
				return nil, fmt.Errorf("netout: invalid network %s-%s", nw.Start, nw.End)
			}
			if start.Equal(end) {
				networks = append(networks, "-d "+start.String())
			} else {
				networks = append(networks, fmt.Sprintf("-m iprange --dst-range %s-%s", start, end))
			}
		}
	}
	ports := []string{""}
	if len(r.Ports) > 0 {
		ports = nil
		for _, p := range r.Ports {
			end := p.End
			if end == 0 {
				end = p.Start
			}
			if p.Start == 0 || end < p.Start {
				return nil, fmt.Errorf("netout: invalid port range %d-%d", p.Start, p.End)
			}
			if end == p.Start {
				ports = append(ports, fmt.Sprintf("--dport %d", p.Start))
			} else {
				ports = append(ports, fmt.Sprintf("--dport %d:%d", p.Start, end))
			}
		}
	}
	icmp := ""
	if r.ICMPs != nil {
		icmp = fmt.Sprintf("--icmp-type %d", r.ICMPs.Type)
		if r.ICMPs.Code != nil {
			icmp += fmt.Sprintf("/%d", *r.ICMPs.Code)
		}
	}
	var out []string
	for _, nw := range networks {
		for _, p := range ports {
			parts := []string{}
			for _, s := range []string{proto, nw, p, icmp} {
				if s != "" {
					parts = append(parts, s)
				}
			}
			out = append(out, strings.Join(parts, " "))
		}
	}
	return out, nil
}
