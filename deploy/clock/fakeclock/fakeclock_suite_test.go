package fakeclock_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestFakeclock(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Fakeclock Suite")
}
