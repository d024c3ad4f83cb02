package archtest_test

import (
	"os"
	"path/filepath"

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
			root := GinkgoT().TempDir()
			dir := filepath.Join(root, filepath.FromSlash(pkg))
			Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
			src := "package " + filepath.Base(dir) + "\n\nimport _ \"" + imp + "\"\n"
			Expect(os.WriteFile(filepath.Join(dir, "x.go"), []byte(src), 0o644)).To(Succeed())

			pkgs, err := archtest.Load(root, "diego")
			Expect(err).NotTo(HaveOccurred())
			v := archtest.Check("diego", pkgs)
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
	)

	DescribeTable("allow what DESIGN.md allows",
		func(pkg, imp string) {
			root := GinkgoT().TempDir()
			dir := filepath.Join(root, filepath.FromSlash(pkg))
			Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
			src := "package " + filepath.Base(dir) + "\n\nimport _ \"" + imp + "\"\n"
			Expect(os.WriteFile(filepath.Join(dir, "x.go"), []byte(src), 0o644)).To(Succeed())
			pkgs, err := archtest.Load(root, "diego")
			Expect(err).NotTo(HaveOccurred())
			Expect(archtest.Check("diego", pkgs)).To(BeEmpty())
		},
		Entry("a daemon using another's client", "rep/auctioncell", "diego/bbs/client"),
		Entry("a daemon using the lock", "auctioneer/cmd", "diego/bbs/lock"),
		Entry("a daemon using the metron emitter", "executor/depot", "diego/metron/emitter"),
		Entry("a client using models", "bbs/client", "diego/models"),
		Entry("a client using its route table", "bbs/client", "diego/bbs"),
		Entry("storage using the etcd client", "bbs/db/etcddb", "go.etcd.io/etcd/client/v3"),
		Entry("the launcher embedding etcd", "deploy/local", "go.etcd.io/etcd/server/v3/embed"),
		Entry("test helpers embedding NATS", "test/natsrunner", "github.com/nats-io/nats-server/v2/server"),
	)

	It("refuses packages named util, common or helpers outside test/", func() {
		root := GinkgoT().TempDir()
		Expect(os.MkdirAll(filepath.Join(root, "bbs", "util"), 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(root, "bbs", "util", "x.go"), []byte("package util\n"), 0o644)).To(Succeed())
		pkgs, err := archtest.Load(root, "diego")
		Expect(err).NotTo(HaveOccurred())
		Expect(archtest.Check("diego", pkgs)).To(HaveLen(1))
	})

	It("allows only one NATS-connecting package per component", func() {
		root := GinkgoT().TempDir()
		for _, p := range []string{"routeemitter/emitter", "routeemitter/watcher"} {
			Expect(os.MkdirAll(filepath.Join(root, p), 0o755)).To(Succeed())
			src := "package " + filepath.Base(p) + "\n\nimport _ \"github.com/nats-io/nats.go\"\n"
			Expect(os.WriteFile(filepath.Join(root, p, "x.go"), []byte(src), 0o644)).To(Succeed())
		}
		pkgs, err := archtest.Load(root, "diego")
		Expect(err).NotTo(HaveOccurred())
		Expect(archtest.Check("diego", pkgs)).To(HaveLen(1))
	})
})
