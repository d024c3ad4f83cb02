package linux

import (
	"encoding/binary"
	"fmt"
	"net"
)

// subnetUse is one subnet in use. A /30 holds one container and needs no
// bridge: the gateway sits on the host end of its veth. A larger static
// subnet holds several containers on one shared bridge (spec cell §7.2
// item 5).
type subnetUse struct {
	size uint32          // addresses in the subnet
	ips  map[uint32]bool // container addresses taken
}

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

// overlaps says whether [base, base+size) meets a subnet in use, and
// whether that is the very same subnet.
func (n *networker) overlaps(base, size uint32) (found, same bool) {
	for b, use := range n.subnets {
		if base < b+use.size && b < base+size {
			if b == base && use.size == size {
				return true, true
			}
			return true, false
		}
	}
	return false, false
}

// allocate takes the first free /30 of the pool, or what a static network
// names: a /30 or a bare address (which must be that /30's container
// address), or a larger subnet, whose containers share it: the address
// its host bits name, else the first free one after the gateway.
func (n *networker) allocate(static string) (containerNetwork, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if static == "" {
		start := ipToUint(n.pool.IP)
		for i := range n.maxSubnets() {
			candidate := start + uint32(i*4)
			if found, _ := n.overlaps(candidate, 4); !found {
				return n.take(candidate, 30, candidate+2), nil
			}
		}
		return containerNetwork{}, fmt.Errorf("insufficient subnets remaining in the pool %s", n.pool)
	}

	prefix := 30
	ip, subnet, err := net.ParseCIDR(static)
	if err != nil {
		if ip = net.ParseIP(static); ip == nil {
			return containerNetwork{}, fmt.Errorf("invalid network %q: want a CIDR such as 10.254.0.8/30", static)
		}
	} else if ones, bits := subnet.Mask.Size(); bits == 32 {
		prefix = ones
	}
	if ip.To4() == nil {
		return containerNetwork{}, fmt.Errorf("invalid network %q: only IPv4 is supported", static)
	}
	if prefix > 30 || prefix < 8 {
		return containerNetwork{}, fmt.Errorf("invalid network %q: containers get a /30 (gateway .1, container .2) or share a subnet from /29 to /8", static)
	}
	size := uint32(1) << (32 - prefix)
	addr := ipToUint(ip)
	base := addr &^ (size - 1)
	host := addr - base
	if prefix == 30 {
		// A static IP (host bits set) must be the /30's container address.
		if host != 0 && host != 2 {
			return containerNetwork{}, fmt.Errorf("invalid network %q: in a /30 the container address is %s (%s is the gateway or broadcast)",
				static, uintToIP(base+2), ip)
		}
		if found, _ := n.overlaps(base, size); found {
			return containerNetwork{}, fmt.Errorf("the subnet %s/30 is already in use", uintToIP(base))
		}
		return n.take(base, prefix, base+2), nil
	}

	found, same := n.overlaps(base, size)
	if found && !same {
		return containerNetwork{}, fmt.Errorf("the subnet %s/%d overlaps a subnet in use", uintToIP(base), prefix)
	}
	taken := map[uint32]bool{}
	if same {
		taken = n.subnets[base].ips
	}
	if host != 0 {
		if host == 1 || host == size-1 {
			return containerNetwork{}, fmt.Errorf("invalid network %q: %s is the gateway or broadcast address of %s/%d",
				static, ip, uintToIP(base), prefix)
		}
		if taken[addr] {
			return containerNetwork{}, fmt.Errorf("the address %s is already in use", ip)
		}
		return n.take(base, prefix, addr), nil
	}
	for a := base + 2; a < base+size-1; a++ {
		if !taken[a] {
			return n.take(base, prefix, a), nil
		}
	}
	return containerNetwork{}, fmt.Errorf("insufficient addresses remaining in the subnet %s/%d", uintToIP(base), prefix)
}

// take records addr in use in the subnet and names the container's links
// and chains: after the subnet for a /30, after the container's address
// on a shared subnet (whose bridge is named after the subnet).
func (n *networker) take(base uint32, prefix int, addr uint32) containerNetwork {
	use := n.subnets[base]
	if use == nil {
		use = &subnetUse{size: 1 << (32 - prefix), ips: map[uint32]bool{}}
		n.subnets[base] = use
	}
	use.ips[addr] = true
	id := fmt.Sprintf("%08x", base)
	cn := containerNetwork{
		Subnet:      fmt.Sprintf("%s/%d", uintToIP(base), prefix),
		HostIP:      uintToIP(base + 1).String(),
		ContainerIP: uintToIP(addr).String(),
	}
	if prefix < 30 {
		cn.Bridge = n.bridgeName(id)
		id = fmt.Sprintf("%08x", addr)
	}
	cn.ID = id
	cn.HostVeth = "w" + n.tag + id + "-0"
	cn.PeerVeth = "w" + n.tag + id + "-1"
	return cn
}

// bridgeName is guardian's bridge name for the subnet whose base address
// is id (8 hex digits), shortened to fit 15 bytes for longer tags.
func (n *networker) bridgeName(id string) string {
	bridge := "w" + n.tag + "brdg-" + id
	if len(bridge) > 15 {
		bridge = "w" + n.tag + "b-" + id
	}
	return bridge
}

// subnetOf parses a container network's subnet: base, size and prefix.
func subnetOf(cn containerNetwork) (base, size uint32, prefix int, ok bool) {
	_, subnet, err := net.ParseCIDR(cn.Subnet)
	if err != nil || subnet.IP.To4() == nil {
		return 0, 0, 0, false
	}
	prefix, _ = subnet.Mask.Size()
	return ipToUint(subnet.IP), 1 << (32 - prefix), prefix, true
}

// claim marks a reloaded container's address as used.
func (n *networker) claim(cn containerNetwork) {
	base, size, _, ok := subnetOf(cn)
	ip := net.ParseIP(cn.ContainerIP)
	if !ok || ip.To4() == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	use := n.subnets[base]
	if use == nil {
		use = &subnetUse{size: size, ips: map[uint32]bool{}}
		n.subnets[base] = use
	}
	use.ips[ipToUint(ip)] = true
}

// release frees a container's address, and its subnet with the last one.
func (n *networker) release(cn containerNetwork) {
	base, _, _, ok := subnetOf(cn)
	ip := net.ParseIP(cn.ContainerIP)
	if !ok || ip.To4() == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if use := n.subnets[base]; use != nil {
		delete(use.ips, ipToUint(ip))
		if len(use.ips) == 0 {
			delete(n.subnets, base)
		}
	}
}

// othersOnSubnet says whether a container besides cn holds an address in
// cn's subnet: then its shared bridge stays.
func (n *networker) othersOnSubnet(cn containerNetwork) bool {
	base, _, _, ok := subnetOf(cn)
	ip := net.ParseIP(cn.ContainerIP)
	if !ok || ip.To4() == nil {
		return false
	}
	mine := ipToUint(ip)
	n.mu.Lock()
	defer n.mu.Unlock()
	if use := n.subnets[base]; use != nil {
		for a := range use.ips {
			if a != mine {
				return true
			}
		}
	}
	return false
}
