package boshrender_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestBoshrender(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "BOSH release renderer Suite")
}
