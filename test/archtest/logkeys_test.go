package archtest_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/test/archtest"
)

var _ = Describe("The log keys", func() {
	It("are docs/logging.md's everywhere in this repository", func() {
		root, err := filepath.Abs("../..")
		Expect(err).NotTo(HaveOccurred())
		bad, err := archtest.CheckLogKeys(root)
		Expect(err).NotTo(HaveOccurred())
		Expect(bad).To(BeEmpty())
	})

	// Proof that the check fails on a wrong key, in every call shape.
	DescribeTable("catch a wrong key",
		func(call, key string) {
			bad := checkLogScratch(call)
			Expect(bad).To(HaveLen(1))
			Expect(bad[0].Key).To(Equal(key))
		},
		Entry("a dashed key in Info", `logger.Info("auction-failed", "task-guid", guid)`, "task-guid"),
		Entry("a camel key after an attr in Error", `logger.Error("failed", slog.Int("n", 1), "processGuid", guid)`, "processGuid"),
		Entry("a dashed key in a session", `logging.Session(logger, "presence", "cell-id", guid)`, "cell-id"),
		Entry("a dashed key in With", `logger.With("instance-guid", guid)`, "instance-guid"),
		Entry("a dashed key in InfoContext", `logger.InfoContext(ctx, "x", "request-id", guid)`, "request-id"),
		Entry("a dashed key in an attr", `logger.Info("x", slog.String("container-guid", guid))`, "container-guid"),
		Entry("a synonym", `logger.Info("x", "cellid", guid)`, "cellid"),
		Entry("a garden process id under process_guid's look-alike", `l.With("process_id", p.ID(), "stream_id", id)`, "process_id"),
		Entry("a garden process id under a bare process", `logger.Info("run-step.killing", "process", p.ID())`, "process"),
	)

	It("leaves canonical keys, values and messages alone", func() {
		Expect(checkLogScratch(`logger.Info("lrp-added-to-cell", "process_guid", guid, "index", 1, "cell_id", "cell-z1-0")`)).To(BeEmpty())
		Expect(checkLogScratch(`appLog.Error(c, "Failed to create container")`)).To(BeEmpty())
		Expect(checkLogScratch(`l.With("garden_process_id", p.ID(), "stream_id", id)`)).To(BeEmpty())
	})
})

// checkLogScratch writes one Go file holding call and checks it.
func checkLogScratch(call string) []archtest.LogKey {
	GinkgoHelper()
	root := GinkgoT().TempDir()
	src := "package x\n\nfunc f() {\n\t" + call + "\n}\n"
	Expect(os.WriteFile(filepath.Join(root, "x.go"), []byte(src), 0o644)).To(Succeed())
	bad, err := archtest.CheckLogKeys(root)
	Expect(err).NotTo(HaveOccurred())
	return bad
}
