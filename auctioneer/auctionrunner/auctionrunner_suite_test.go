package auctionrunner_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestAuctionrunner(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Auction Runner Suite")
}
