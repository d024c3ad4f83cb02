package linux

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/garden"
)

func newTestNetworker(tag, pool string) *networker {
	GinkgoHelper()
	_, p, err := net.ParseCIDR(pool)
	Expect(err).NotTo(HaveOccurred())
	return &networker{tag: tag, pool: p, subnets: map[uint32]*subnetUse{}, ports: newPortPool(61001, 10)}
}

func ptr[T any](v T) *T { return &v }

var _ = Describe("networking", func() {
	Describe("allocate", func() {
		var n *networker

		BeforeEach(func() {
			n = newTestNetworker("b", "10.252.0.0/22")
		})

		It("takes the first free /30: gateway first host, container second", func() {
			cn, err := n.allocate("")
			Expect(err).NotTo(HaveOccurred())
			Expect(cn).To(Equal(containerNetwork{
				ID: "0afc0000", Subnet: "10.252.0.0/30", HostIP: "10.252.0.1", ContainerIP: "10.252.0.2",
				HostVeth: "wb0afc0000-0", PeerVeth: "wb0afc0000-1",
			}))
			cn2, err := n.allocate("")
			Expect(err).NotTo(HaveOccurred())
			Expect(cn2.Subnet).To(Equal("10.252.0.4/30"))
			Expect(cn2.ContainerIP).To(Equal("10.252.0.6"))
			Expect(n.maxSubnets()).To(Equal(256))
		})

		It("takes a static subnet, and the /30 of a static address", func() {
			cn, err := n.allocate("10.252.0.8/30")
			Expect(err).NotTo(HaveOccurred())
			Expect(cn.Subnet).To(Equal("10.252.0.8/30"))
			Expect(cn.HostIP).To(Equal("10.252.0.9"))
			Expect(cn.ContainerIP).To(Equal("10.252.0.10"))

			cn, err = n.allocate("10.252.0.14")
			Expect(err).NotTo(HaveOccurred())
			Expect(cn.Subnet).To(Equal("10.252.0.12/30"))

			cn, err = n.allocate("10.252.0.18/30")
			Expect(err).NotTo(HaveOccurred())
			Expect(cn.Subnet).To(Equal("10.252.0.16/30"))
			Expect(cn.ContainerIP).To(Equal("10.252.0.18"))
		})

		It("refuses static networks smaller than a /30, or naming the gateway or broadcast", func() {
			_, err := n.allocate("10.252.0.0/31")
			Expect(err).To(MatchError(ContainSubstring("containers get a /30")))
			_, err = n.allocate("10.0.0.0/7")
			Expect(err).To(MatchError(ContainSubstring("containers get a /30")))
			_, err = n.allocate("10.252.0.21/30")
			Expect(err).To(MatchError(ContainSubstring("the container address is 10.252.0.22")))
			_, err = n.allocate("10.252.0.23")
			Expect(err).To(MatchError(ContainSubstring("the container address is 10.252.0.22")))
			_, err = n.allocate("10.252.1.1/29")
			Expect(err).To(MatchError(ContainSubstring("10.252.1.1 is the gateway or broadcast address of 10.252.1.0/29")))
			_, err = n.allocate("10.252.1.7/29")
			Expect(err).To(MatchError(ContainSubstring("10.252.1.7 is the gateway or broadcast address of 10.252.1.0/29")))
		})

		It("shares a static subnet larger than a /30 among containers, on one bridge", func() {
			a, err := n.allocate("10.252.1.0/29")
			Expect(err).NotTo(HaveOccurred())
			Expect(a).To(Equal(containerNetwork{
				ID: "0afc0102", Subnet: "10.252.1.0/29", HostIP: "10.252.1.1", ContainerIP: "10.252.1.2",
				Bridge: "wbbrdg-0afc0100", HostVeth: "wb0afc0102-0", PeerVeth: "wb0afc0102-1",
			}))
			b, err := n.allocate("10.252.1.5/29")
			Expect(err).NotTo(HaveOccurred())
			Expect(b.ContainerIP).To(Equal("10.252.1.5"))
			Expect(b.Bridge).To(Equal(a.Bridge))
			Expect(b.HostVeth).To(Equal("wb0afc0105-0"))
			Expect(b.ID).NotTo(Equal(a.ID))
			_, err = n.allocate("10.252.1.5/29")
			Expect(err).To(MatchError("the address 10.252.1.5 is already in use"))

			for _, want := range []string{"10.252.1.3", "10.252.1.4", "10.252.1.6"} {
				c, err := n.allocate("10.252.1.0/29")
				Expect(err).NotTo(HaveOccurred())
				Expect(c.ContainerIP).To(Equal(want))
			}
			_, err = n.allocate("10.252.1.0/29")
			Expect(err).To(MatchError("insufficient addresses remaining in the subnet 10.252.1.0/29"))

			Expect(n.othersOnSubnet(a)).To(BeTrue())
			_, err = n.allocate("10.252.1.4/30")
			Expect(err).To(MatchError("the subnet 10.252.1.4/30 is already in use"))
			_, err = n.allocate("10.252.1.0/28")
			Expect(err).To(MatchError("the subnet 10.252.1.0/28 overlaps a subnet in use"))
		})

		It("frees a shared subnet with its last container", func() {
			a, err := n.allocate("10.252.0.0/29")
			Expect(err).NotTo(HaveOccurred())
			b, err := n.allocate("10.252.0.0/29")
			Expect(err).NotTo(HaveOccurred())
			cn, err := n.allocate("")
			Expect(err).NotTo(HaveOccurred())
			Expect(cn.Subnet).To(Equal("10.252.0.8/30"), "the pool skips the shared subnet")

			n.release(a)
			Expect(n.othersOnSubnet(b)).To(BeFalse())
			_, err = n.allocate("10.252.0.0/30")
			Expect(err).To(HaveOccurred(), "b still holds the /29")
			n.release(b)
			cn, err = n.allocate("")
			Expect(err).NotTo(HaveOccurred())
			Expect(cn.Subnet).To(Equal("10.252.0.0/30"))

			n.claim(a) // a reloaded container on a shared subnet
			_, err = n.allocate("10.252.0.2/29")
			Expect(err).To(MatchError(ContainSubstring("overlaps")))
		})

		It("skips static subnets when allocating dynamically", func() {
			_, err := n.allocate("10.252.0.0/30")
			Expect(err).NotTo(HaveOccurred())
			cn, err := n.allocate("")
			Expect(err).NotTo(HaveOccurred())
			Expect(cn.Subnet).To(Equal("10.252.0.4/30"))
		})

		It("refuses a subnet in use, and bad networks", func() {
			_, err := n.allocate("10.252.0.4/30")
			Expect(err).NotTo(HaveOccurred())
			_, err = n.allocate("10.252.0.6")
			Expect(err).To(MatchError("the subnet 10.252.0.4/30 is already in use"))
			_, err = n.allocate("not-a-network")
			Expect(err).To(MatchError(ContainSubstring(`invalid network "not-a-network": want a CIDR`)))
			_, err = n.allocate("fd00::1/126")
			Expect(err).To(MatchError(ContainSubstring("only IPv4 is supported")))
		})

		It("reports exhaustion, and reuses released subnets", func() {
			n = newTestNetworker("b", "10.252.0.0/29")
			Expect(n.maxSubnets()).To(Equal(2))
			a, err := n.allocate("")
			Expect(err).NotTo(HaveOccurred())
			_, err = n.allocate("")
			Expect(err).NotTo(HaveOccurred())
			_, err = n.allocate("")
			Expect(err).To(MatchError("insufficient subnets remaining in the pool 10.252.0.0/29"))

			n.release(a)
			again, err := n.allocate("")
			Expect(err).NotTo(HaveOccurred())
			Expect(again).To(Equal(a))

			n.release(containerNetwork{}) // a half-built container has none
			n.release(again)
			n.claim(again) // a reloaded container's subnet
			_, err = n.allocate("")
			Expect(err).To(MatchError(ContainSubstring("insufficient subnets")))
		})

		It("allocates a /30 pool's only subnet", func() {
			n = newTestNetworker("", "10.1.2.4/30")
			cn, err := n.allocate("")
			Expect(err).NotTo(HaveOccurred())
			Expect(cn.Subnet).To(Equal("10.1.2.4/30"))
			Expect(cn.Bridge).To(BeEmpty(), "a /30 has no bridge")
		})

		It("keeps interface names within 15 bytes and chain names within 28 for tags up to 4 characters", func() {
			for _, tag := range []string{"", "a", "ab", "abc", "abcd"} {
				n := newTestNetworker(tag, "10.255.255.0/24")
				cn, err := n.allocate("10.255.255.252/30")
				Expect(err).NotTo(HaveOccurred())
				shared, err := n.allocate("10.255.255.0/29")
				Expect(err).NotTo(HaveOccurred())
				for _, name := range []string{shared.Bridge, shared.HostVeth, cn.HostVeth, cn.PeerVeth} {
					Expect(len(name)).To(BeNumerically("<=", 15), "%q with tag %q", name, tag)
					Expect(name).To(HavePrefix("w" + tag))
				}
				Expect(shared.Bridge).NotTo(Equal(shared.HostVeth))
				Expect(len(n.instanceChain(cn.ID) + "-log")).To(BeNumerically("<=", 28))
			}
			Expect(newTestNetworker("ab", "10.0.0.0/30").chain("forward")).To(Equal("w-ab-forward"))
			Expect(newTestNetworker("", "10.0.0.0/30").chain("default")).To(Equal("w--default"))
		})

		It("gives distinct names to distinct subnets", func() {
			seen := map[string]bool{}
			for range n.maxSubnets() {
				cn, err := n.allocate("")
				Expect(err).NotTo(HaveOccurred())
				for _, name := range []string{cn.HostVeth, cn.PeerVeth, cn.ID} {
					Expect(seen).NotTo(HaveKey(name))
					seen[name] = true
				}
			}
		})
	})

	Describe("expandNetOut", func() {
		It("matches everything for an empty all-protocol rule", func() {
			Expect(expandNetOut(garden.NetOutRule{})).To(Equal([]string{""}))
		})

		DescribeTable("names each protocol",
			func(p garden.Protocol, want string) {
				Expect(expandNetOut(garden.NetOutRule{Protocol: p, Networks: []garden.IPRange{{Start: "1.2.3.4"}}})).
					To(Equal([]string{strings.TrimSpace(want + " -d 1.2.3.4")}))
			},
			Entry("all", garden.ProtocolAll, ""),
			Entry("tcp", garden.ProtocolTCP, "-p tcp"),
			Entry("udp", garden.ProtocolUDP, "-p udp"),
			Entry("icmp", garden.ProtocolICMP, "-p icmp"),
		)

		It("refuses icmpv6 and unknown protocols", func() {
			_, err := expandNetOut(garden.NetOutRule{Protocol: garden.ProtocolICMPv6})
			Expect(err).To(MatchError(ContainSubstring("icmpv6 rules are not supported")))
			_, err = expandNetOut(garden.NetOutRule{Protocol: garden.Protocol(9)})
			Expect(err).To(MatchError("netout: invalid protocol 9"))
		})

		It("uses -d for single addresses and iprange for ranges", func() {
			lines, err := expandNetOut(garden.NetOutRule{Protocol: garden.ProtocolAll, Networks: []garden.IPRange{
				{Start: "10.0.0.1"}, {Start: "10.0.0.2", End: "10.0.0.2"}, {Start: "10.0.0.0", End: "10.0.0.255"},
			}})
			Expect(err).NotTo(HaveOccurred())
			Expect(lines).To(Equal([]string{"-d 10.0.0.1", "-d 10.0.0.2", "-m iprange --dst-range 10.0.0.0-10.0.0.255"}))
		})

		It("gives ports only to tcp and udp, single ports and ranges", func() {
			lines, err := expandNetOut(garden.NetOutRule{Protocol: garden.ProtocolUDP, Ports: []garden.PortRange{
				{Start: 53}, {Start: 80, End: 80}, {Start: 8000, End: 8080},
			}})
			Expect(err).NotTo(HaveOccurred())
			Expect(lines).To(Equal([]string{"-p udp --dport 53", "-p udp --dport 80", "-p udp --dport 8000:8080"}))

			for _, p := range []garden.Protocol{garden.ProtocolAll, garden.ProtocolICMP} {
				_, err := expandNetOut(garden.NetOutRule{Protocol: p, Ports: []garden.PortRange{{Start: 80}}})
				Expect(err).To(MatchError(ContainSubstring("ports may only be given for tcp or udp rules")))
			}
		})

		It("is the cross product of networks and ports", func() {
			lines, err := expandNetOut(garden.NetOutRule{
				Protocol: garden.ProtocolTCP,
				Networks: []garden.IPRange{{Start: "1.1.1.1"}, {Start: "2.2.2.0", End: "2.2.2.9"}, {Start: "3.3.3.3"}},
				Ports:    []garden.PortRange{{Start: 443}, {Start: 1000, End: 2000}},
			})
			Expect(err).NotTo(HaveOccurred())
			Expect(lines).To(HaveLen(6))
			Expect(lines).To(Equal([]string{
				"-p tcp -d 1.1.1.1 --dport 443", "-p tcp -d 1.1.1.1 --dport 1000:2000",
				"-p tcp -m iprange --dst-range 2.2.2.0-2.2.2.9 --dport 443", "-p tcp -m iprange --dst-range 2.2.2.0-2.2.2.9 --dport 1000:2000",
				"-p tcp -d 3.3.3.3 --dport 443", "-p tcp -d 3.3.3.3 --dport 1000:2000",
			}))
		})

		It("matches an icmp type and optional code", func() {
			Expect(expandNetOut(garden.NetOutRule{Protocol: garden.ProtocolICMP, ICMPs: &garden.ICMPControl{Type: 8}})).
				To(Equal([]string{"-p icmp --icmp-type 8"}))
			Expect(expandNetOut(garden.NetOutRule{Protocol: garden.ProtocolICMP, ICMPs: &garden.ICMPControl{Type: 3, Code: ptr[uint8](0)}})).
				To(Equal([]string{"-p icmp --icmp-type 3/0"}))
			Expect(expandNetOut(garden.NetOutRule{Protocol: garden.ProtocolICMP, Networks: []garden.IPRange{{Start: "8.8.8.8"}},
				ICMPs: &garden.ICMPControl{Type: 0, Code: ptr[uint8](1)}})).
				To(Equal([]string{"-p icmp -d 8.8.8.8 --icmp-type 0/1"}))
			_, err := expandNetOut(garden.NetOutRule{Protocol: garden.ProtocolTCP, ICMPs: &garden.ICMPControl{Type: 8}})
			Expect(err).To(MatchError(ContainSubstring("icmp types may only be given for icmp rules")))
		})

		DescribeTable("refuses invalid networks and ports",
			func(r garden.NetOutRule, want string) {
				_, err := expandNetOut(r)
				Expect(err).To(MatchError(ContainSubstring(want)))
			},
			Entry("a bad start", garden.NetOutRule{Networks: []garden.IPRange{{Start: "300.1.1.1"}}}, "invalid network 300.1.1.1-"),
			Entry("a bad end", garden.NetOutRule{Networks: []garden.IPRange{{Start: "1.1.1.1", End: "x"}}}, "invalid network 1.1.1.1-x"),
			Entry("an empty range", garden.NetOutRule{Networks: []garden.IPRange{{}}}, "invalid network -"),
			Entry("IPv6", garden.NetOutRule{Networks: []garden.IPRange{{Start: "::1"}}}, "invalid network ::1-"),
			Entry("port 0", garden.NetOutRule{Protocol: garden.ProtocolTCP, Ports: []garden.PortRange{{Start: 0, End: 10}}}, "invalid port range 0-10"),
			Entry("a reversed range", garden.NetOutRule{Protocol: garden.ProtocolTCP, Ports: []garden.PortRange{{Start: 90, End: 80}}}, "invalid port range 90-80"),
		)
	})

	Describe("iptables text", func() {
		var (
			n  *networker
			cn containerNetwork
		)

		BeforeEach(func() {
			n = newTestNetworker("b", "10.252.0.0/22")
			var err error
			cn, err = n.allocate("10.252.0.4/30")
			Expect(err).NotTo(HaveOccurred())
		})

		It("builds a new container's chains, jumps and log chain", func() {
			Expect(n.instanceRules("my-handle", cn)).To(Equal(`*nat
:w-b-instance-0afc0004 - [0:0]
-A w-b-prerouting -j w-b-instance-0afc0004 -m comment --comment "my-handle"
-A w-b-postrouting -s 10.252.0.4/30 ! -d 10.252.0.4/30 -j MASQUERADE -m comment --comment "my-handle"
COMMIT
*filter
:w-b-instance-0afc0004 - [0:0]
:w-b-instance-0afc0004-log - [0:0]
-A w-b-instance-0afc0004 -s 10.252.0.4/30 -d 10.252.0.4/30 -j ACCEPT -m comment --comment "my-handle"
-A w-b-instance-0afc0004 -g w-b-default -m comment --comment "my-handle"
-A w-b-instance-0afc0004-log -j LOG --log-prefix "my-handle " -m comment --comment "my-handle"
-A w-b-instance-0afc0004-log -j RETURN -m comment --comment "my-handle"
-I w-b-forward 1 -i wb0afc0004-0 -s 10.252.0.6 -g w-b-instance-0afc0004 -m comment --comment "my-handle"
COMMIT
`))
		})

		It("truncates the log prefix to 28 characters of the handle", func() {
			handle := strings.Repeat("x", 40)
			Expect(n.instanceRules(handle, cn)).To(ContainSubstring(fmt.Sprintf(`--log-prefix "%s "`, strings.Repeat("x", 28))))
		})

		It("puts back only a reloaded container's entries in the global chains", func() {
			Expect(n.reloadRules("my-handle", cn)).To(Equal(`*nat
-A w-b-prerouting -j w-b-instance-0afc0004 -m comment --comment "my-handle"
-A w-b-postrouting -s 10.252.0.4/30 ! -d 10.252.0.4/30 -j MASQUERADE -m comment --comment "my-handle"
COMMIT
*filter
-I w-b-forward 1 -i wb0afc0004-0 -s 10.252.0.6 -g w-b-instance-0afc0004 -m comment --comment "my-handle"
COMMIT
`))
			// Each global-chain line of reloadRules is one of instanceRules'.
			for _, line := range strings.Split(n.reloadRules("my-handle", cn), "\n") {
				if strings.HasPrefix(line, "-") {
					Expect(n.instanceRules("my-handle", cn)).To(ContainSubstring(line + "\n"))
				}
			}
		})

		It("finds a handle's rules by their comment, as iptables -S prints them", func() {
			Expect(hasComment(`-A w-b-postrouting -s 10.252.0.4/30 -j MASQUERADE -m comment --comment abc`, "abc")).To(BeTrue())
			Expect(hasComment(`-A w-b-prerouting -m comment --comment abc -j w-b-instance-x`, "abc")).To(BeTrue())
			Expect(hasComment(`-A w-b-prerouting -m comment --comment "abc" -j w-b-instance-x`, "abc")).To(BeTrue())
			Expect(hasComment(`-A w-b-prerouting -m comment --comment abcd -j w-b-instance-x`, "abc")).To(BeFalse())
			Expect(hasComment(`-A w-b-prerouting -m comment --comment abcd`, "abc")).To(BeFalse())
			Expect(hasComment(`-A w-b-prerouting -m comment --comment "xabc"`, "abc")).To(BeFalse())
			Expect(hasComment(`-A w-b-prerouting -j ACCEPT`, "abc")).To(BeFalse())
		})
	})

	Describe("portPool", func() {
		var (
			p   *portPool
			all = func(uint32) bool { return true }
		)

		BeforeEach(func() {
			p = newPortPool(61001, 3)
		})

		It("hands out ports in turn and reports exhaustion", func() {
			Expect(p.acquire(0, all)).To(BeEquivalentTo(61001))
			Expect(p.acquire(0, all)).To(BeEquivalentTo(61002))
			Expect(p.acquire(0, all)).To(BeEquivalentTo(61003))
			_, err := p.acquire(0, all)
			Expect(err).To(MatchError("insufficient ports remaining in the pool 61001-61003"))
		})

		It("reuses a released port after going round", func() {
			for range 3 {
				_, err := p.acquire(0, all)
				Expect(err).NotTo(HaveOccurred())
			}
			p.release(61002)
			Expect(p.acquire(0, all)).To(BeEquivalentTo(61002))
		})

		It("skips ports in use by others", func() {
			Expect(p.acquire(0, func(port uint32) bool { return port != 61001 })).To(BeEquivalentTo(61002))
			_, err := p.acquire(0, func(uint32) bool { return false })
			Expect(err).To(MatchError(ContainSubstring("insufficient ports")))
		})

		It("takes a requested port once, inside the pool or not, and skips it later", func() {
			Expect(p.acquire(61001, nil)).To(BeEquivalentTo(61001))
			_, err := p.acquire(61001, nil)
			Expect(err).To(MatchError("host port 61001 is already mapped"))
			Expect(p.acquire(8080, nil)).To(BeEquivalentTo(8080))
			Expect(p.acquire(0, all)).To(BeEquivalentTo(61002))
			p.release(61001)
			Expect(p.acquire(61001, nil)).To(BeEquivalentTo(61001))
		})
	})
})

var _ = Describe("ownsLink", func() {
	It("claims exactly this tag's bridge and host-veth names", func() {
		n := &networker{tag: "e1"}
		Expect(n.ownsLink("we1brdg-0afc0004")).To(BeTrue())
		Expect(n.ownsLink("we1b-0afc0004")).To(BeTrue())
		Expect(n.ownsLink("we10afc0004-0")).To(BeTrue())
		Expect(n.ownsLink("we10afc0004-1")).To(BeFalse(), "the peer lives in the container")
		Expect(n.ownsLink("we10b-0afc0004")).To(BeFalse(), "tag e10's bridge")
		Expect(n.ownsLink("we100afc0004-0")).To(BeFalse(), "tag e10's veth")
		Expect(n.ownsLink("eth0")).To(BeFalse())
	})
})

var _ = Describe("teardownRules", func() {
	It("deletes exactly the jumps instanceRules added, then the container's chains", func() {
		n := &networker{tag: "t"}
		cn := containerNetwork{ID: "0afe0004", Subnet: "10.254.0.4/30", ContainerIP: "10.254.0.6", Bridge: "wtbrdg-0afe0004"}
		added := n.instanceRules("h1", cn)
		removed := n.teardownRules("h1", cn)
		for _, line := range strings.Split(added, "\n") {
			if strings.HasPrefix(line, "-A w-t-prerouting") || strings.HasPrefix(line, "-A w-t-postrouting") {
				Expect(removed).To(ContainSubstring("-D" + strings.TrimPrefix(line, "-A")))
			}
		}
		Expect(removed).To(ContainSubstring(`-D w-t-forward -i wtbrdg-0afe0004 -s 10.254.0.6 -g w-t-instance-0afe0004 -m comment --comment "h1"`))
		Expect(removed).To(ContainSubstring("-X w-t-instance-0afe0004\n"))
		Expect(removed).To(ContainSubstring("-X w-t-instance-0afe0004-log\n"))
	})
})

var _ = Describe("DNS egress", func() {
	It("opens port 53 to the host's non-loopback resolvers and the configured ones", func() {
		conf := filepath.Join(GinkgoT().TempDir(), "resolv.conf")
		Expect(os.WriteFile(conf, []byte("nameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch example\n"), 0o644)).To(Succeed())
		old := hostResolvConf
		hostResolvConf = conf
		DeferCleanup(func() { hostResolvConf = old })

		n := &networker{tag: "t", dnsServers: []string{"198.51.100.1", "192.0.2.53"}}
		Expect(n.dnsRules()).To(Equal([]string{
			"-d 192.0.2.53 -p udp -m udp --dport 53", "-d 192.0.2.53 -p tcp -m tcp --dport 53",
			"-d 198.51.100.1 -p udp -m udp --dport 53", "-d 198.51.100.1 -p tcp -m tcp --dport 53",
		}))
		Expect(string(resolvConf(n.dnsServers))).To(Equal("search example\nnameserver 192.0.2.53\nnameserver 198.51.100.1\n"))
	})
})
