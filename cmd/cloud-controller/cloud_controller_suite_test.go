package main_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

func TestCloudController(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Cloud Controller Binary Suite")
}

var ccBin string

var _ = SynchronizedBeforeSuite(func() []byte {
	p, err := gexec.Build("diego/cmd/cloud-controller")
	Expect(err).NotTo(HaveOccurred())
	return []byte(p)
}, func(b []byte) { ccBin = string(b) })

var _ = SynchronizedAfterSuite(func() {}, func() { gexec.CleanupBuildArtifacts() })
