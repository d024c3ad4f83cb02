package linux

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"diego/garden"
)

// networker gives each container a /30 from the pool, a bridge holding the
// gateway address, a veth pair, and iptables chains named as guardian's
// (spec cell §2.12 item 4, §7.2 item 5). Every rule carries the handle as
// a comment, so cleanup finds what belongs to a container by its handle.
type networker struct {
	tag          string
	pool         *net.IPNet
	externalIP   net.IP
	mtu          int
	iptables     string
	restore      string
	denyNetworks []*net.IPNet
	hostAccess   bool
	logger       *slog.Logger

	mu      sync.Mutex
	subnets map[uint32]bool // subnet base addresses in use
	ports   *portPool
}

// containerNetwork is one container's share of the network, persisted with
// the container.
type containerNetwork struct {
	ID          string `json:"id"`
	Subnet      string `json:"subnet"`
	HostIP      string `json:"host_ip"`
	ContainerIP string `json:"container_ip"`
	Bridge      string `json:"bridge"`
	HostVeth    string `json:"host_veth"`
	PeerVeth    string `json:"peer_veth"`
}

func (n *networker) chain(name string) string { return "w-" + n.tag + "-" + name }

func (n *networker) instanceChain(id string) string { return n.chain("instance-" + id) }

// maxSubnets is how many /30s the pool holds.
func (n *networker) maxSubnets() int {
	ones, bits := n.pool.Mask.Size()
	return 1 << (bits - ones) / 4
}

func ipToUint(ip net.IP) uint32 { return binary.BigEndian.Uint32(ip.To4()) }

func uintToIP(v uint32) net.IP {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, v)
	return ip
}

// allocate takes the first free /30, or the one a static network names:
// a /30, or a static IP (host bits set, or a bare address), which must be
// that /30's container address.
func (n *networker) allocate(static string) (containerNetwork, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var base uint32
	switch {
	case static != "":
		ip, subnet, err := net.ParseCIDR(static)
		if err != nil {
			if ip = net.ParseIP(static); ip == nil {
				return containerNetwork{}, fmt.Errorf("invalid network %q: want a CIDR such as 10.254.0.8/30", static)
			}
		} else if ones, bits := subnet.Mask.Size(); bits == 32 && ones != 30 {
			return containerNetwork{}, fmt.Errorf("invalid network %q: containers get a /30 (gateway .1, container .2)", static)
		}
		if ip.To4() == nil {
			return containerNetwork{}, fmt.Errorf("invalid network %q: only IPv4 is supported", static)
		}
		base = ipToUint(ip) &^ 3
		// A static IP (host bits set) must be the /30's container address.
		if host := ipToUint(ip) & 3; host != 0 && host != 2 {
			return containerNetwork{}, fmt.Errorf("invalid network %q: in a /30 the container address is %s (%s is the gateway or broadcast)",
				static, uintToIP(base+2), ip)
		}
		if n.subnets[base] {
			return containerNetwork{}, fmt.Errorf("the subnet %s/30 is already in use", uintToIP(base))
		}
	default:
		start := ipToUint(n.pool.IP)
		found := false
		for i := range n.maxSubnets() {
			candidate := start + uint32(i*4)
			if !n.subnets[candidate] {
				base, found = candidate, true
				break
			}
		}
		if !found {
			return containerNetwork{}, fmt.Errorf("insufficient subnets remaining in the pool %s", n.pool)
		}
	}
	n.subnets[base] = true
	id := fmt.Sprintf("%08x", base)
	bridge := "w" + n.tag + "brdg-" + id
	if len(bridge) > 15 {
		bridge = "w" + n.tag + "b-" + id
	}
	return containerNetwork{
		ID:          id,
		Subnet:      fmt.Sprintf("%s/30", uintToIP(base)),
		HostIP:      uintToIP(base + 1).String(),
		ContainerIP: uintToIP(base + 2).String(),
		Bridge:      bridge,
		HostVeth:    "w" + n.tag + id + "-0",
		PeerVeth:    "w" + n.tag + id + "-1",
	}, nil
}

// claim marks a reloaded container's subnet as used.
func (n *networker) claim(cn containerNetwork) {
	ip, _, err := net.ParseCIDR(cn.Subnet)
	if err != nil {
		return
	}
	n.mu.Lock()
	n.subnets[ipToUint(ip)] = true
	n.mu.Unlock()
}

func (n *networker) release(cn containerNetwork) {
	ip, _, err := net.ParseCIDR(cn.Subnet)
	if err != nil {
		return
	}
	n.mu.Lock()
	delete(n.subnets, ipToUint(ip))
	n.mu.Unlock()
}

// setUp builds the links for a container whose init is pid and its
// iptables chains.
func (n *networker) setUp(handle string, cn containerNetwork, pid int) error {
	gateway := &net.IPNet{IP: net.ParseIP(cn.HostIP).To4(), Mask: net.CIDRMask(30, 32)}
	bridge := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: cn.Bridge, MTU: n.mtu}}
	if err := netlink.LinkAdd(bridge); err != nil {
		return fmt.Errorf("creating bridge %s: %w", cn.Bridge, err)
	}
	if err := netlink.AddrAdd(bridge, &netlink.Addr{IPNet: gateway}); err != nil {
		return fmt.Errorf("addressing bridge %s: %w", cn.Bridge, err)
	}
	if err := netlink.LinkSetUp(bridge); err != nil {
		return fmt.Errorf("bringing up bridge %s: %w", cn.Bridge, err)
	}
	// The peer is made in the container's namespace: moving it there
	// afterwards costs a namespace change under the kernel's rtnl lock,
	// about 20 ms that every other container's network work waits for
	// (docs/benchmarks.md, B8).
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: cn.HostVeth, MTU: n.mtu, MasterIndex: bridge.Index},
		PeerName:      cn.PeerVeth,
		PeerNamespace: netlink.NsPid(pid),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("creating veth %s: %w", cn.HostVeth, err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		return fmt.Errorf("bringing up veth %s: %w", cn.HostVeth, err)
	}
	if err := n.configureInside(cn, pid); err != nil {
		return err
	}
	return n.restoreRules(n.instanceRules(handle, cn))
}

// configureInside addresses the container end of the veth and routes
// through the gateway, from the host through a netlink socket in the
// container's network namespace.
func (n *networker) configureInside(cn containerNetwork, pid int) error {
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return fmt.Errorf("opening the container's network namespace: %w", err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in the container's namespace: %w", err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	link, err := h.LinkByName(cn.PeerVeth)
	if err != nil {
		return fmt.Errorf("finding %s in the container: %w", cn.PeerVeth, err)
	}
	addr := &net.IPNet{IP: net.ParseIP(cn.ContainerIP).To4(), Mask: net.CIDRMask(30, 32)}
	if err := h.AddrAdd(link, &netlink.Addr{IPNet: addr}); err != nil {
		return fmt.Errorf("addressing %s: %w", cn.PeerVeth, err)
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("bringing up %s: %w", cn.PeerVeth, err)
	}
	if err := h.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Gw: net.ParseIP(cn.HostIP)}); err != nil {
		return fmt.Errorf("adding the default route: %w", err)
	}
	return nil
}

// tearDown deletes a container's links and rules. It is safe to call for
// a half-built container.
func (n *networker) tearDown(handle string, cn containerNetwork) error {
	var errs []error
	for _, name := range []string{cn.HostVeth, cn.Bridge} {
		if name == "" {
			continue
		}
		if link, err := netlink.LinkByName(name); err == nil {
			// The host end of the veth goes with the container's network
			// namespace, which the kernel may be tearing down right now.
			if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
				errs = append(errs, fmt.Errorf("deleting %s: %w", name, err))
			}
		}
	}
	if cn.ID == "" {
		return errors.Join(errs...)
	}
	// The rules are known exactly: delete them in one restore. When that
	// fails (a half-built container, rules changed by hand) list the
	// tables and remove whatever is the container's.
	if err := n.restoreRules(n.teardownRules(handle, cn)); err == nil {
		return errors.Join(errs...)
	}
	// By comment, and by the container's own subnet too: a handle with
	// quotes or backslashes may not read back as it was written.
	ownSubnet := "-s " + cn.Subnet + " "
	if err := n.purge(func(line string) bool {
		return hasComment(line, handle) || (cn.Subnet != "" && strings.Contains(line, ownSubnet))
	}, func(chain string) bool {
		return cn.ID != "" && strings.HasPrefix(chain, n.instanceChain(cn.ID))
	}); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

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
	fmt.Fprintf(&b, "-D %s -i %s -s %s -g %s %s\n", n.chain("forward"), cn.Bridge, cn.ContainerIP, inst, c)
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
	fmt.Fprintf(&b, "-I %s 2 -i %s -s %s -g %s %s\n", n.chain("forward"), cn.Bridge, cn.ContainerIP, inst, c)
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
	if !n.hostAccess {
		fmt.Fprintf(&b, "-A %s -j REJECT --reject-with icmp-host-prohibited\n", n.chain("input"))
	}
	fmt.Fprintf(&b, "-A %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n", n.chain("forward"))
	fmt.Fprintf(&b, "-A %s -j DROP\n", n.chain("forward"))
	fmt.Fprintf(&b, "-A %s -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n", n.chain("default"))
	for _, deny := range n.denyNetworks {
		fmt.Fprintf(&b, "-A %s -d %s -j REJECT --reject-with icmp-port-unreachable\n", n.chain("default"), deny)
	}
	b.WriteString("COMMIT\n")
	return n.restoreRules(b.String())
}

// purgeLinks deletes the bridges and host veths of this garden's tag that a
// previous run left (their containers are gone; a stale bridge would make
// the next container on that subnet fail).
func (n *networker) purgeLinks() error {
	// A dump interrupted by links changing meanwhile (other gardens at
	// work) is retried; its results are still usable if it keeps being
	// interrupted.
	links, err := netlink.LinkList()
	for attempt := 0; errors.Is(err, netlink.ErrDumpInterrupted) && attempt < 5; attempt++ {
		links, err = netlink.LinkList()
	}
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return fmt.Errorf("listing links: %w", err)
	}
	var errs []error
	for _, link := range links {
		if n.ownsLink(link.Attrs().Name) {
			if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
				errs = append(errs, fmt.Errorf("deleting %s: %w", link.Attrs().Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// ownsLink says whether name is one of this tag's bridge or host-veth
// names: exactly, so tag "e1" never claims tag "e10"'s links.
func (n *networker) ownsLink(name string) bool {
	isHex8 := func(s string) bool {
		if len(s) != 8 {
			return false
		}
		for _, r := range s {
			if !strings.ContainsRune("0123456789abcdef", r) {
				return false
			}
		}
		return true
	}
	prefix := "w" + n.tag
	if !strings.HasPrefix(name, prefix) {
		return false
	}
	rest := name[len(prefix):]
	for _, p := range []string{"brdg-", "b-"} {
		if id, ok := strings.CutPrefix(rest, p); ok && isHex8(id) {
			return true
		}
	}
	id, ok := strings.CutSuffix(rest, "-0")
	return ok && isHex8(id)
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
	return fmt.Sprintf("*nat\n-A %s -j %s %s\n-A %s -s %s ! -d %s -j MASQUERADE %s\nCOMMIT\n*filter\n-I %s 2 -i %s -s %s -g %s %s\nCOMMIT\n",
		n.chain("prerouting"), inst, c, n.chain("postrouting"), cn.Subnet, cn.Subnet, c,
		n.chain("forward"), cn.Bridge, cn.ContainerIP, inst, c)
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

// linkStats reads the container veth's counters; the host end's receive
// is the container's transmit.
func linkStats(hostVeth string) *garden.ContainerNetworkStat {
	link, err := netlink.LinkByName(hostVeth)
	if err != nil || link.Attrs().Statistics == nil {
		return nil
	}
	s := link.Attrs().Statistics
	return &garden.ContainerNetworkStat{RxBytes: s.TxBytes, TxBytes: s.RxBytes}
}

// portPool hands out host ports from [start, start+size).
type portPool struct {
	mu    sync.Mutex
	start uint32
	size  uint32
	next  uint32
	used  map[uint32]bool
}

func newPortPool(start, size uint32) *portPool {
	return &portPool{start: start, size: size, used: map[uint32]bool{}}
}

// acquire takes a specific port (when port > 0) or the next free one.
func (p *portPool) acquire(port uint32, usable func(uint32) bool) (uint32, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if port > 0 {
		if p.used[port] {
			return 0, fmt.Errorf("host port %d is already mapped", port)
		}
		p.used[port] = true
		return port, nil
	}
	for range p.size {
		candidate := p.start + p.next
		p.next = (p.next + 1) % p.size
		if !p.used[candidate] && usable(candidate) {
			p.used[candidate] = true
			return candidate, nil
		}
	}
	return 0, fmt.Errorf("insufficient ports remaining in the pool %d-%d", p.start, p.start+p.size-1)
}

func (p *portPool) release(port uint32) {
	p.mu.Lock()
	delete(p.used, port)
	p.mu.Unlock()
}

// proxy forwards 127.0.0.1:<host port> to the container, because DNAT does
// not see connections to the loopback address (spec cell §7.2 item 5).
type proxy struct {
	listener net.Listener
	target   string
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]bool
}

func startProxy(listener net.Listener, target string) *proxy {
	p := &proxy{listener: listener, target: target, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.serve()
	return p
}

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		in, err := p.listener.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.forward(in)
	}
}

func (p *proxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *proxy) forward(in net.Conn) {
	defer p.wg.Done()
	defer in.Close()
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer out.Close()
	p.track(in, true)
	p.track(out, true)
	defer p.track(in, false)
	defer p.track(out, false)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done
	<-done
}

func (p *proxy) Close() {
	p.listener.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// detectExternalIP is the source address of the default route, else the
// first non-loopback IPv4 address.
func detectExternalIP() (net.IP, error) {
	if routes, err := netlink.RouteGet(net.ParseIP("192.0.2.255")); err == nil {
		for _, r := range routes {
			if r.Src != nil && !r.Src.IsLoopback() {
				return r.Src, nil
			}
		}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() && !strings.HasPrefix(ipn.IP.String(), "169.254.") {
			return ipn.IP, nil
		}
	}
	return nil, errors.New("no non-loopback IPv4 address: set external_ip")
}

// resolvConf lists the host's resolvers that a container can reach (not
// loopback ones) plus the configured extras.
func resolvConf(extra []string) []byte {
	var b bytes.Buffer
	if data, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == "nameserver" {
				if ip := net.ParseIP(f[1]); ip != nil && !ip.IsLoopback() {
					fmt.Fprintf(&b, "nameserver %s\n", f[1])
				}
			}
			if len(f) >= 2 && (f[0] == "search" || f[0] == "options") {
				b.WriteString(line + "\n")
			}
		}
	}
	for _, s := range extra {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	return b.Bytes()
}
