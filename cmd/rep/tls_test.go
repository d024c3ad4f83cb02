package main_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"diego/deploy/cluster"
	"diego/deploy/config"
	"diego/deploy/tlsconfig"
	"diego/executor"
	"diego/models"
	"diego/rep"
	repconfig "diego/rep/config"
	"diego/test/certauthority"
	"diego/test/daemontest"
	"diego/test/etcdrunner"
	"diego/test/ports"
)

// fakeExecutor is an idle executor with no containers: enough for the
// rep's presence and sync to start (the real executor needs garden).
func fakeExecutor() string {
	resources := executor.ExecutorResources{MemoryMB: 1024, DiskMB: 2048, Containers: 10}
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ping":
		case "/resources/total", "/resources/remaining":
			_ = json.NewEncoder(w).Encode(resources)
		case "/containers":
			_, _ = w.Write([]byte("[]"))
		case "/events":
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	}))
	DeferCleanup(server.Close)
	return server.URL
}

// fakeBBS answers every BBS route with an empty protobuf response: no
// records for this cell.
func fakeBBS() string {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	DeferCleanup(server.Close)
	return server.URL
}

var _ = Describe("against an etcd that requires client certificates", func() {
	It("holds the cell's presence through the etcd block's mutual TLS", func() {
		tlsETCD, proc, err := etcdrunner.StartTLS(GinkgoT().TempDir(), GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(tlsETCD.Stop(proc)).To(Succeed()) })

		listen := ports.Addr()
		m := cluster.Maker{ETCD: tlsETCD.ETCDBlock(), BBSURL: fakeBBS(), LogLevel: "debug"}
		daemontest.Start(repPath, m.Rep(cluster.Cell{ID: "cell-tls", Zone: "z1", RepAddr: listen}, func(c *repconfig.Config) {
			c.ExecutorAddress = fakeExecutor()
			c.LockTTL = config.Duration(3 * time.Second)
			c.LockRetryInterval = config.Duration(500 * time.Millisecond)
			c.PollingInterval = config.Duration(time.Second)
			c.CommunicationTimeout = config.Duration(2 * time.Second)
		}), daemontest.Ready)

		client, err := tlsETCD.Client()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(client.Close)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := client.Get(ctx, "/diego/v1/cell/cell-tls")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Kvs).To(HaveLen(1))
		Expect(string(resp.Kvs[0].Value)).To(ContainSubstring("http://" + listen))
	})

	It("refuses the old etcd_endpoints key, naming the etcd block", func() {
		path := filepath.Join(GinkgoT().TempDir(), "rep.json")
		Expect(os.WriteFile(path, []byte(`{"cell_id": "c", "etcd_endpoints": ["http://127.0.0.1:2379"]}`), 0o644)).To(Succeed())
		session, err := gexec.Start(exec.Command(repPath, "-config", path), GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(session, 10*time.Second).Should(gexec.Exit(2))
		Expect(session.Err).To(gbytes.Say("etcd_endpoints is no longer a key: use etcd.endpoints"))
	})
})

var _ = Describe("with require_tls", func() {
	It("serves the API on the securable listener over mutual TLS only, the admin routes on listen_addr, and advertises both", func() {
		tlsETCD, proc, err := etcdrunner.StartTLS(GinkgoT().TempDir(), GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(tlsETCD.Stop(proc)).To(Succeed()) })

		ca, err := certauthority.New(GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		serverCert, serverKey, err := ca.GenerateServer("rep")
		Expect(err).NotTo(HaveOccurred())
		clientCert, clientKey, err := ca.GenerateClient("auctioneer")
		Expect(err).NotTo(HaveOccurred())

		admin, securable := ports.Addr(), ports.Addr()
		m := cluster.Maker{ETCD: tlsETCD.ETCDBlock(), BBSURL: fakeBBS(), LogLevel: "debug"}
		daemontest.Start(repPath, m.Rep(cluster.Cell{ID: "cell-mtls", Zone: "z1", RepAddr: admin}, func(c *repconfig.Config) {
			c.ExecutorAddress = fakeExecutor()
			c.ListenAddrSecurable, c.RequireTLS = securable, true
			c.CACertFile, c.ServerCertFile, c.ServerKeyFile = ca.CAFile(), serverCert, serverKey
		}), daemontest.Ready)

		noCert, err := tlsconfig.ClientConfig("", "", ca.CAFile())
		Expect(err).NotTo(HaveOccurred())
		_, err = (&http.Client{Transport: &http.Transport{TLSClientConfig: noCert}}).Get("https://" + securable + "/state")
		Expect(err).To(HaveOccurred())

		withCert, err := tlsconfig.ClientConfig(clientCert, clientKey, ca.CAFile())
		Expect(err).NotTo(HaveOccurred())
		resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: withCert}}).Get("https://" + securable + "/state")
		Expect(err).NotTo(HaveOccurred())
		var state rep.CellState
		Expect(json.NewDecoder(resp.Body).Decode(&state)).To(Succeed())
		_ = resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		Expect(state.CellID).To(Equal("cell-mtls"))
		Expect(state.RepURL).To(Equal("https://" + securable))

		for path, want := range map[string]int{"/ping": http.StatusOK, "/state": http.StatusNotFound} {
			resp, err := http.Get("http://" + admin + path)
			Expect(err).NotTo(HaveOccurred())
			_ = resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(want), path)
		}

		client, err := tlsETCD.Client()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(client.Close)
		Eventually(func(g Gomega) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := client.Get(ctx, "/diego/v1/cell/cell-mtls")
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got.Kvs).To(HaveLen(1))
			var presence models.CellPresence
			g.Expect(json.Unmarshal(got.Kvs[0].Value, &presence)).To(Succeed())
			g.Expect(presence.RepAddress).To(Equal("http://" + admin))
			g.Expect(presence.RepUrl).To(Equal("https://" + securable))
		}, 10*time.Second).Should(Succeed())
	})
})
