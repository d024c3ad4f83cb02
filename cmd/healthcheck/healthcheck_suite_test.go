package main_test

import (
	"net"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	check "diego/ccbridge/lifecycle/healthcheck"
)

func TestHealthcheck(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Healthcheck Binary Suite")
}

var (
	healthcheckPath string
	// machineIP is the address the binary dials on this machine, or nil
	// when the machine has none (the specs that need it are skipped).
	machineIP net.IP
)

var _ = SynchronizedBeforeSuite(func() []byte {
	// The binary runs inside containers whose rootfs has no dynamic loader.
	path, err := gexec.BuildWithEnvironment("diego/cmd/healthcheck", []string{"CGO_ENABLED=0"})
	Expect(err).NotTo(HaveOccurred())
	return []byte(path)
}, func(path []byte) {
	healthcheckPath = string(path)
	machineIP, _ = check.Discover(check.InterfaceAddrs)()
})

var _ = SynchronizedAfterSuite(func() {}, func() {
	gexec.CleanupBuildArtifacts()
})
