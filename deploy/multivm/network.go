package multivm

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The network: a switch namespace holding the bridge, and a veth from it
// into each VM's namespace, which gets its manifest address on eth0. The
// host's own namespace gets nothing; the driver namespace (DriverAddress)
// is where the host's forwarders dial from.
const (
	bridge = "br0"
	// DriverAddress is the address of the namespace the host's
	// forwarders and tools dial from.
	DriverAddress = "10.244.0.254"
	prefixLen     = "/24"
)

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func (c *Cluster) switchNS() string { return c.plan.Prefix + "-sw" }

// DriverNS is the namespace the host's forwarders dial from.
func (c *Cluster) DriverNS() string { return c.plan.Prefix + "-driver" }

// createSwitch makes the switch namespace and its bridge.
func (c *Cluster) createSwitch() error {
	sw := c.switchNS()
	if err := ip("netns", "add", sw); err != nil {
		return err
	}
	c.namespaces = append(c.namespaces, sw)
	for _, args := range [][]string{
		{"-n", sw, "link", "set", "lo", "up"},
		{"-n", sw, "link", "add", bridge, "type", "bridge"},
		{"-n", sw, "link", "set", bridge, "up"},
	} {
		if err := ip(args...); err != nil {
			return err
		}
	}
	return nil
}

// createVMNetwork makes a VM's namespace, wired to the bridge with its
// address, and the /etc/hosts its daemons see: the service names of the
// manifest (bbs.service.cf.internal, ...) resolve to every instance of
// their group, as BOSH DNS aliases would.
func (c *Cluster) createVMNetwork(ns, address string, link int) error {
	if err := ip("netns", "add", ns); err != nil {
		return err
	}
	sw := c.switchNS()
	veth := fmt.Sprintf("v%d", link)
	for _, args := range [][]string{
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", sw, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"-n", sw, "link", "set", veth, "master", bridge, "up"},
		{"-n", ns, "addr", "add", address + prefixLen, "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
	} {
		if err := ip(args...); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(c.hostsFile(ns)), 0o755); err != nil {
		return err
	}
	return os.WriteFile(c.hostsFile(ns), []byte(c.hosts()), 0o644)
}

func (c *Cluster) hostsFile(ns string) string {
	return filepath.Join(c.plan.StateDir, "hosts", ns)
}

// ServiceNames are the names clients use for a group, resolving to all of
// its instances.
var ServiceNames = map[string][]string{
	"database": {"bbs.service.cf.internal"},
	"etcd":     {"etcd.service.cf.internal"},
	"nats":     {"nats.service.cf.internal"},
	"access":   {"receptor.service.cf.internal", "doppler.service.cf.internal"},
}

func (c *Cluster) hosts() string {
	var b strings.Builder
	b.WriteString("127.0.0.1 localhost\n::1 localhost\n")
	for _, g := range GroupOrder {
		for _, name := range ServiceNames[g] {
			for _, a := range c.plan.Addresses(g) {
				fmt.Fprintf(&b, "%s %s\n", a, name)
			}
		}
	}
	return b.String()
}

// deleteNS removes a namespace; its veth (and the peer on the bridge) go
// with it.
func deleteNS(ns string) error {
	if _, err := os.Stat(filepath.Join("/run/netns", ns)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return ip("netns", "del", ns)
}
