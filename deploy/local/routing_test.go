package local_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/local"
	emitterconfig "diego/routeemitter/config"
	routerconfig "diego/routeemitter/router/config"
)

var _ = Describe("The local cluster's routing", func() {
	plan := func() *local.Plan {
		GinkgoHelper()
		p, err := local.NewPlan(local.Options{StateDir: "/var/lib/diego/local", BinDir: "/opt/diego/bin",
			RootFS: "/var/lib/diego/rootfs/busybox", StackRootFS: "/var/lib/diego/rootfs/cflinuxfs", Cells: 1})
		Expect(err).NotTo(HaveOccurred())
		return p
	}

	It("runs the router on 8081 and the route-emitter against the receptor and the embedded NATS", func() {
		p := plan()
		var kinds []local.Kind
		for _, d := range p.Daemons {
			switch cfg := d.Config.(type) {
			case routerconfig.Config:
				Expect(cfg.ListenAddr).To(Equal("127.0.0.1:8081"))
				Expect(cfg.StatusAddress).To(Equal("127.0.0.1:8082"))
				Expect(cfg.NATSAddresses).To(Equal("127.0.0.1:4222"))
				kinds = append(kinds, d.Kind)
			case emitterconfig.Config:
				Expect(cfg.ReceptorURL).To(Equal("http://127.0.0.1:8887"))
				Expect(cfg.NATSAddresses).To(Equal("127.0.0.1:4222"))
				Expect(cfg.ETCD.Endpoints).To(Equal([]string{"http://127.0.0.1:2379"}))
				kinds = append(kinds, d.Kind)
			}
		}
		Expect(kinds).To(Equal([]local.Kind{local.KindRouting, local.KindRouting}))
		Expect(p.Ports()).To(HaveKeyWithValue(8081, "router"))
	})

	It("gives the route-emitter its own etcd client certificate when etcd serves TLS", func() {
		p, err := local.NewPlan(local.Options{StateDir: "/s", BinDir: "/b", RootFS: "/r", StackRootFS: "/k", Cells: 1, ETCDTLS: true})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Validate()).To(Succeed())
		for _, d := range p.Daemons {
			if cfg, ok := d.Config.(emitterconfig.Config); ok {
				Expect(cfg.ETCD.CertFile).To(Equal("/s/certs/route-emitter.crt"))
			}
		}
	})

	It("prints the router's address, the curl of the quick start and `diego routes`", func() {
		p := plan()
		Expect(p.Summary()).To(And(ContainSubstring("router  "), ContainSubstring("http://127.0.0.1:8081"),
			ContainSubstring("curl http://hello-lrp.apps.localhost:8081/"), ContainSubstring("bin/diego routes")))
		Expect(p.Env()).To(ContainSubstring("export DIEGO_ROUTER_STATUS=http://admin:admin@127.0.0.1:8082\n"))
	})
})
