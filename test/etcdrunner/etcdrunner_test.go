package etcdrunner_test

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"
	clientv3 "go.etcd.io/etcd/client/v3"

	"diego/test/etcdrunner"
	"diego/test/ports"
)

func put(c *clientv3.Client, key, value string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Put(ctx, key, value)
	return err
}

func get(c *clientv3.Client, key string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, key)
	if err != nil || len(resp.Kvs) == 0 {
		return "", err
	}
	return string(resp.Kvs[0].Value), nil
}

var _ = Describe("Runner", Ordered, func() {
	var (
		runner  *etcdrunner.Runner
		process ifrit.Process
		client  *clientv3.Client
	)

	BeforeAll(func() {
		runner = etcdrunner.New(etcdrunner.Config{})
		process = ginkgomon_v2.Invoke(runner)
		DeferCleanup(func() {
			ginkgomon_v2.Interrupt(process, "10s")
			Expect(runner.Cleanup()).To(Succeed())
		})

		var err error
		client, err = runner.Client()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(client.Close)
	})

	AfterEach(func() {
		Expect(runner.Reset()).To(Succeed())
	})

	It("serves on a loopback client URL with the default name", func() {
		Expect(runner.Name()).To(Equal("etcd0"))
		u, err := url.Parse(runner.ClientURL())
		Expect(err).NotTo(HaveOccurred())
		Expect(u.Scheme).To(Equal("http"))
		Expect(u.Hostname()).To(Equal("127.0.0.1"))
		Expect(runner.DataDir()).To(BeADirectory())
	})

	It("stores and returns values", func() {
		Expect(put(client, "/a", "1")).To(Succeed())
		Expect(get(client, "/a")).To(Equal("1"))
	})

	It("Reset deletes every key and lease", func() {
		Expect(put(client, "/x/y", "1")).To(Succeed())
		Expect(put(client, "z", "2")).To(Succeed())
		lease, err := client.Grant(context.Background(), 60)
		Expect(err).NotTo(HaveOccurred())
		_, err = client.Put(context.Background(), "/leased", "3", clientv3.WithLease(lease.ID))
		Expect(err).NotTo(HaveOccurred())

		Expect(runner.Reset()).To(Succeed())

		resp, err := client.Get(context.Background(), "", clientv3.WithPrefix(), clientv3.WithCountOnly())
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Count).To(BeZero())
		leases, err := client.Leases(context.Background())
		Expect(err).NotTo(HaveOccurred())
		Expect(leases.Leases).To(BeEmpty())
	})

	It("keeps its data across a restart", func() {
		Expect(put(client, "/kept", "yes")).To(Succeed())
		ginkgomon_v2.Interrupt(process, "10s")
		process = ginkgomon_v2.Invoke(runner)
		Eventually(func() (string, error) { return get(client, "/kept") }, "10s").Should(Equal("yes"))
	})
})

var _ = Describe("a runner whose client port is taken", func() {
	It("fails to start instead of becoming ready", func() {
		port := ports.Next()
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
		Expect(err).NotTo(HaveOccurred())
		defer l.Close()

		runner := etcdrunner.New(etcdrunner.Config{ClientPort: port, DataDir: GinkgoT().TempDir()})
		process := ifrit.Background(runner)
		var err2 error
		Eventually(process.Wait(), "10s").Should(Receive(&err2))
		Expect(err2).To(MatchError(ContainSubstring("address already in use")))
		Expect(process.Ready()).NotTo(BeClosed())
	})
})

var _ = Describe("Cluster", Ordered, func() {
	var (
		cluster *etcdrunner.Cluster
		process ifrit.Process
	)

	BeforeAll(func() {
		cluster = etcdrunner.NewCluster(3)
		process = ginkgomon_v2.Invoke(cluster)
		DeferCleanup(func() {
			ginkgomon_v2.Interrupt(process, "20s")
			Expect(cluster.Cleanup()).To(Succeed())
		})
	})

	It("has three members with distinct client URLs", func() {
		Expect(cluster.Members()).To(HaveLen(3))
		urls := cluster.ClientURLs()
		Expect(urls).To(HaveLen(3))
		Expect(urls[0]).NotTo(Equal(urls[1]))
		Expect(urls[1]).NotTo(Equal(urls[2]))
		for i, m := range cluster.Members() {
			Expect(m.ClientURL()).To(Equal(urls[i]))
		}

		c, err := cluster.Client()
		Expect(err).NotTo(HaveOccurred())
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		members, err := c.MemberList(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(members.Members).To(HaveLen(3))
	})

	It("replicates a write to every member", func() {
		c, err := cluster.Client()
		Expect(err).NotTo(HaveOccurred())
		defer c.Close()
		Expect(put(c, "/replicated", "v")).To(Succeed())

		for _, m := range cluster.Members() {
			mc, err := m.Client()
			Expect(err).NotTo(HaveOccurred())
			Expect(get(mc, "/replicated")).To(Equal("v"))
			Expect(mc.Close()).To(Succeed())
		}
	})

	It("keeps serving writes through the other members when the leader stops, and the member rejoins", func() {
		Eventually(cluster.Leader, "10s").ShouldNot(Equal(-1))
		leader := cluster.Leader()
		Expect(cluster.Members()[leader].IsLeader()).To(BeTrue())

		Expect(cluster.StopMember(leader)).To(Succeed())
		Expect(cluster.StopMember(leader)).To(MatchError(ContainSubstring("not running")))
		Expect(cluster.Members()[leader].IsLeader()).To(BeFalse())

		var remaining []string
		for i, u := range cluster.ClientURLs() {
			if i != leader {
				remaining = append(remaining, u)
			}
		}
		c, err := clientv3.New(clientv3.Config{Endpoints: remaining, DialTimeout: 5 * time.Second})
		Expect(err).NotTo(HaveOccurred())
		defer c.Close()

		// Puts fail until the remaining two have elected a new leader.
		Eventually(func() error { return put(c, "/after-stop", "ok") }, "15s").Should(Succeed())
		Expect(get(c, "/after-stop")).To(Equal("ok"))
		Expect(cluster.Leader()).NotTo(Equal(leader))

		Expect(cluster.Reset()).To(Succeed())
		Expect(get(c, "/replicated")).To(BeEmpty())
		Expect(put(c, "/while-down", "missed")).To(Succeed())

		Expect(cluster.StartMember(leader)).To(Succeed())
		Expect(cluster.StartMember(leader)).To(MatchError(ContainSubstring("already running")))
		rejoined, err := cluster.Members()[leader].Client()
		Expect(err).NotTo(HaveOccurred())
		defer rejoined.Close()
		Eventually(func() (string, error) { return get(rejoined, "/while-down") }, "15s").Should(Equal("missed"))
		Expect(process.Wait()).NotTo(Receive())
	})
})
