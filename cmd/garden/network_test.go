package main_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/garden"
	gardenconfig "diego/garden/config"
)

// ipCmd runs ip(8) and returns its output.
func ipCmd(args ...string) string {
	GinkgoHelper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(out))
	return string(out)
}

// hexIP is an address as the 8 hex digits garden names links after.
func hexIP(ip string, minus uint32) string {
	v := binary.BigEndian.Uint32(net.ParseIP(ip).To4())
	return fmt.Sprintf("%08x", v-minus)
}

// serveWWW runs httpd in c on each port, serving "<body>" at /index.html.
func serveWWW(c garden.Container, body string, ports ...int) {
	GinkgoHelper()
	Expect(c.StreamIn(garden.StreamInSpec{Path: "/www", TarStream: tarOf(map[string]string{"index.html": body})})).To(Succeed())
	for _, p := range ports {
		_, err := c.Run(garden.ProcessSpec{Path: "httpd", Args: []string{"-f", "-p", fmt.Sprint(p), "-h", "/www"}},
			garden.ProcessIO{Stderr: GinkgoWriter})
		Expect(err).NotTo(HaveOccurred())
	}
}

// fetch has c get http://ip:port/index.html (with nc: the rootfs's static
// wget cannot resolve even an address); it reports the body, or what
// failed.
func fetch(c garden.Container, ip string, port int) string {
	GinkgoHelper()
	r := sh(c, fmt.Sprintf(`printf 'GET /index.html HTTP/1.0\r\n\r\n' | nc -w 2 %s %d`, ip, port))
	if _, body, ok := strings.Cut(r.stdout, "\r\n\r\n"); ok && r.status == 0 {
		return body
	}
	return fmt.Sprintf("failed (%d): %q %q", r.status, r.stdout, r.stderr)
}

// httpGet fetches url from the host.
func httpGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// bridgesOf lists the tag's bridges.
func bridgesOf(tag string) []string {
	GinkgoHelper()
	var found []string
	for _, line := range strings.Split(ipCmd("-o", "link", "show", "type", "bridge"), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasPrefix(f[1], "w"+tag) {
			found = append(found, strings.TrimSuffix(f[1], ":"))
		}
	}
	return found
}

var _ = Describe("container networking", func() {
	It("gives a pool container no bridge: its host veth holds the gateway, and traffic flows out and in", func() {
		g := runningGarden()
		client, err := g.client.Create(garden.ContainerSpec{Handle: "nobridge-client"})
		Expect(err).NotTo(HaveOccurred())
		server, err := g.client.Create(garden.ContainerSpec{Handle: "nobridge-server"})
		Expect(err).NotTo(HaveOccurred())
		info, err := client.Info()
		Expect(err).NotTo(HaveOccurred())
		serverInfo, err := server.Info()
		Expect(err).NotTo(HaveOccurred())

		Expect(bridgesOf(g.tag)).To(BeEmpty())
		hostVeth := "w" + g.tag + hexIP(info.HostIP, 1) + "-0"
		addrs := ipCmd("-4", "-o", "addr", "show", "dev", hostVeth)
		Expect(addrs).To(ContainSubstring(" " + info.HostIP + "/30 "))
		Expect(ipCmd("-o", "link", "show", "dev", hostVeth)).NotTo(ContainSubstring(" master "))

		// Out of one container and into another, through the host.
		serveWWW(server, "served", 8080)
		Eventually(func() string { return fetch(client, serverInfo.ContainerIP, 8080) }, 10*time.Second).Should(Equal("served"))

		// In from the host, through net-in.
		hostPort, _, err := server.NetIn(0, 8080)
		Expect(err).NotTo(HaveOccurred())
		for _, host := range []string{"127.0.0.1", serverInfo.ExternalIP} {
			Eventually(func() (string, error) { return httpGet(fmt.Sprintf("http://%s:%d/index.html", host, hostPort)) }, 5*time.Second).
				Should(Equal("served"))
		}

		Expect(g.client.Destroy("nobridge-client")).To(Succeed())
		Expect(g.client.Destroy("nobridge-server")).To(Succeed())
		Expect(leftovers(g, "nobridge-client", info.ContainerIP)).To(BeEmpty())
		Expect(leftovers(g, "nobridge-server", serverInfo.ContainerIP)).To(BeEmpty())
	})

	It("puts the containers of a static /29 on one shared bridge, where they talk to each other", func() {
		g := runningGarden()
		// The last /29 of this process's pool.
		_, pool, err := net.ParseCIDR(g.config.NetworkPool)
		Expect(err).NotTo(HaveOccurred())
		base := binary.BigEndian.Uint32(pool.IP.To4()) + 1024 - 8
		ip := func(host uint32) string {
			b := make(net.IP, 4)
			binary.BigEndian.PutUint32(b, base+host)
			return b.String()
		}
		subnet := ip(0) + "/29"

		a, err := g.client.Create(garden.ContainerSpec{Handle: "shared-a", Network: subnet})
		Expect(err).NotTo(HaveOccurred())
		b, err := g.client.Create(garden.ContainerSpec{Handle: "shared-b", Network: ip(5) + "/29"})
		Expect(err).NotTo(HaveOccurred())
		aInfo, err := a.Info()
		Expect(err).NotTo(HaveOccurred())
		bInfo, err := b.Info()
		Expect(err).NotTo(HaveOccurred())
		Expect([]string{aInfo.ContainerIP, aInfo.HostIP}).To(Equal([]string{ip(2), ip(1)}))
		Expect([]string{bInfo.ContainerIP, bInfo.HostIP}).To(Equal([]string{ip(5), ip(1)}))

		bridge := "w" + g.tag + "brdg-" + hexIP(ip(0), 0)
		if len(bridge) > 15 {
			bridge = "w" + g.tag + "b-" + hexIP(ip(0), 0)
		}
		Expect(bridgesOf(g.tag)).To(Equal([]string{bridge}))
		Expect(ipCmd("-4", "-o", "addr", "show", "dev", bridge)).To(ContainSubstring(" " + ip(1) + "/29 "))
		for _, cip := range []string{ip(2), ip(5)} {
			Expect(ipCmd("-o", "link", "show", "dev", "w"+g.tag+hexIP(cip, 0)+"-0")).To(ContainSubstring(" master " + bridge + " "))
		}

		serveWWW(a, "from a", 8080)
		serveWWW(b, "from b", 8080)
		Eventually(func() string { return fetch(a, ip(5), 8080) }, 10*time.Second).Should(Equal("from b"))
		Eventually(func() string { return fetch(b, ip(2), 8080) }, 10*time.Second).Should(Equal("from a"))

		// The bridge stays while a container uses it, and goes with the last.
		Expect(g.client.Destroy("shared-a")).To(Succeed())
		Expect(bridgesOf(g.tag)).To(Equal([]string{bridge}))
		Expect(g.client.Destroy("shared-b")).To(Succeed())
		Expect(bridgesOf(g.tag)).To(BeEmpty())
		Expect(leftovers(g, "shared-a", ip(2))).To(BeEmpty())
		Expect(leftovers(g, "shared-b", ip(5))).To(BeEmpty())
	})

	It("with deny_networks 0.0.0.0/0 reaches only what NetOut allows, and its DNS servers on port 53", func() {
		proc := GinkgoParallelProcess()
		outside := runningGarden(func(c *gardenconfig.Config) {
			c.Tag = fmt.Sprintf("d%d", proc)
			c.NetworkPool, c.PortPoolStart = fmt.Sprintf("10.253.%d.0/22", 32+(proc-1)*4), uint32(47000+proc*500)
		})
		srv, err := outside.client.Create(garden.ContainerSpec{})
		Expect(err).NotTo(HaveOccurred())
		srvInfo, err := srv.Info()
		Expect(err).NotTo(HaveOccurred())
		serveWWW(srv, "outside", 8080, 53)

		g := runningGarden(func(c *gardenconfig.Config) {
			c.DenyNetworks, c.DNSServers = []string{"0.0.0.0/0"}, []string{srvInfo.ContainerIP}
		})
		c, err := g.client.Create(garden.ContainerSpec{})
		Expect(err).NotTo(HaveOccurred())
		Expect(sh(c, "cat /etc/resolv.conf").stdout).To(ContainSubstring("nameserver " + srvInfo.ContainerIP + "\n"))

		Eventually(func() string { return fetch(c, srvInfo.ContainerIP, 53) }, 10*time.Second).Should(Equal("outside"))
		Expect(fetch(c, srvInfo.ContainerIP, 8080)).To(HavePrefix("failed"))

		Expect(c.NetOut(garden.NetOutRule{Protocol: garden.ProtocolTCP,
			Networks: []garden.IPRange{{Start: srvInfo.ContainerIP}}, Ports: []garden.PortRange{{Start: 8080}}})).To(Succeed())
		Expect(fetch(c, srvInfo.ContainerIP, 8080)).To(Equal("outside"))

		// Another container of the same garden has no such rule.
		other, err := g.client.Create(garden.ContainerSpec{})
		Expect(err).NotTo(HaveOccurred())
		Expect(fetch(other, srvInfo.ContainerIP, 8080)).To(HavePrefix("failed"))
	})
})
