// Package multivm_test proves diego's high availability in the multi-VM
// cluster (deploy/multivm): a whole VM of each group is stopped in turn
// under a steady workload of tasks and LRPs. It runs real gardens, as
// root, under the shared garden lock: `make test-multivm`.
package multivm_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestMultivm(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Multi-VM HA Suite")
}

// binDir holds every daemon, built once (or MULTIVM_BIN_DIR's, prebuilt).
var binDir string

var _ = SynchronizedBeforeSuite(func() []byte {
	Expect(os.Geteuid()).To(Equal(0), "the multi-VM cluster makes network namespaces and runs gardens: run as root")
	dir := os.Getenv("MULTIVM_BIN_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "diego-multivm-bin")
		cmd := exec.Command("go", "build", "-o", dir+"/", "diego/cmd/...")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
		Expect(cmd.Run()).To(Succeed())
	}
	return []byte(dir)
}, func(dir []byte) {
	binDir = string(dir)
})
