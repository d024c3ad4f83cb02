package main_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

func TestRep(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Rep Binary Suite")
}

var repPath string

var _ = SynchronizedBeforeSuite(func() []byte {
	path, err := gexec.Build("diego/cmd/rep")
	Expect(err).NotTo(HaveOccurred())
	return []byte(path)
}, func(path []byte) {
	repPath = string(path)
})

var _ = SynchronizedAfterSuite(func() {}, func() {
	gexec.CleanupBuildArtifacts()
})
