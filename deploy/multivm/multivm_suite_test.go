package multivm_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestMultivm(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Multivm Suite")
}
