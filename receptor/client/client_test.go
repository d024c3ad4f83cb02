package client_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/receptor/client"
	"diego/test/conntest"
)

var _ = Describe("Client", func() {
	// Decision 200: a caller with more requests in flight than decision
	// 161's 100 idle connections closed the surplus after each burst.
	It("keeps a connection for each of 150 concurrent requests, so the next burst dials none", func() {
		server := conntest.NewBurstServer(150, "application/json", []byte("[]"))
		c, err := client.New(client.Config{URL: server.URL})
		Expect(err).NotTo(HaveOccurred())
		domains := func() {
			_, err := c.Domains(context.Background())
			Expect(err).NotTo(HaveOccurred())
		}

		server.Burst(domains)
		Expect(server.Dials()).To(BeEquivalentTo(150))
		server.Burst(domains)
		Expect(server.Dials()).To(BeEquivalentTo(150), "the second burst reuses the first one's connections")
	})
})
