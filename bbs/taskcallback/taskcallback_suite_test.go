package taskcallback_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestTaskCallback(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "TaskCallback Suite")
}
