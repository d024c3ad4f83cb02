package server_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestGardenServer(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Garden Server Suite")
}
