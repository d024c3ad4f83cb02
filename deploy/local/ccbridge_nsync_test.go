package local_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	ccconfig "diego/ccbridge/cloudcontroller/config"
	nsyncconfig "diego/ccbridge/nsync/config"
	tpsconfig "diego/ccbridge/tps/config"
	"diego/deploy/local"
)

var _ = Describe("nsync, TPS and the Cloud Controller in the local cluster", func() {
	It("points nsync and TPS at the receptor, the Cloud Controller, the file-server and doppler, with a lifecycle per stack", func() {
		p, err := local.NewPlan(local.Options{StateDir: "/var/lib/diego/local", BinDir: "/opt/diego/bin",
			RootFS: "/opt/rootfs", StackRootFS: "/opt/stack", Cells: 1})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Ports()).To(HaveKeyWithValue(8787, "nsync"))
		Expect(p.Ports()).To(HaveKeyWithValue(1518, "tps"))
		Expect(p.Ports()).To(HaveKeyWithValue(9022, "cloud-controller"))
		found := 0
		for _, d := range p.Daemons {
			switch cfg := d.Config.(type) {
			case nsyncconfig.Config:
				found++
				Expect(cfg.ReceptorURL).To(Equal("http://127.0.0.1:8887"))
				Expect(cfg.CCBaseURL).To(Equal("http://127.0.0.1:9022"))
				Expect(cfg.FileServerURL).To(Equal("http://127.0.0.1:8080"))
				Expect(cfg.Lifecycles).To(ContainElement("buildpack/cflinuxfs3:buildpack_app_lifecycle/buildpack_app_lifecycle.tgz"))
				Expect(cfg.DomainTTL).To(BeNumerically(">=", 2*cfg.CCPollingInterval))
			case tpsconfig.Config:
				found++
				Expect(cfg.ReceptorURL).To(Equal("http://127.0.0.1:8887"))
				Expect(cfg.DopplerURL).To(Equal("http://127.0.0.1:8084"))
				Expect(cfg.CCBaseURL).To(Equal("http://127.0.0.1:9022"))
			case ccconfig.Config:
				found++
				Expect(cfg.ListenAddr).To(Equal("127.0.0.1:9022"))
				Expect(cfg.StateDir).To(Equal("/var/lib/diego/local/cloud-controller"))
				Expect(cfg.StagerURL).To(Equal("http://127.0.0.1:8888"))
				Expect(cfg.NsyncURL).To(Equal("http://127.0.0.1:8787"))
				Expect(cfg.TPSURL).To(Equal("http://127.0.0.1:1518"))
				Expect(cfg.FileServerStaticDir).To(Equal("/opt/diego/bin/static"))
				Expect(cfg.Stacks[0].Name).To(Equal("cflinuxfs3"))
				Expect(cfg.InternalAPIUser).To(Equal("internal_user"))
				Expect(cfg.AdminPassword).To(MatchRegexp(`^[0-9a-f]{16}$`), "generated")
				Expect(p.Summary()).To(ContainSubstring("cf api http://127.0.0.1:9022 && cf login -u admin -p " + cfg.AdminPassword))
			}
		}
		Expect(found).To(Equal(3))

	})
})
