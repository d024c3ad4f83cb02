package tarball_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestTarball(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Tarball Suite")
}
