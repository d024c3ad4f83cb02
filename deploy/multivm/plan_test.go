package multivm_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/multivm"
)

// The plan is pure rendering: it starts nothing, so it runs without root.
var _ = Describe("NewPlan", func() {
	var (
		plan  *multivm.Plan
		state string
	)

	BeforeEach(func() {
		state = GinkgoT().TempDir()
		var err error
		plan, err = multivm.NewPlan(multivm.Options{StateDir: state, BinDir: "/opt/bin", ReleaseDir: "../bosh",
			Manifest: "../bosh/manifests/diego.yml", RootFS: "/srv/rootfs", Prefix: "dpt", GardenTag: "q"})
		Expect(err).NotTo(HaveOccurred())
	})

	config := func(vm *multivm.VM, job string) map[string]any {
		for _, d := range vm.Daemons {
			if d.Job == job {
				var cfg map[string]any
				Expect(json.Unmarshal([]byte(d.Files[filepath.Join(vm.Root, "var/vcap/jobs", job, "config", job+".json")]), &cfg)).To(Succeed())
				return cfg
			}
		}
		Fail("no job " + job)
		return nil
	}

	It("has the example manifest's VMs, stores first and cells last", func() {
		var names []string
		for _, vm := range plan.VMs {
			names = append(names, vm.Name())
		}
		Expect(names).To(Equal([]string{"etcd-0", "etcd-1", "etcd-2", "nats-0", "nats-1", "nats-2", "database-0", "database-1",
			"brain-0", "brain-1", "access-0", "access-1", "cell-0", "cell-1", "cell-2"}))
		Expect(plan.VMs[0].Namespace).To(Equal("dpt-etcd-0"))
		Expect(plan.Addresses("database")).To(Equal([]string{"10.244.0.10", "10.244.0.11"}))
	})

	It("moves every /var/vcap path under the VM's root and runs the binaries of BinDir", func() {
		cell := plan.Group("cell")[1]
		Expect(cell.Daemons).To(HaveLen(4))
		rep := cell.Daemons[2]
		Expect(rep.Executable).To(Equal("/opt/bin/rep"))
		Expect(rep.Args).To(Equal([]string{"-config", filepath.Join(cell.Root, "var/vcap/jobs/rep/config/rep.json")}))
		for path, content := range rep.Files {
			Expect(path).To(HavePrefix(cell.Root + "/var/vcap/jobs/rep/"))
			Expect(strings.ReplaceAll(content, cell.Root+"/var/vcap/", "")).NotTo(ContainSubstring("/var/vcap/"))
		}
		Expect(plan.Group("etcd")[0].Daemons[0].Executable).To(Equal("/opt/bin/diego-etcd"))
	})

	It("runs the routing and logging jobs, metron on every VM, and no cc-bridge group", func() {
		jobs := func(vm *multivm.VM) []string {
			var out []string
			for _, d := range vm.Daemons {
				out = append(out, d.Job)
			}
			return out
		}
		for _, vm := range plan.VMs {
			Expect(jobs(vm)).To(ContainElement("metron"), vm.Name())
			Expect(vm.Group).NotTo(Equal("cc-bridge"))
		}
		Expect(jobs(plan.Group("access")[1])).To(Equal([]string{"receptor", "route-emitter", "router", "doppler", "metron"}))
		Expect(config(plan.Group("access")[0], "route-emitter")["log_level"]).To(Equal("info"))
	})

	It("gives each cell's garden its own tag, a unix socket the executor uses, and the rootfs", func() {
		for i, cell := range plan.Group("cell") {
			garden := config(cell, "garden")
			Expect(garden["tag"]).To(Equal("q" + string(rune('0'+i))))
			Expect(garden["listen_network"]).To(Equal("unix"))
			Expect(garden["listen_addr"]).To(Equal(multivm.GardenSocket(cell)))
			Expect(garden["default_rootfs"]).To(Equal("/srv/rootfs"))
			Expect(garden["network_pool"]).To(Equal(multivm.GardenNetworkPool))
			executor := config(cell, "executor")
			Expect(executor["garden_addr"]).To(Equal(multivm.GardenSocket(cell)))
			Expect(config(cell, "rep")["preloaded_root_fs"]).To(Equal([]any{"cflinuxfs4:/srv/rootfs"}))
		}
	})

	It("keeps its generated certificates for the next plan", func() {
		again, err := multivm.NewPlan(plan.Options)
		Expect(err).NotTo(HaveOccurred())
		Expect(again.Vars).To(Equal(plan.Vars))
		Expect(filepath.Join(state, "vars.json")).To(BeAnExistingFile())
	})
})

var _ = Describe("RenderInstance", func() {
	It("renders one instance with a plain VM's paths", func() {
		out := GinkgoT().TempDir()
		jobs, err := multivm.RenderInstance("../bosh", "../bosh/manifests/diego.yml", filepath.Join(out, "vars.json"), "cell", 2, out)
		Expect(err).NotTo(HaveOccurred())
		Expect(jobs).To(Equal([]string{"garden", "executor", "rep", "metron"}), "a plain VM gets every job of its group, the metron agent too")
		data, err := os.ReadFile(filepath.Join(out, "etc/diego/rep/config/rep.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(data)).NotTo(ContainSubstring("/var/vcap"))
		Expect(string(data)).To(ContainSubstring(`"/etc/diego/rep/config/certs/bbs_client.crt"`))
		Expect(string(data)).To(ContainSubstring(`"cell_id": "cell-2"`))

		_, err = multivm.RenderInstance("../bosh", "../bosh/manifests/diego.yml", filepath.Join(out, "vars.json"), "cell", 7, out)
		Expect(err).To(MatchError(ContainSubstring("no instance cell/7")))
	})
})
