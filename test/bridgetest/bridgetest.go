// Package bridgetest starts what the CC-bridge daemons' binary suites
// (nsync, TPS) run against: a BBS under its own etcd root, a receptor in
// front of it and a stand-in CC, each daemon from deploy/cluster's typed
// Maker through test/daemontest.
package bridgetest

import (
	"net/http/httptest"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	bbsconfig "diego/bbs/config"
	"diego/ccbridge/standincc"
	"diego/deploy/cluster"
	"diego/deploy/config"
	receptorclient "diego/receptor/client"
	"diego/test/daemontest"
	"diego/test/ports"
)

// CC's internal API credentials, as the bridge daemons present them.
const (
	CCUser     = "internal_user"
	CCPassword = "internal_password"
)

// Cluster is a running BBS, receptor and stand-in CC.
type Cluster struct {
	Root        string // the BBS's etcd root, for the daemons' locks
	ETCDURL     string
	BBSURL      string
	ReceptorURL string
	Receptor    *receptorclient.Client
	CC          *standincc.CC
	CCURL       string
}

// Start runs the BBS and receptor binaries (bbsBin, receptorBin) against
// the etcd at etcdURL under a fresh root named after prefix; everything
// stops when the spec ends.
func Start(etcdURL, bbsBin, receptorBin, prefix string) *Cluster {
	GinkgoHelper()
	root := "/" + prefix + "-" + time.Now().Format("150405.000000")
	m := cluster.Maker{ETCD: config.ETCD{Endpoints: []string{etcdURL}}}
	bbsAddr := ports.Addr()
	daemontest.Start(bbsBin, m.BBS(bbsAddr, ports.Addr(), func(c *bbsconfig.Config) {
		c.Root = root
		c.CommunicationTimeout = config.Duration(2 * time.Second)
		c.TaskCallbackWorkers = 2
	}), daemontest.Ready)
	m.BBSURL = "http://" + bbsAddr

	rAddr := ports.Addr()
	daemontest.Start(receptorBin, m.Receptor(rAddr), daemontest.Ready)
	rc, err := receptorclient.New(receptorclient.Config{URL: "http://" + rAddr})
	Expect(err).NotTo(HaveOccurred())

	cc := standincc.New(CCUser, CCPassword)
	server := httptest.NewServer(cc.Handler())
	DeferCleanup(server.Close)
	return &Cluster{Root: root, ETCDURL: etcdURL, BBSURL: m.BBSURL, ReceptorURL: "http://" + rAddr, Receptor: rc, CC: cc, CCURL: server.URL}
}
