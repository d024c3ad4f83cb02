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
	"diego/executor"
	repconfig "diego/rep/config"
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
