package local

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("daemon config files", func() {
	It("are owner-only, also when an older launcher left them world-readable", func() {
		path := filepath.Join(GinkgoT().TempDir(), "cloud-controller.json")
		Expect(os.WriteFile(path, []byte("{}"), 0o644)).To(Succeed())

		Expect(writeJSON(path, map[string]string{"admin_password": "secret"})).To(Succeed())

		info, err := os.Stat(path)
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Mode().Perm()).To(Equal(os.FileMode(0o600)))
		Expect(os.ReadFile(path)).To(ContainSubstring(`"admin_password": "secret"`))
	})
})
