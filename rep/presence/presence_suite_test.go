package presence_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"
	clientv3 "go.etcd.io/etcd/client/v3"

	executorclient "diego/executor/client"
	"diego/rep/presence"
	"diego/test/etcdrunner"
)

func TestPresence(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Rep Presence Suite")
}

// The executor's real client is what cmd/rep hands over.
var _ presence.ExecutorClient = (*executorclient.Client)(nil)

var (
	etcdRunner  *etcdrunner.Runner
	etcdProcess ifrit.Process
	etcdClient  *clientv3.Client
)

var _ = BeforeSuite(func() {
	etcdRunner = etcdrunner.New(etcdrunner.Config{})
	etcdProcess = ginkgomon_v2.Invoke(etcdRunner)
	var err error
	etcdClient, err = etcdRunner.Client()
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	if etcdClient != nil {
		Expect(etcdClient.Close()).To(Succeed())
	}
	if etcdProcess != nil {
		ginkgomon_v2.Interrupt(etcdProcess, "10s")
	}
	if etcdRunner != nil {
		Expect(etcdRunner.Cleanup()).To(Succeed())
	}
})

var _ = BeforeEach(func() {
	// Registered first, so it runs after every spec's own cleanups.
	DeferCleanup(func() { Expect(etcdRunner.Reset()).To(Succeed()) })
	SetDefaultEventuallyTimeout(5 * time.Second)
	SetDefaultEventuallyPollingInterval(10 * time.Millisecond)
	SetDefaultConsistentlyDuration(200 * time.Millisecond)
})

func newEtcdClient() *clientv3.Client {
	c, err := etcdRunner.Client()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = c.Close() })
	return c
}

// value reads a key: "" when absent.
func value(key string) func() string {
	return func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := etcdClient.Get(ctx, key)
		Expect(err).NotTo(HaveOccurred())
		if len(resp.Kvs) == 0 {
			return ""
		}
		return string(resp.Kvs[0].Value)
	}
}
