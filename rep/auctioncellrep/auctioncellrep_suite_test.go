package auctioncellrep_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	executorclient "diego/executor/client"
	"diego/rep/auctioncellrep"
)

func TestAuctionCellRep(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "AuctionCellRep Suite")
}

// The executor's real client is what cmd/rep hands over.
var _ auctioncellrep.ExecutorClient = (*executorclient.Client)(nil)
