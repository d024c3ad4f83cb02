package main_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

func TestMetron(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Metron Binary Suite")
}

var binary string

var _ = SynchronizedBeforeSuite(func() []byte {
	path, err := gexec.Build("diego/cmd/metron")
	Expect(err).NotTo(HaveOccurred())
	return []byte(path)
}, func(b []byte) { binary = string(b) })

var _ = SynchronizedAfterSuite(func() {}, func() { gexec.CleanupBuildArtifacts() })
