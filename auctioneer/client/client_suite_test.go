package client_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestAuctioneerClient(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "AuctioneerClient Suite")
}
