package etcdrunner_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestEtcdrunner(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Etcdrunner Suite")
}
