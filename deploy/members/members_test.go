package members_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/members"
)

var _ = Describe("the etcd member's config", func() {
	It("accepts its defaults", func() {
		Expect(members.DefaultETCDConfig().Validate()).To(Succeed())
	})

	It("reports every bad setting at once", func() {
		c := members.DefaultETCDConfig()
		c.InitialCluster = "other=http://10.0.0.9:2380"
		c.CertFile = "/server.crt"
		c.InitialClusterState = "maybe"
		c.ElectionTimeout = c.HeartbeatInterval
		err := c.Validate()
		Expect(err).To(MatchError(ContainSubstring("initial_cluster must name this member as etcd0=http://127.0.0.1:2380")))
		Expect(err).To(MatchError(ContainSubstring("listen_client_url \"http://127.0.0.1:2379\" must be https:// with TLS files")))
		Expect(err).To(MatchError(ContainSubstring("cert_file and key_file go together")))
		Expect(err).To(MatchError(ContainSubstring("initial_cluster_state \"maybe\" must be new or existing")))
		Expect(err).To(MatchError(ContainSubstring("election_timeout must be at least 5 heartbeat_intervals")))
	})

	It("loads a file over the defaults", func() {
		path := filepath.Join(GinkgoT().TempDir(), "etcd.json")
		Expect(os.WriteFile(path, []byte(`{"name": "e1", "initial_cluster": "e1=http://127.0.0.1:2380", "election_timeout": "2s"}`), 0o600)).To(Succeed())
		c, err := members.LoadETCD(path)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Name).To(Equal("e1"))
		Expect(c.ElectionTimeout.String()).To(Equal("2s"))
	})
})

var _ = Describe("the NATS server's config", func() {
	It("accepts its defaults", func() {
		Expect(members.DefaultNATSConfig().Validate()).To(Succeed())
	})

	It("needs a cluster listener for routes, and nats-route:// routes", func() {
		c := members.DefaultNATSConfig()
		c.Routes = []string{"http://10.0.0.2:4223"}
		err := c.Validate()
		Expect(err).To(MatchError(ContainSubstring("routes need cluster_listen_addr")))
		Expect(err).To(MatchError(ContainSubstring(`routes entry "http://10.0.0.2:4223" must be nats-route://host:port`)))
	})
})
