package log_streamer_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestLogStreamer(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "LogStreamer Suite")
}
