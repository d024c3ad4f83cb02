package local_test

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/cluster"
	"diego/deploy/local"
	executorconfig "diego/executor/config"
	gardenconfig "diego/garden/config"
	repconfig "diego/rep/config"
)

var _ = Describe("NewPlan", func() {
	var opts local.Options

	BeforeEach(func() {
		opts = local.Options{StateDir: "/var/lib/diego/local", BinDir: "/src/diego/bin", RootFS: "/var/lib/diego/rootfs/busybox",
			StackRootFS: "/var/lib/diego/rootfs/cflinuxfs", Cells: 2}
	})

	plan := func() *local.Plan {
		GinkgoHelper()
		p, err := local.NewPlan(opts)
		Expect(err).NotTo(HaveOccurred())
		return p
	}

	It("passes every daemon's own config validation", func() {
		for _, cells := range []int{1, 2, local.MaxCells} {
			opts.Cells = cells
			Expect(plan().Validate()).To(Succeed())
		}
	})

	It("starts the brain, then each cell's garden, executor and rep, then the router and the route-emitter", func() {
		var names []string
		for _, d := range plan().Daemons {
			names = append(names, d.Name)
		}
		Expect(names).To(Equal([]string{"doppler", "metron", "bbs", "auctioneer", "converger", "metrics-server", "receptor",
			"nsync", "tps", "metron_z1-0", "garden_z1-0", "executor_z1-0", "rep_z1-0", "metron_z1-1", "garden_z1-1",
			"executor_z1-1", "rep_z1-1", "router", "route-emitter", "file-server", "stager", "cloud-controller"}))
	})

	It("gives every daemon its own config file and a stop timeout", func() {
		seen := map[string]bool{}
		for _, d := range plan().Daemons {
			Expect(seen[d.ConfigPath]).To(BeFalse(), d.Name)
			seen[d.ConfigPath] = true
			Expect(d.ConfigPath).To(HavePrefix("/var/lib/diego/local/config/"))
			Expect(d.StopTimeout).To(BeNumerically(">", 0))
		}
	})

	It("gives the cells distinct ports, tags, pools, depots and ids, all in zone z1", func() {
		opts.Cells = local.MaxCells
		p := plan()
		Expect(p.Cells).To(HaveLen(local.MaxCells))
		unique := func(get func(local.Cell) string) {
			GinkgoHelper()
			seen := map[string]bool{}
			for _, c := range p.Cells {
				v := get(c)
				Expect(seen[v]).To(BeFalse(), v)
				seen[v] = true
			}
		}
		unique(func(c local.Cell) string { return c.ID })
		for _, c := range p.Cells {
			Expect(c.Zone).To(Equal("z1"))
		}
		unique(func(c local.Cell) string { return c.Tag })
		unique(func(c local.Cell) string { return c.NetworkPool })
		unique(func(c local.Cell) string { return c.DepotDir() })

		// Network pools and host port ranges must not overlap either.
		var nets []*net.IPNet
		for i, c := range p.Cells {
			_, n, err := net.ParseCIDR(c.NetworkPool)
			Expect(err).NotTo(HaveOccurred())
			for _, other := range nets {
				Expect(other.Contains(n.IP) || n.Contains(other.IP)).To(BeFalse(), c.NetworkPool)
			}
			nets = append(nets, n)
			if i > 0 {
				prev := p.Cells[i-1]
				Expect(c.PortPoolStart).To(BeNumerically(">=", prev.PortPoolStart+prev.PortPoolSize))
			}
			Expect(uint64(c.PortPoolStart) + uint64(c.PortPoolSize)).To(BeNumerically("<=", 65536))
		}
	})

	It("lays the first two cells out as documented, named as diego-release names cells", func() {
		p := plan()
		Expect(p.Cells[0]).To(Equal(local.Cell{Index: 1, Cell: cluster.Cell{ID: "cell_z1-0", Zone: "z1", CertName: "rep_z1-0",
			Tag: "a", NetworkPool: "10.251.0.0/22", PortPoolStart: 61001, PortPoolSize: 500, GardenAddr: "127.0.0.1:7777",
			ExecutorAddr: "127.0.0.1:1700", RepAddr: "127.0.0.1:1800", Dir: "/var/lib/diego/local/cell_z1-0"}}))
		Expect(p.Cells[1]).To(Equal(local.Cell{Index: 2, Cell: cluster.Cell{ID: "cell_z1-1", Zone: "z1", CertName: "rep_z1-1",
			Tag: "b", NetworkPool: "10.251.4.0/22", PortPoolStart: 61501, PortPoolSize: 500, GardenAddr: "127.0.0.1:7778",
			ExecutorAddr: "127.0.0.1:1701", RepAddr: "127.0.0.1:1801", Dir: "/var/lib/diego/local/cell_z1-1"}}))
		Expect(p.Cells[1].DaemonName(local.KindRep)).To(Equal("rep_z1-1"))
	})

	It("allocates one distinct port per listener", func() {
		opts.Cells = 3
		p := plan()
		ports := p.Ports()
		// etcd client and peer, NATS, BBS and its health, auctioneer,
		// metrics-server, receptor, the doppler, nsync, tps, the cloud controller,
		// three per cell, the router's two and the route-emitter's health,
		// file-server and stager.
		Expect(ports).To(HaveLen(12 + 3*3 + 3 + 2))
		Expect(ports).To(HaveKeyWithValue(2379, "etcd"))
		Expect(ports).To(HaveKeyWithValue(8889, "bbs"))
		Expect(ports).To(HaveKeyWithValue(7779, "garden_z1-2"))
		Expect(ports).To(HaveKeyWithValue(1702, "executor_z1-2"))
		Expect(ports).To(HaveKeyWithValue(1802, "rep_z1-2"))
	})

	It("wires each cell's executor to its garden and its rep to its executor", func() {
		p := plan()
		for _, d := range p.Daemons {
			if d.Cell == 0 || d.Binary == "metron" { // loggregator_test.go checks the metrons
				continue
			}
			cell := p.Cells[d.Cell-1]
			switch cfg := d.Config.(type) {
			case gardenconfig.Config:
				Expect(cfg.ListenAddr).To(Equal(cell.GardenAddr))
				Expect(cfg.Tag).To(Equal(cell.Tag))
				Expect(cfg.NetworkPool).To(Equal(cell.NetworkPool))
				Expect(cfg.DepotDir).To(Equal(cell.DepotDir()))
				Expect(cfg.DefaultRootFS).To(Equal(opts.RootFS))
				Expect(cfg.RootFSMap).To(Equal(map[string]string{"docker:///busybox": opts.RootFS,
					"preloaded:cflinuxfs2": opts.StackRootFS, "preloaded:cflinuxfs3": opts.StackRootFS,
					"preloaded:cflinuxfs4": opts.StackRootFS}))
				Expect(cfg.DenyNetworks).To(Equal([]string{"0.0.0.0/0"}), "egress is closed, as diego-release configures garden")
				Expect(cfg.AllowHostAccess).To(BeFalse())
			case executorconfig.Config:
				Expect(cfg.GardenAddr).To(Equal(cell.GardenAddr))
				Expect(cfg.CellID).To(Equal(cell.ID))
			case repconfig.Config:
				Expect(cfg.ExecutorAddress).To(Equal("http://" + cell.ExecutorAddr))
				Expect(cfg.CellID).To(Equal(cell.ID))
				Expect(cfg.Zone).To(Equal(cell.Zone))
				Expect(cfg.PreloadedRootFS).To(Equal([]string{"cflinuxfs2:" + opts.StackRootFS,
					"cflinuxfs3:" + opts.StackRootFS, "cflinuxfs4:" + opts.StackRootFS}))
				Expect(cfg.SupportedProviders).To(Equal([]string{"docker"}))
				Expect(cfg.EvacuateOnShutdown).To(BeFalse())
				Expect(cfg.BBSClientCertFile).To(Equal(p.Certs.Clients[cell.DaemonName(local.KindRep)][0]))
			default:
				Fail("unexpected config type for " + d.Name)
			}
		}
	})

	It("has every BBS client use https with its own client certificate", func() {
		p := plan()
		certs := map[string]bool{}
		for _, d := range p.Daemons {
			body, err := json.Marshal(d.Config)
			Expect(err).NotTo(HaveOccurred())
			var m map[string]any
			Expect(json.Unmarshal(body, &m)).To(Succeed())
			if d.Name == "bbs" {
				Expect(m).To(HaveKeyWithValue("cert_file", p.Certs.BBSServerCert))
				Expect(m).To(HaveKeyWithValue("ca_file", p.Certs.CAFile))
				continue
			}
			if _, ok := m["bbs_address"]; !ok {
				continue // garden and executor do not call the BBS
			}
			Expect(m).To(HaveKeyWithValue("bbs_address", "https://127.0.0.1:8889"), d.Name)
			Expect(m).To(HaveKeyWithValue("bbs_ca_cert_file", p.Certs.CAFile), d.Name)
			cert := m["bbs_client_cert_file"].(string)
			Expect(certs[cert]).To(BeFalse(), d.Name)
			certs[cert] = true
		}
		Expect(certs).To(HaveLen(4 + 2)) // auctioneer, converger, metrics-server, receptor, two reps
	})

	It("writes durations as strings and the executor's capacity as auto", func() {
		for _, d := range plan().Daemons {
			if d.Name != "executor_z1-0" {
				continue
			}
			body, err := json.Marshal(d.Config)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(body)).To(ContainSubstring(`"memory_mb":"auto"`))
			Expect(string(body)).To(ContainSubstring(`"healthy_monitoring_interval":"30s"`))
			// What the launcher writes, the executor loads.
			path := filepath.Join(GinkgoT().TempDir(), "executor.json")
			Expect(os.WriteFile(path, body, 0o644)).To(Succeed())
			_, err = executorconfig.Load(path)
			Expect(err).NotTo(HaveOccurred())
		}
	})

	It("with etcd TLS, serves etcd over https and gives every etcd client a certificate", func() {
		opts.ETCDTLS = true
		p := plan()
		Expect(p.ETCDEndpoints).To(Equal([]string{"https://127.0.0.1:2379"}))
		Expect(p.Certs.ETCDServerCert).NotTo(BeEmpty())
		Expect(p.Validate()).To(Succeed())
		holders := 0
		for _, d := range p.Daemons {
			body, err := json.Marshal(d.Config)
			Expect(err).NotTo(HaveOccurred())
			var m map[string]any
			Expect(json.Unmarshal(body, &m)).To(Succeed())
			block, ok := m["etcd"].(map[string]any)
			if !ok {
				continue
			}
			holders++
			Expect(block["endpoints"]).To(Equal([]any{"https://127.0.0.1:2379"}), d.Name)
			Expect(block["ca_file"]).To(Equal(p.Certs.CAFile), d.Name)
			Expect(block["cert_file"]).NotTo(BeEmpty(), d.Name)
			Expect(block["key_file"]).NotTo(BeEmpty(), d.Name)
		}
		// bbs, auctioneer, converger, nsync, tps, each cell's rep and the
		// route-emitter.
		Expect(holders).To(Equal(6 + opts.Cells))

		opts.ETCDEndpoints = []string{"https://10.0.0.5:2379"}
		_, err := local.NewPlan(opts)
		Expect(err).To(MatchError(ContainSubstring("etcd TLS is for the embedded etcd")))
	})

	It("embeds etcd unless endpoints are given", func() {
		p := plan()
		Expect(p.EmbeddedETCD).To(BeTrue())
		Expect(p.ETCDEndpoints).To(Equal([]string{"http://127.0.0.1:2379"}))

		opts.ETCDEndpoints = []string{"http://10.0.0.5:2379", "http://10.0.0.6:2379"}
		p = plan()
		Expect(p.EmbeddedETCD).To(BeFalse())
		Expect(p.Ports()).NotTo(HaveKey(2379))
		for _, d := range p.Daemons {
			if cfg, ok := d.Config.(repconfig.Config); ok {
				Expect(cfg.ETCD.Endpoints).To(Equal(opts.ETCDEndpoints))
			}
		}
		Expect(p.Validate()).To(Succeed())
	})

	It("refuses bad options, saying what is wrong", func() {
		for _, tc := range []struct {
			change func(*local.Options)
			says   string
		}{
			{func(o *local.Options) { o.Cells = 0 }, "cells must be between 1 and 8"},
			{func(o *local.Options) { o.Cells = 9 }, "cells must be between 1 and 8"},
			{func(o *local.Options) { o.StateDir = "state" }, "must be an absolute path"},
			{func(o *local.Options) { o.ETCDEndpoints = []string{"10.0.0.5:2379"} }, "must be a URL"},
			{func(o *local.Options) { o.StackRootFS = "cflinuxfs" }, `the stack rootfs "cflinuxfs" must be an absolute path`},
			{func(o *local.Options) { o.Stacks = []string{"cflinuxfs3"} }, `stack "cflinuxfs3" is already offered`},
			{func(o *local.Options) { o.Stacks = []string{"a/b"} }, "want a name such as cflinuxfs5"},
			{func(o *local.Options) { o.Stacks = []string{"x:rel"} }, `the rootfs "rel" must be an absolute path`},
		} {
			o := opts
			tc.change(&o)
			_, err := local.NewPlan(o)
			Expect(err).To(MatchError(ContainSubstring(tc.says)))
		}
	})

	It("adds the stacks a flag names, on the stack rootfs or their own", func() {
		opts.Stacks = []string{"cflinuxfs5", "mystack:/srv/mystack"}
		p := plan()
		Expect(p.StackNames()).To(Equal([]string{"cflinuxfs2", "cflinuxfs3", "cflinuxfs4", "cflinuxfs5", "mystack"}))
		Expect(p.Summary()).To(MatchRegexp(`stacks +cflinuxfs2, cflinuxfs3, cflinuxfs4, cflinuxfs5 +on /var/lib/diego/rootfs/cflinuxfs `))
		Expect(p.Summary()).To(MatchRegexp(`stacks +mystack +on /srv/mystack`))
		Expect(p.Validate()).To(Succeed())
		for _, d := range p.Daemons {
			switch cfg := d.Config.(type) {
			case gardenconfig.Config:
				Expect(cfg.RootFSMap).To(HaveKeyWithValue("preloaded:cflinuxfs5", opts.StackRootFS))
				Expect(cfg.RootFSMap).To(HaveKeyWithValue("preloaded:mystack", "/srv/mystack"))
			case repconfig.Config:
				Expect(cfg.PreloadedRootFS).To(ContainElements("cflinuxfs5:"+opts.StackRootFS, "mystack:/srv/mystack"))
				Expect(cfg.PreloadedRootFS).To(HaveLen(5))
			}
		}
	})

	It("prints every endpoint and the CLI's settings", func() {
		p := plan()
		summary := p.Summary()
		for _, want := range []string{"http://127.0.0.1:8887", "https://127.0.0.1:8889", "http://127.0.0.1:9016",
			"http://127.0.0.1:5678/v1/metrics", "http://127.0.0.1:2379", "nats://127.0.0.1:4222",
			"garden http://127.0.0.1:7778", "executor http://127.0.0.1:1701", "rep http://127.0.0.1:1801",
			"export DIEGO_RECEPTOR=http://127.0.0.1:8887", "bin/diego create-task deploy/examples/task.json",
			"cell_z1-1", "cflinuxfs2, cflinuxfs3, cflinuxfs4", "/var/lib/diego/rootfs/cflinuxfs",
			"bin/diego create-task deploy/examples/stack-task.json", "deny 0.0.0.0/0"} {
			Expect(summary).To(ContainSubstring(want))
		}
		env := p.Env()
		Expect(env).To(ContainSubstring("export DIEGO_RECEPTOR=http://127.0.0.1:8887\n"))
		Expect(env).To(ContainSubstring("export BBS_CLIENT_CERT_FILE=/var/lib/diego/local/certs/cli.crt\n"))
		Expect(strings.Count(env, "export ")).To(Equal(9))
	})
})
