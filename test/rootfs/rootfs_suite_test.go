package rootfs_test

import (
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestRootfs(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Rootfs Suite")
}

var _ = BeforeSuite(func() {
	if os.Geteuid() != 0 {
		Skip("building the rootfs needs root (chown, chroot, apt)")
	}
})
