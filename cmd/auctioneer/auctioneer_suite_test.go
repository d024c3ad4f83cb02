package main_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	auctioneerconfig "diego/auctioneer/config"
	bbsconfig "diego/bbs/config"
	"diego/deploy/cluster"
	"diego/deploy/config"
	"diego/models"
	"diego/rep"
	"diego/test/daemontest"
	"diego/test/etcdrunner"
	"diego/test/ports"
)

func TestAuctioneer(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Auctioneer Binary Suite")
}

var ctx = context.Background()

// Shared by every spec of one ginkgo process.
var (
	auctioneerPath string
	bbsPath        string
	etcd           *etcdrunner.Runner
	etcdProc       ifrit.Process
)

var _ = SynchronizedBeforeSuite(func() []byte {
	auctioneer, err := gexec.Build("diego/cmd/auctioneer")
	Expect(err).NotTo(HaveOccurred())
	bbs, err := gexec.Build("diego/cmd/bbs")
	Expect(err).NotTo(HaveOccurred())
	paths, _ := json.Marshal([]string{auctioneer, bbs})
	return paths
}, func(data []byte) {
	var paths []string
	Expect(json.Unmarshal(data, &paths)).To(Succeed())
	auctioneerPath, bbsPath = paths[0], paths[1]
	etcd = etcdrunner.New(etcdrunner.Config{LogWriter: GinkgoWriter})
	etcdProc = ginkgomon_v2.Invoke(etcd)
})

var _ = SynchronizedAfterSuite(func() {
	ginkgomon_v2.Interrupt(etcdProc, 10*time.Second)
	_ = etcd.Cleanup()
}, func() {
	gexec.CleanupBuildArtifacts()
})

// maker builds the suite's daemon configs: its etcd, a BBS at bbsURL,
// short lock and timeout settings for the specs.
func maker(bbsURL string) cluster.Maker {
	return cluster.Maker{ETCD: config.ETCD{Endpoints: []string{etcd.ClientURL()}}, BBSURL: bbsURL, LogLevel: "debug"}
}

// startBBS starts the real bbs binary over plain HTTP and returns its URL
// once it is ready.
func startBBS(mods ...func(*bbsconfig.Config)) string {
	GinkgoHelper()
	listen := ports.Addr()
	daemontest.Start(bbsPath, maker("").BBS(listen, ports.Addr(), append([]func(*bbsconfig.Config){func(c *bbsconfig.Config) {
		c.CommunicationTimeout = config.Duration(2 * time.Second)
		c.TaskCallbackWorkers = 4
	}}, mods...)...), daemontest.Ready)
	return "http://" + listen
}

// auctioneerProcess is one running auctioneer binary.
type auctioneerProcess struct {
	id      string
	addr    string
	session *gexec.Session
}

func (p *auctioneerProcess) url() string { return "http://" + p.addr }

// startAuctioneer starts the binary without waiting for it to hold the lock.
func startAuctioneer(id, bbsURL string, mods ...func(*auctioneerconfig.Config)) *auctioneerProcess {
	GinkgoHelper()
	addr := ports.Addr()
	cfg := maker(bbsURL).Auctioneer(id, addr, append([]func(*auctioneerconfig.Config){func(c *auctioneerconfig.Config) {
		c.LockTTL = config.Duration(3 * time.Second)
		c.LockRetryInterval = config.Duration(time.Second)
		c.CellStateTimeout = config.Duration(2 * time.Second)
		c.CommunicationTimeout = config.Duration(2 * time.Second)
	}}, mods...)...)
	session := daemontest.Start(auctioneerPath, cfg, "")
	return &auctioneerProcess{id: id, addr: addr, session: session}
}

// fakeRep serves GET /state with its cell's state and records every POST
// /work, answering {} (nothing failed).
type fakeRep struct {
	cellID string
	server *httptest.Server

	mu   sync.Mutex
	work []rep.Work
}

func newFakeRep(cellID string) *fakeRep {
	GinkgoHelper()
	return newFakeRepTLS(cellID, nil)
}

// newFakeRepTLS is newFakeRep serving serverTLS (when not nil) with a
// presence whose rep_url is its https URL and whose rep_address is a port
// nothing listens on, as a modern cell whose admin listener is loopback.
func newFakeRepTLS(cellID string, serverTLS *tls.Config) *fakeRep {
	GinkgoHelper()
	f := &fakeRep{cellID: cellID}
	total := rep.Resources{MemoryMB: 4096, DiskMB: 8192, Containers: 100}
	state := rep.CellState{
		CellID:             cellID,
		Zone:               "z1",
		RootFSProviders:    rep.RootFSProviders{"preloaded": rep.NewFixedSetProvider("cflinuxfs4"), "docker": rep.NewArbitraryProvider()},
		AvailableResources: total,
		TotalResources:     total,
	}
	f.server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/state":
			_ = json.NewEncoder(w).Encode(state)
		case r.Method == http.MethodPost && r.URL.Path == "/work":
			var work rep.Work
			if err := json.NewDecoder(r.Body).Decode(&work); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			f.mu.Lock()
			f.work = append(f.work, work)
			f.mu.Unlock()
			_, _ = w.Write([]byte(`{}`))
		default:
			http.NotFound(w, r)
		}
	}))
	p := &models.CellPresence{CellId: cellID, Zone: "z1", Capacity: &models.CellCapacity{MemoryMb: 4096, DiskMb: 8192, Containers: 100}}
	if serverTLS == nil {
		f.server.Start()
		p.RepAddress = f.server.URL
	} else {
		f.server.TLS = serverTLS
		f.server.StartTLS()
		p.RepAddress, p.RepUrl = "http://127.0.0.1:1", f.server.URL
	}
	DeferCleanup(f.server.Close)
	presence, err := json.Marshal(p)
	Expect(err).NotTo(HaveOccurred())
	putKey(fmt.Sprintf("/diego/v1/cell/%s", cellID), string(presence))
	return f
}

// taskGuids lists the guids of every task the rep was sent.
func (f *fakeRep) taskGuids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, w := range f.work {
		for _, t := range w.Tasks {
			out = append(out, t.TaskGuid)
		}
	}
	return out
}

func putKey(key, value string) {
	GinkgoHelper()
	c, err := etcd.Client()
	Expect(err).NotTo(HaveOccurred())
	defer c.Close()
	_, err = c.Put(ctx, key, value)
	Expect(err).NotTo(HaveOccurred())
}

func getKey(key string) string {
	GinkgoHelper()
	c, err := etcd.Client()
	Expect(err).NotTo(HaveOccurred())
	defer c.Close()
	resp, err := c.Get(ctx, key)
	Expect(err).NotTo(HaveOccurred())
	if len(resp.Kvs) == 0 {
		return ""
	}
	return string(resp.Kvs[0].Value)
}

func deleteKey(key string) {
	GinkgoHelper()
	c, err := etcd.Client()
	Expect(err).NotTo(HaveOccurred())
	defer c.Close()
	_, err = c.Delete(ctx, key)
	Expect(err).NotTo(HaveOccurred())
}
