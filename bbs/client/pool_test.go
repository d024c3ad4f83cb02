package client_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	bbsclient "diego/bbs/client"
	"diego/models"
	"diego/test/conntest"
)

var _ = Describe("the client's connection pool", func() {
	// Decision 202: a caller with more requests in flight than the pool
	// kept (the receptor forwarding 200 desires) dialled after every burst.
	It("keeps a connection for each of 150 concurrent requests, so the next burst dials none", func() {
		body, err := proto.Marshal(&models.DomainsResponse{Domains: []string{"cf-apps"}})
		Expect(err).NotTo(HaveOccurred())
		server := conntest.NewBurstServer(150, "application/x-protobuf", body)
		c, err := bbsclient.New(bbsclient.Config{URL: server.URL})
		Expect(err).NotTo(HaveOccurred())
		domains := func() {
			got, err := c.Domains(context.Background())
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal([]string{"cf-apps"}))
		}

		server.Burst(domains)
		Expect(server.Dials()).To(BeEquivalentTo(150))
		server.Burst(domains)
		Expect(server.Dials()).To(BeEquivalentTo(150), "the second burst reuses the first one's connections")
	})
})
