package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	"diego/auctioneer"
	bbsconfig "diego/bbs/config"
	"diego/deploy/cluster"
	"diego/deploy/config"
	"diego/models"
	"diego/test/certauthority"
	"diego/test/daemontest"
	"diego/test/etcdrunner"
	"diego/test/ports"
)

func TestBBS(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "BBS Binary Suite")
}

// Shared by every spec of one ginkgo process.
var (
	bbsPath  string
	etcd     *etcdrunner.Runner
	etcdProc ifrit.Process
	certs    testCerts
)

type testCerts struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

var _ = SynchronizedBeforeSuite(func() []byte {
	path, err := gexec.Build("diego/cmd/bbs")
	Expect(err).NotTo(HaveOccurred())
	return []byte(path)
}, func(path []byte) {
	bbsPath = string(path)
	etcd = etcdrunner.New(etcdrunner.Config{LogWriter: GinkgoWriter})
	etcdProc = ginkgomon_v2.Invoke(etcd)

	ca, err := certauthority.New(GinkgoT().TempDir())
	Expect(err).NotTo(HaveOccurred())
	certs.CA = ca.CAFile()
	certs.ServerCert, certs.ServerKey, err = ca.GenerateServer("bbs", "bbs.service.cf.internal")
	Expect(err).NotTo(HaveOccurred())
	certs.ClientCert, certs.ClientKey, err = ca.GenerateClient("client")
	Expect(err).NotTo(HaveOccurred())
})

var _ = SynchronizedAfterSuite(func() {
	ginkgomon_v2.Interrupt(etcdProc, 10*time.Second)
	_ = etcd.Cleanup()
}, func() {
	gexec.CleanupBuildArtifacts()
})

// bbsProcess is one running bbs binary.
type bbsProcess struct {
	session    *gexec.Session
	url        string
	healthAddr string
}

// startBBS starts the binary (tls: mutual TLS with the suite's
// certificates) against the suite's etcd; it returns once the BBS logs
// "ready".
func startBBS(tls bool, mods ...func(*bbsconfig.Config)) *bbsProcess {
	GinkgoHelper()
	listen := ports.Addr()
	health := ports.Addr()
	m := cluster.Maker{ETCD: config.ETCD{Endpoints: []string{etcd.ClientURL()}}, LogLevel: "debug"}
	scheme := "http"
	if tls {
		m.Certs = cluster.Certs{CAFile: certs.CA, BBSServerCert: certs.ServerCert, BBSServerKey: certs.ServerKey}
		scheme = "https"
	}
	cfg := m.BBS(listen, health, append([]func(*bbsconfig.Config){func(c *bbsconfig.Config) {
		c.CommunicationTimeout = config.Duration(2 * time.Second)
		c.TaskCallbackWorkers = 4
	}}, mods...)...)
	session := daemontest.Start(bbsPath, cfg, daemontest.Ready)
	return &bbsProcess{session: session, url: fmt.Sprintf("%s://%s", scheme, listen), healthAddr: health}
}

// runWithConfig starts the binary with the given config file contents.
func runWithConfig(contents string) *gexec.Session {
	GinkgoHelper()
	path := filepath.Join(GinkgoT().TempDir(), "bbs.json")
	Expect(os.WriteFile(path, []byte(contents), 0o644)).To(Succeed())
	session, err := gexec.Start(exec.Command(bbsPath, "-config", path), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	return session
}

// fakeAuctioneer serves the auctioneer API, hands over what each route
// receives, and takes the auctioneer lock so the BBS finds it.
func fakeAuctioneer() (lrps chan []auctioneer.LRPStartRequest, tasks chan []auctioneer.TaskStartRequest) {
	GinkgoHelper()
	lrps = make(chan []auctioneer.LRPStartRequest, 100)
	tasks = make(chan []auctioneer.TaskStartRequest, 100)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/lrps":
			var reqs []auctioneer.LRPStartRequest
			_ = json.NewDecoder(r.Body).Decode(&reqs)
			lrps <- reqs
		case "/v1/tasks":
			var reqs []auctioneer.TaskStartRequest
			_ = json.NewDecoder(r.Body).Decode(&reqs)
			tasks <- reqs
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	DeferCleanup(server.Close)
	presence, _ := json.Marshal(auctioneer.Presence{ID: "a1", Address: server.URL})
	putKey("/diego/v1/locks/auctioneer", string(presence))
	return lrps, tasks
}

// fakeRep accepts every rep call, hands over the request paths, and is the
// rep of each named cell (whose presence it writes).
func fakeRep(cells ...string) chan string {
	GinkgoHelper()
	paths := make(chan string, 100)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths <- r.URL.Path
		w.WriteHeader(http.StatusAccepted)
	}))
	DeferCleanup(server.Close)
	for _, cell := range cells {
		body, _ := json.Marshal(&models.CellPresence{CellId: cell, RepAddress: server.URL, Zone: "z1",
			Capacity: &models.CellCapacity{MemoryMb: 1024, DiskMb: 2048, Containers: 10}})
		putKey("/diego/v1/cell/"+cell, string(body))
	}
	return paths
}
