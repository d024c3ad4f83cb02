package etcddb_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"
	clientv3 "go.etcd.io/etcd/client/v3"

	"diego/bbs/db/etcddb"
	"diego/deploy/clock"
	"diego/models"
	"diego/test/etcdrunner"
)

func TestEtcddb(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ETCDDB Suite")
}

var (
	etcdRunner  *etcdrunner.Runner
	etcdProcess ifrit.Process
	etcdClient  *clientv3.Client
)

var _ = BeforeSuite(func() {
	etcdRunner = etcdrunner.New(etcdrunner.Config{LogWriter: GinkgoWriter})
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
		ginkgomon_v2.Kill(etcdProcess, 10*time.Second)
	}
	if etcdRunner != nil {
		Expect(etcdRunner.Cleanup()).To(Succeed())
	}
})

var _ = BeforeEach(func() {
	Expect(etcdRunner.Reset()).To(Succeed())
})

func ctx() context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	DeferCleanup(cancel)
	return c
}

// rawPut writes a value straight to etcd, bypassing the store.
func rawPut(key, value string) {
	GinkgoHelper()
	_, err := etcdClient.Put(ctx(), key, value)
	Expect(err).NotTo(HaveOccurred())
}

// rawKeys lists the keys under prefix, straight from etcd.
func rawKeys(prefix string) []string {
	GinkgoHelper()
	resp, err := etcdClient.Get(ctx(), prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	Expect(err).NotTo(HaveOccurred())
	keys := make([]string, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		keys[i] = string(kv.Key)
	}
	return keys
}

func rawValue(key string) ([]byte, bool) {
	GinkgoHelper()
	resp, err := etcdClient.Get(ctx(), key)
	Expect(err).NotTo(HaveOccurred())
	if len(resp.Kvs) == 0 {
		return nil, false
	}
	return resp.Kvs[0].Value, true
}

// expectModelError checks an error's model type and, if given, its
// canonical message (the *models.Error inside any wrapping).
func expectModelError(err error, t models.Error_Type, msg ...string) {
	GinkgoHelper()
	Expect(err).To(HaveOccurred())
	var modelErr *models.Error
	Expect(errorsAs(err, &modelErr)).To(BeTrue(), "not a *models.Error: %v", err)
	Expect(modelErr.GetType()).To(Equal(t), "error: %v", err)
	if len(msg) > 0 {
		Expect(modelErr.GetMessage()).To(Equal(msg[0]))
	}
}

// newStore is the store under test, with its record cache and group commit
// as the BBS runs it (ETCDDB_NO_CACHE=1 runs the suite against etcd reads
// alone, ETCDDB_SERIAL_COMMITS=1 with each write sent alone). The cache
// stops when the spec ends.
func newStore(client *clientv3.Client, clk clock.Clock, root string) *etcddb.ETCDDB {
	serial := os.Getenv("ETCDDB_SERIAL_COMMITS") != ""
	store := etcddb.New(etcddb.Config{Root: root, SerialCommits: serial}, etcddb.Deps{Client: client, Clock: clk})
	if os.Getenv("ETCDDB_NO_CACHE") == "" {
		c, cancel := context.WithCancel(context.Background())
		DeferCleanup(cancel)
		store.EnableCache(c, slog.New(slog.NewTextHandler(GinkgoWriter, nil)))
		Eventually(func() bool { _, live := store.CacheServed(); return live }).Should(BeTrue())
	}
	return store
}
