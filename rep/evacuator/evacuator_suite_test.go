package evacuator_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	bbsclient "diego/bbs/client"
	executorclient "diego/executor/client"
	"diego/metron/emitter"
	"diego/rep/evacuator"
)

func TestEvacuator(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Rep Evacuator Suite")
}

// What cmd/rep hands over satisfies the evacuator's interfaces.
var (
	_ evacuator.ExecutorClient = (*executorclient.Client)(nil)
	_ evacuator.BBSClient      = (*bbsclient.Client)(nil)
	_ evacuator.Metrics        = (*emitter.Emitter)(nil)
	_ evacuator.AppLog         = (*emitter.Emitter)(nil)
)

var _ = BeforeEach(func() {
	SetDefaultEventuallyTimeout(5 * time.Second)
	SetDefaultEventuallyPollingInterval(5 * time.Millisecond)
	SetDefaultConsistentlyDuration(100 * time.Millisecond)
})
