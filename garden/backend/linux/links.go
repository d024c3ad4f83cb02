package linux

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"diego/garden"
)

// setUpLinks makes the container's veth pair, its peer straight in the
// network namespace of pid. On a /30 the host end holds the gateway
// address; on a shared subnet it joins the subnet's bridge, which the
// subnet's first container creates.
func (n *networker) setUpLinks(cn containerNetwork, pid int) error {
	_, _, prefix, ok := subnetOf(cn)
	if !ok {
		return fmt.Errorf("invalid container subnet %q", cn.Subnet)
	}
	gateway := &net.IPNet{IP: net.ParseIP(cn.HostIP).To4(), Mask: net.CIDRMask(prefix, 32)}
	// One netlink socket for the whole operation: the package's functions
	// open one per request.
	h, err := routeHandle()
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	master := 0
	if cn.Bridge != "" {
		n.bridgeMu.Lock()
		defer n.bridgeMu.Unlock()
		bridge, err := n.ensureBridge(h, cn.Bridge, gateway)
		if err != nil {
			return err
		}
		master = bridge.Attrs().Index
	}
	// The peer is made in the container's namespace: moving it there
	// afterwards costs a namespace change under the kernel's rtnl lock,
	// about 20 ms that every other container's network work waits for
	// (docs/benchmarks.md, B8). The host end is created up, which saves
	// a request.
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: cn.HostVeth, MTU: n.mtu, MasterIndex: master, Flags: net.FlagUp},
		PeerName:      cn.PeerVeth,
		PeerNamespace: netlink.NsPid(pid),
	}
	if err := h.LinkAdd(veth); err != nil {
		return fmt.Errorf("creating veth %s: %w", cn.HostVeth, err)
	}
	if cn.Bridge == "" {
		if err := h.AddrAdd(veth, &netlink.Addr{IPNet: gateway}); err != nil {
			return fmt.Errorf("addressing veth %s: %w", cn.HostVeth, err)
		}
	}
	return nil
}

// ensureBridge finds or creates a shared subnet's bridge holding the
// gateway address. The caller holds bridgeMu.
func (n *networker) ensureBridge(h *netlink.Handle, name string, gateway *net.IPNet) (netlink.Link, error) {
	if link, err := h.LinkByName(name); err == nil {
		return link, nil
	}
	bridge := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: n.mtu}}
	if err := h.LinkAdd(bridge); err != nil {
		return nil, fmt.Errorf("creating bridge %s: %w", name, err)
	}
	if err := h.AddrAdd(bridge, &netlink.Addr{IPNet: gateway}); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("addressing bridge %s: %w", name, err)
	}
	if err := h.LinkSetUp(bridge); err != nil {
		return nil, fmt.Errorf("bringing up bridge %s: %w", name, err)
	}
	return bridge, nil
}

// tearDownLinks deletes the host end of the veth, and a shared subnet's
// bridge with its last container.
func (n *networker) tearDownLinks(cn containerNetwork) error {
	var errs []error
	if cn.HostVeth != "" {
		if err := deleteLink(cn.HostVeth); err != nil {
			errs = append(errs, err)
		}
	}
	if cn.Bridge != "" {
		n.bridgeMu.Lock()
		if !n.othersOnSubnet(cn) {
			if err := deleteLink(cn.Bridge); err != nil {
				errs = append(errs, err)
			}
		}
		n.bridgeMu.Unlock()
	}
	return errors.Join(errs...)
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
	// A namespace's loopback is always ifindex 1 (LOOPBACK_IFINDEX).
	if err := h.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: 1, Name: "lo"}}); err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	link, err := h.LinkByName(cn.PeerVeth)
	if err != nil {
		return fmt.Errorf("finding %s in the container: %w", cn.PeerVeth, err)
	}
	_, _, prefix, ok := subnetOf(cn)
	if !ok {
		return fmt.Errorf("invalid container subnet %q", cn.Subnet)
	}
	addr := &net.IPNet{IP: net.ParseIP(cn.ContainerIP).To4(), Mask: net.CIDRMask(prefix, 32)}
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
