package linux

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// networker gives each container a /30 from the pool (or a static subnet),
// a veth pair whose host end holds the gateway address (a shared bridge
// holds it for a static subnet larger than a /30), and iptables chains named
// as guardian's (spec cell §2.12 item 4, §7.2 item 5). Every rule carries
// the handle as a comment, so cleanup finds what belongs to a container by
// its handle. Its parts: subnets.go (allocation), links.go (bridges and
// veths), iptables.go (chains and rules), ports.go (host ports and the
// loopback proxy), resolvconf.go (DNS).
type networker struct {
	tag          string
	pool         *net.IPNet
	externalIP   net.IP
	mtu          int
	iptables     string
	restore      string
	denyNetworks []*net.IPNet
	hostAccess   bool
	dnsServers   []string // configured resolvers, besides the host's
	logger       *slog.Logger

	mu      sync.Mutex
	subnets map[uint32]*subnetUse // by base address
	ports   *portPool

	// bridgeMu orders the creation of a shared bridge by its subnet's
	// next container against its deletion by the last one.
	bridgeMu sync.Mutex
}

// containerNetwork is one container's share of the network, persisted with
// the container. Bridge is set only on a shared subnet (and on /30s that
// an earlier garden, which gave every /30 a bridge, left behind).
type containerNetwork struct {
	ID          string `json:"id"`
	Subnet      string `json:"subnet"`
	HostIP      string `json:"host_ip"`
	ContainerIP string `json:"container_ip"`
	Bridge      string `json:"bridge"`
	HostVeth    string `json:"host_veth"`
	PeerVeth    string `json:"peer_veth"`
}

// hostIface is the host interface the container's traffic arrives on.
func (cn containerNetwork) hostIface() string {
	if cn.Bridge != "" {
		return cn.Bridge
	}
	return cn.HostVeth
}

// setUp builds the links for a container whose init is pid and its
// iptables chains.
// The rules name the interfaces, so they need not wait for the links: the
// iptables-restore runs beside the netlink work.
func (n *networker) setUp(handle string, cn containerNetwork, pid int) error {
	start := time.Now()
	rules := make(chan error, 1)
	var rulesTook time.Duration
	go func() {
		err := n.restoreRules(n.instanceRules(handle, cn))
		rulesTook = time.Since(start)
		rules <- err
	}()
	err := n.setUpLinks(cn, pid)
	linked := time.Since(start)
	if err == nil {
		err = n.configureInside(cn, pid)
	}
	inside := time.Since(start) - linked
	err = errors.Join(err, <-rules)
	n.logger.Debug("network-set-up", "handle", handle, "veth", linked.String(), "inside", inside.String(),
		"iptables", rulesTook.String())
	return err
}

// tearDown deletes a container's links and rules. It is safe to call for
// a half-built container.
func (n *networker) tearDown(handle string, cn containerNetwork) error {
	if cn.ID == "" {
		return n.tearDownLinks(cn)
	}
	// The links and the rules go in parallel: neither refers to the other.
	links := make(chan error, 1)
	go func() { links <- n.tearDownLinks(cn) }()
	errs := []error{n.tearDownRules(handle, cn)}
	return errors.Join(append(errs, <-links)...)
}

// tearDownRules deletes a container's rules and chains.
func (n *networker) tearDownRules(handle string, cn containerNetwork) error {
	// The rules are known exactly: delete them in one restore. When that
	// fails (a half-built container, rules changed by hand) list the
	// tables and remove whatever is the container's.
	if err := n.restoreRules(n.teardownRules(handle, cn)); err == nil {
		return nil
	}
	// By comment, and by the container's own subnet too when it has it to
	// itself: a handle with quotes or backslashes may not read back as it
	// was written.
	ownSubnet := ""
	if _, size, _, ok := subnetOf(cn); ok && size == 4 {
		ownSubnet = "-s " + cn.Subnet + " "
	}
	return n.purge(func(line string) bool {
		return hasComment(line, handle) || (ownSubnet != "" && strings.Contains(line, ownSubnet))
	}, func(chain string) bool {
		return strings.HasPrefix(chain, n.instanceChain(cn.ID))
	})
}

// routeHandle is a netlink socket for one operation's requests (the
// package's functions open one per request), with the package's timeout.
func routeHandle() (*netlink.Handle, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	if err := h.SetSocketTimeout(time.Minute); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// deleteLink deletes the named link if it is there.
func deleteLink(name string) error {
	h, err := routeHandle()
	if err != nil {
		return fmt.Errorf("deleting %s: netlink: %w", name, err)
	}
	defer h.Close()
	link, err := h.LinkByName(name)
	if err != nil {
		return nil
	}
	// The host end of a veth goes with the container's network namespace,
	// which the kernel may be tearing down right now.
	if err := h.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("deleting %s: %w", name, err)
	}
	return nil
}
