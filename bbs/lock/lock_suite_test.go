package lock_test

import (
	"context"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"
	clientv3 "go.etcd.io/etcd/client/v3"

	"diego/test/etcdrunner"
)

func TestLock(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Lock Suite")
}

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
	// Registered first, so it runs last: after every runner a spec
	// started has been stopped by its own DeferCleanup.
	DeferCleanup(func() {
		Expect(etcdRunner.Reset()).To(Succeed())
	})
	SetDefaultEventuallyTimeout(5 * time.Second)
	SetDefaultEventuallyPollingInterval(20 * time.Millisecond)
	SetDefaultConsistentlyDuration(500 * time.Millisecond)
})

func newClient() *clientv3.Client {
	c, err := etcdRunner.Client()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = c.Close() })
	return c
}

func ctxTimeout() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	DeferCleanup(cancel)
	return ctx
}

// getKV returns the key's value and lease, or nil if it is absent.
func getKV(key string) func() *clientv3.GetResponse {
	return func() *clientv3.GetResponse {
		resp, err := etcdClient.Get(ctxTimeout(), key)
		Expect(err).NotTo(HaveOccurred())
		return resp
	}
}

func value(key string) func() string {
	return func() string {
		resp := getKV(key)()
		if len(resp.Kvs) == 0 {
			return ""
		}
		return string(resp.Kvs[0].Value)
	}
}

func leaseOf(key string) clientv3.LeaseID {
	resp := getKV(key)()
	ExpectWithOffset(1, resp.Kvs).To(HaveLen(1))
	return clientv3.LeaseID(resp.Kvs[0].Lease)
}

func isReady(p ifrit.Process) bool {
	select {
	case <-p.Ready():
		return true
	default:
		return false
	}
}

// start runs r in the background and makes sure it is stopped by the end
// of the spec.
func start(r ifrit.Runner) ifrit.Process {
	p := ifrit.Background(r)
	DeferCleanup(func() {
		p.Signal(os.Interrupt)
		Eventually(p.Wait(), 10*time.Second).Should(Receive())
	})
	return p
}
