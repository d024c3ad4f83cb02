package archtest_test

import (
	"os"
	"path/filepath"
	"strings"

	"diego/test/archtest"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("The import rules", func() {
	It("hold for this repository", func() {
		root, err := filepath.Abs("../..")
		Expect(err).NotTo(HaveOccurred())
		pkgs, err := archtest.Load(root, "diego")
		Expect(err).NotTo(HaveOccurred())
		Expect(len(pkgs)).To(BeNumerically(">", 5), "the loader found the repository's packages")
		Expect(archtest.Check("diego", pkgs)).To(BeEmpty())
	})

	// Each entry writes one package with one import into a scratch tree and
	// expects exactly one violation: proof that a forbidden import fails.
	DescribeTable("catch a forbidden import",
		func(pkg, imp string) {
			v := checkScratch(map[string]string{pkg: imp})
			Expect(v).To(HaveLen(1))
			Expect(v[0].Import).To(Equal(imp))
		},
		Entry("models importing a component", "models", "diego/bbs"),
		Entry("models importing the runtime", "models", "diego/deploy/logging"),
		Entry("a client importing its server", "bbs/client", "diego/bbs/handlers"),
		Entry("a client importing another component", "rep/client", "diego/bbs/client"),
		Entry("a component importing another's internals", "rep/auctioncell", "diego/executor/depot"),
		Entry("the etcd client outside storage and locks", "bbs/handlers", "go.etcd.io/etcd/client/v3"),
		Entry("the embedded etcd in a daemon", "bbs/db/etcddb", "go.etcd.io/etcd/server/v3/embed"),
		Entry("the embedded NATS server in a daemon", "routeemitter/emitter", "github.com/nats-io/nats-server/v2/server"),
		Entry("production code importing test helpers", "bbs/db", "diego/test/etcdrunner"),
		Entry("a daemon's main importing another's storage", "cmd/auctioneer", "diego/bbs/db/etcddb"),
		Entry("a daemon's main importing another's internals", "cmd/rep", "diego/executor/depot"),
		Entry("a daemon's main importing the launcher", "cmd/receptor", "diego/deploy/local"),
		Entry("a daemon's main importing the config builder", "cmd/rep", "diego/deploy/cluster"),
		Entry("a component importing the config builder", "rep/sync", "diego/deploy/cluster"),
	)

	DescribeTable("allow what DESIGN.md allows",
		func(pkg, imp string) {
			Expect(checkScratch(map[string]string{pkg: imp})).To(BeEmpty())
		},
		Entry("a daemon using another's client", "rep/auctioncell", "diego/bbs/client"),
		Entry("a daemon using the lock", "auctioneer/cmd", "diego/bbs/lock"),
		Entry("a daemon using the metron emitter", "executor/depot", "diego/metron/emitter"),
		Entry("a client using models", "bbs/client", "diego/models"),
		Entry("a client using its route table", "bbs/client", "diego/bbs"),
		Entry("storage using the etcd client", "bbs/db/etcddb", "go.etcd.io/etcd/client/v3"),
		Entry("the launcher embedding etcd", "deploy/local", "go.etcd.io/etcd/server/v3/embed"),
		Entry("test helpers embedding NATS", "test/natsrunner", "github.com/nats-io/nats-server/v2/server"),
		Entry("the launcher's certificates", "deploy/local", "diego/test/certauthority"),
		Entry("a daemon's main wiring its own component", "cmd/bbs", "diego/bbs/db/etcddb"),
		Entry("a daemon's main using the lock", "cmd/auctioneer", "diego/bbs/lock"),
		Entry("a daemon's main using the kit", "cmd/converger", "diego/deploy/daemon"),
		Entry("a daemon's main using another's client", "cmd/rep", "diego/executor/client"),
		Entry("a daemon's main using another's route table and types", "cmd/executor", "diego/garden"),
		Entry("the metrics-server's main", "cmd/metrics-server", "diego/bbs/metricsserver"),
		Entry("the CLI's main", "cmd/diego", "diego/receptor/cli"),
		Entry("the launcher's main", "cmd/diego-local", "diego/deploy/local"),
		Entry("the route-emitter's main", "cmd/route-emitter", "diego/routeemitter/watcher"),
		Entry("the router's main", "cmd/router", "diego/routeemitter/router"),
		Entry("the launcher building configs", "deploy/local", "diego/deploy/cluster"),
		Entry("test helpers building configs", "test/daemontest", "diego/deploy/cluster"),
	)

	It("refuses packages named util, common or helpers outside test/", func() {
		Expect(checkScratch(map[string]string{"bbs/util": "fmt"})).To(HaveLen(1))
		Expect(checkScratch(map[string]string{"test/helpers": "fmt"})).To(BeEmpty())
	})

	It("allows only one NATS-connecting package per component", func() {
		Expect(checkScratch(map[string]string{
			"routeemitter/emitter": "github.com/nats-io/nats.go",
			"routeemitter/watcher": "github.com/nats-io/nats.go",
		})).To(HaveLen(1))
	})

	It("counts the router as a daemon of its own inside routeemitter", func() {
		Expect(checkScratch(map[string]string{
			"routeemitter/emitter": "github.com/nats-io/nats.go",
			"routeemitter/router":  "github.com/nats-io/nats.go",
		})).To(BeEmpty())
		Expect(checkScratch(map[string]string{
			"routeemitter/router":      "github.com/nats-io/nats.go",
			"routeemitter/router/more": "github.com/nats-io/nats.go",
		})).To(HaveLen(1))
	})
})

// checkScratch writes one package per entry (directory → its one import)
// into a scratch module tree and returns what the rules find there.
func checkScratch(packages map[string]string) []archtest.Violation {
	GinkgoHelper()
	root := GinkgoT().TempDir()
	for pkg, imp := range packages {
		dir := filepath.Join(root, filepath.FromSlash(pkg))
		Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
		name := filepath.Base(dir)
		if strings.HasPrefix(pkg, "cmd/") {
			name = "main"
		}
		src := "package " + name + "\n\nimport _ \"" + imp + "\"\n"
		Expect(os.WriteFile(filepath.Join(dir, "x.go"), []byte(src), 0o644)).To(Succeed())
	}
	pkgs, err := archtest.Load(root, "diego")
	Expect(err).NotTo(HaveOccurred())
	return archtest.Check("diego", pkgs)
}
