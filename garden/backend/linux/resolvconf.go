package linux

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
)

// hostResolvConf is the host file a container's resolv.conf starts from.
var hostResolvConf = "/etc/resolv.conf"

// resolvConf lists the host's resolvers that a container can reach (not
// loopback ones) plus the configured extras.
func resolvConf(extra []string) []byte {
	var b bytes.Buffer
	if data, err := os.ReadFile(hostResolvConf); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && (f[0] == "search" || f[0] == "options") {
				b.WriteString(line + "\n")
			}
		}
	}
	for _, s := range resolvers(extra) {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	return b.Bytes()
}

// resolvers are the name servers a container's resolv.conf names: the
// host's non-loopback ones, then the configured ones. Egress to them on
// port 53 stays open whatever deny_networks says (spec cell §7.2 item 5).
func resolvers(extra []string) []string {
	var out []string
	if data, err := os.ReadFile(hostResolvConf); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == "nameserver" {
				if ip := net.ParseIP(f[1]); ip != nil && !ip.IsLoopback() {
					out = append(out, f[1])
				}
			}
		}
	}
	for _, s := range extra {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
