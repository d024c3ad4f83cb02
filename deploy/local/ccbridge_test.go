package local_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	fileserverconfig "diego/ccbridge/fileserver/config"
	stagerconfig "diego/ccbridge/stager/config"
	"diego/deploy/local"
)

var _ = Describe("the staging daemons of the local cluster", func() {
	It("runs the file-server on bin/static and the stager against the receptor, the file-server and CC", func() {
		p, err := local.NewPlan(local.Options{StateDir: "/var/lib/diego/local", BinDir: "/opt/diego/bin",
			RootFS: "/r/busybox", StackRootFS: "/r/stack", Cells: 1})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Validate()).To(Succeed())
		var fs fileserverconfig.Config
		var st stagerconfig.Config
		for _, d := range p.Daemons {
			switch cfg := d.Config.(type) {
			case fileserverconfig.Config:
				fs = cfg
			case stagerconfig.Config:
				st = cfg
			}
		}
		Expect(fs.ListenAddr).To(Equal("127.0.0.1:8080"))
		Expect(fs.StaticDirectory).To(Equal("/opt/diego/bin/static"))
		Expect(st.ListenAddr).To(Equal("127.0.0.1:8888"))
		Expect(st.StagingTaskCallbackURL).To(Equal("http://127.0.0.1:8888"))
		Expect(st.ReceptorAddress).To(Equal(p.ReceptorURL))
		Expect(st.FileServerURL).To(Equal("http://127.0.0.1:8080"))
		Expect(st.CCUploaderURL).To(Equal("http://127.0.0.1:8080"))
		Expect(st.CCBaseURL).To(Equal("http://127.0.0.1:9022"))
		Expect(st.Lifecycles).To(ConsistOf(
			"buildpack/cflinuxfs2:buildpack_app_lifecycle/buildpack_app_lifecycle.tgz",
			"buildpack/cflinuxfs3:buildpack_app_lifecycle/buildpack_app_lifecycle.tgz",
			"buildpack/cflinuxfs4:buildpack_app_lifecycle/buildpack_app_lifecycle.tgz"))
	})
})
