package local_test

import (
	executorconfig "diego/executor/config"
	gardenconfig "diego/garden/config"
	metronconfig "diego/metron/agent/config"
	dopplerconfig "diego/metron/doppler/config"
	repconfig "diego/rep/config"

	"diego/deploy/local"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("the cluster's logs and metrics", func() {
	It("runs one doppler, a metron for the brain on 3457 and one per cell, each cell's daemons sending to their own", func() {
		p, err := local.NewPlan(local.Options{StateDir: "/var/lib/diego/local", BinDir: "/bin", RootFS: "/rootfs",
			StackRootFS: "/stack", Cells: 3})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Validate()).To(Succeed())
		var doppler dopplerconfig.Config
		metrons := map[int]metronconfig.Config{}
		for _, d := range p.Daemons {
			switch cfg := d.Config.(type) {
			case dopplerconfig.Config:
				doppler = cfg
			case metronconfig.Config:
				Expect(metrons).NotTo(HaveKey(d.Cell))
				metrons[d.Cell] = cfg
			}
		}
		Expect(doppler.ListenAddr).To(Equal("127.0.0.1:8084"))
		Expect(metrons).To(HaveLen(4))
		Expect(metrons[0].DropsondePort).To(Equal(3457))
		for cell, m := range metrons {
			Expect(m.DopplerAddress).To(Equal(doppler.IncomingUDPAddr))
			Expect(m.SharedSecret).To(Equal(doppler.SharedSecret))
			if cell > 0 {
				Expect(m.DropsondePort).To(Equal(local.CellDropsondePort(cell)))
				Expect(m.Job).To(Equal("cell"))
			}
		}
		for _, d := range p.Daemons {
			if d.Cell == 0 {
				continue
			}
			want := metrons[d.Cell].DropsondePort
			switch cfg := d.Config.(type) {
			case gardenconfig.Config:
				Expect(cfg.DropsondePort).To(Equal(want), d.Name)
			case executorconfig.Config:
				Expect(cfg.DropsondePort).To(Equal(want), d.Name)
			case repconfig.Config:
				Expect(cfg.DropsondePort).To(Equal(want), d.Name)
			}
		}
	})
})
