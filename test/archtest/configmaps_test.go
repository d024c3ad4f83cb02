package archtest_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/cluster"
	"diego/models"
	"diego/receptor"
	"diego/test/archtest"
)

// daemonKeys are every key of every daemon config the builder makes, less
// those that also name a field of an API message (memory_mb, disk_mb, ...):
// a request body in a test is not a config.
func daemonKeys() map[string]bool {
	var m cluster.Maker
	var c cluster.Cell
	keys := archtest.JSONKeys(m.BBS("", ""), m.Auctioneer("", ""), m.Converger(""), m.MetricsServer(""),
		m.Receptor(""), m.Garden(c), m.Executor(c), m.Rep(c))
	for k := range archtest.JSONKeys(receptor.TaskCreateRequest{}, receptor.DesiredLRPCreateRequest{},
		models.TaskDefinition{}, models.DesiredLRP{}) {
		delete(keys, k)
	}
	return keys
}

var _ = Describe("Daemon configs in tests", func() {
	It("are built with deploy/cluster's typed builder, never as map literals", func() {
		root, err := filepath.Abs("../..")
		Expect(err).NotTo(HaveOccurred())
		bad, err := archtest.CheckConfigMaps(root, daemonKeys())
		Expect(err).NotTo(HaveOccurred())
		Expect(bad).To(BeEmpty())
	})

	It("knows the keys of every daemon, nested blocks included", func() {
		keys := daemonKeys()
		for _, k := range []string{"listen_addr", "bbs_address", "etcd", "endpoints", "depot_dir", "garden_addr",
			"preloaded_root_fs", "log_level", "report_interval"} {
			Expect(keys).To(HaveKey(k))
		}
	})

	It("catches a config written as a map literal, and leaves other maps alone", func() {
		root := GinkgoT().TempDir()
		Expect(os.MkdirAll(filepath.Join(root, "cmd", "x"), 0o755)).To(Succeed())
		src := "package x\n\nvar cfg = map[string]any{\"listen_addr\": \"127.0.0.1:1\"}\n" +
			"var body = map[string]interface{}{\"process_guid\": \"p\"}\n"
		Expect(os.WriteFile(filepath.Join(root, "cmd", "x", "x_test.go"), []byte(src), 0o644)).To(Succeed())
		bad, err := archtest.CheckConfigMaps(root, daemonKeys())
		Expect(err).NotTo(HaveOccurred())
		Expect(bad).To(HaveLen(1))
		Expect(bad[0].Key).To(Equal("listen_addr"))
	})
})
