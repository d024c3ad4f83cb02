package nsync_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestNsync(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Nsync Suite")
}
