package cluster_test

import (
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	auctioneerconfig "diego/auctioneer/config"
	bbsconfig "diego/bbs/config"
	"diego/deploy/cluster"
	"diego/deploy/config"
	executorconfig "diego/executor/config"
	gardenconfig "diego/garden/config"
	repconfig "diego/rep/config"
)

var _ = Describe("Maker", func() {
	var (
		m    cluster.Maker
		cell cluster.Cell
	)

	BeforeEach(func() {
		m = cluster.Maker{
			ETCD:   config.ETCD{Endpoints: []string{"http://127.0.0.1:4001"}},
			BBSURL: "http://127.0.0.1:9889", LogLevel: "debug",
			RootFS: "/rootfs/busybox", Stacks: map[string]string{"cflinuxfs4": "/rootfs/stack", "cflinuxfs3": "/rootfs/stack"},
		}
		cell = cluster.Cell{ID: "cell-1", Zone: "z2", CertName: "rep-1", GardenAddr: "127.0.0.1:7001",
			ExecutorAddr: "127.0.0.1:7002", RepAddr: "127.0.0.1:7003", Dir: "/state/cell-1", Tag: "q",
			NetworkPool: "10.9.0.0/22", PortPoolStart: 50000, PortPoolSize: 100}
	})

	It("makes configs that pass each daemon's own validation", func() {
		for name, cfg := range map[string]interface{ Validate() error }{
			"bbs": m.BBS("127.0.0.1:9889", "127.0.0.1:9890"), "auctioneer": m.Auctioneer("a", "127.0.0.1:9016"),
			"converger": m.Converger("c"), "metrics-server": m.MetricsServer("127.0.0.1:5678"),
			"receptor": m.Receptor("127.0.0.1:8887"), "garden": m.Garden(cell), "executor": m.Executor(cell),
			"rep": m.Rep(cell),
		} {
			Expect(cfg.Validate()).To(Succeed(), name)
		}
	})

	It("starts from the daemon's defaults and gives it the cluster's addresses", func() {
		a := m.Auctioneer("auctioneer-1", "127.0.0.1:9016")
		def := auctioneerconfig.DefaultConfig()
		Expect(a.LockTTL).To(Equal(def.LockTTL))
		Expect(a.ID).To(Equal("auctioneer-1"))
		Expect(a.AdvertiseAddress).To(Equal("http://127.0.0.1:9016"))
		Expect(a.BBSAddress).To(Equal("http://127.0.0.1:9889"))
		Expect(a.ETCD.Endpoints).To(Equal([]string{"http://127.0.0.1:4001"}))
		Expect(a.LogLevel).To(Equal("debug"))
	})

	It("lays a cell's garden, executor and rep out from the cell", func() {
		g := m.Garden(cell)
		Expect(g.ListenAddr).To(Equal("127.0.0.1:7001"))
		Expect(g.DepotDir).To(Equal("/state/cell-1/depot"))
		Expect(g.Tag).To(Equal("q"))
		Expect(g.PortPoolStart).To(BeEquivalentTo(50000))
		Expect(g.DefaultRootFS).To(Equal("/rootfs/busybox"))
		Expect(g.RootFSMap).To(HaveKeyWithValue("preloaded:cflinuxfs4", "/rootfs/stack"))

		e := m.Executor(cell)
		Expect(e.GardenAddr).To(Equal("127.0.0.1:7001"))
		Expect(e.TempDir).To(Equal("/state/cell-1/executor/tmp"))
		Expect(e.CachePath).To(Equal("/state/cell-1/executor/cache"))
		Expect(e.ContainerOwnerName).To(Equal("executor-cell-1"))

		r := m.Rep(cell)
		Expect(r.ExecutorAddress).To(Equal("http://127.0.0.1:7002"))
		Expect(r.RepAddress).To(Equal("http://127.0.0.1:7003"))
		Expect(r.Zone).To(Equal("z2"))
		Expect(r.PreloadedRootFS).To(Equal([]string{"cflinuxfs3:/rootfs/stack", "cflinuxfs4:/rootfs/stack"}))
	})

	It("applies the modifiers last, in order", func() {
		b := m.BBS("127.0.0.1:9889", "127.0.0.1:9890",
			func(c *bbsconfig.Config) { c.MaxTaskRetries = 7; c.LogLevel = "error" },
			func(c *bbsconfig.Config) { c.MaxTaskRetries++ })
		Expect(b.MaxTaskRetries).To(BeEquivalentTo(8))
		Expect(b.LogLevel).To(Equal("error"))
		e := m.Executor(cell, func(c *executorconfig.Config) { c.GracefulShutdownInterval = config.Duration(time.Second) })
		Expect(e.GracefulShutdownInterval.Duration()).To(Equal(time.Second))
	})

	It("keeps a daemon's defaults where the cluster says nothing", func() {
		var empty cluster.Maker
		r := empty.Rep(cluster.Cell{ID: "c", RepAddr: "127.0.0.1:1", ExecutorAddr: "127.0.0.1:2"})
		def := repconfig.DefaultConfig()
		Expect(r.ETCD).To(Equal(def.ETCD))
		Expect(r.BBSAddress).To(Equal(def.BBSAddress))
		Expect(r.LogLevel).To(Equal(def.LogLevel))
		g := empty.Garden(cluster.Cell{GardenAddr: "127.0.0.1:3", Dir: "/d"})
		gdef := gardenconfig.DefaultConfig()
		Expect(g.NetworkPool).To(Equal(gdef.NetworkPool))
		Expect(g.DefaultRootFS).To(Equal(gdef.DefaultRootFS))
	})

	Describe("with certificates", func() {
		BeforeEach(func() {
			m.BBSURL = "https://127.0.0.1:9889"
			m.Certs = cluster.Certs{CAFile: "/c/ca.crt", BBSServerCert: "/c/bbs.crt", BBSServerKey: "/c/bbs.key",
				Clients: map[string][2]string{
					cluster.AuctioneerClient: {"/c/auctioneer.crt", "/c/auctioneer.key"},
					cluster.ETCDClient:       {"/c/bbs-etcd.crt", "/c/bbs-etcd.key"},
					"rep-1":                  {"/c/rep-1.crt", "/c/rep-1.key"},
				}}
		})

		It("serves the BBS with its server certificate and gives each client its own", func() {
			b := m.BBS("127.0.0.1:9889", "127.0.0.1:9890")
			Expect([]string{b.CAFile, b.CertFile, b.KeyFile}).To(Equal([]string{"/c/ca.crt", "/c/bbs.crt", "/c/bbs.key"}))
			a := m.Auctioneer("a", "127.0.0.1:9016")
			Expect([]string{a.BBSCACertFile, a.BBSClientCertFile, a.BBSClientKeyFile}).To(
				Equal([]string{"/c/ca.crt", "/c/auctioneer.crt", "/c/auctioneer.key"}))
			r := m.Rep(cell)
			Expect(r.BBSClientCertFile).To(Equal("/c/rep-1.crt"))
			Expect(r.ETCD.TLS()).To(BeFalse(), "etcd without a CA stays plain")
		})

		It("with an etcd CA, presents each daemon's own certificate to etcd", func() {
			m.ETCD = config.ETCD{Endpoints: []string{"https://127.0.0.1:4001"}, CAFile: "/c/ca.crt"}
			Expect(m.BBS("127.0.0.1:9889", "127.0.0.1:9890").ETCD).To(Equal(config.ETCD{
				Endpoints: []string{"https://127.0.0.1:4001"}, CAFile: "/c/ca.crt", CertFile: "/c/bbs-etcd.crt", KeyFile: "/c/bbs-etcd.key"}))
			Expect(m.Rep(cell).ETCD.CertFile).To(Equal("/c/rep-1.crt"))
			Expect(m.Auctioneer("a", "127.0.0.1:9016").Validate()).To(Succeed())
		})
	})

	It("writes the JSON keys each daemon's Load reads", func() {
		body, err := json.Marshal(m.Converger("c"))
		Expect(err).NotTo(HaveOccurred())
		var keys map[string]json.RawMessage
		Expect(json.Unmarshal(body, &keys)).To(Succeed())
		Expect(keys).To(HaveKey("bbs_address"))
		Expect(keys).To(HaveKey("etcd"))
		Expect(keys).To(HaveKey("log_level"))
	})
})
