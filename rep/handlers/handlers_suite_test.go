package handlers_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	executorclient "diego/executor/client"
	"diego/rep/auctioncellrep"
	"diego/rep/evacuator"
	"diego/rep/handlers"
)

func TestHandlers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Rep Handlers Suite")
}

// What cmd/rep hands over satisfies the handlers' interfaces.
var (
	_ handlers.CellRep        = (*auctioncellrep.AuctionCellRep)(nil)
	_ handlers.ExecutorClient = (*executorclient.Client)(nil)
	_ handlers.Evacuation     = (*evacuator.Flag)(nil)
)
