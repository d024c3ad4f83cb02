package main_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"diego/auctioneer"
	auctioneerconfig "diego/auctioneer/config"
	bbsclient "diego/bbs/client"
	bbsconfig "diego/bbs/config"
	"diego/deploy/tlsconfig"
	"diego/models"
	"diego/test/certauthority"
	"diego/test/etcdrunner"
)

var _ = Describe("against an etcd that requires client certificates", func() {
	It("holds its lock through the etcd block's mutual TLS and serves auctions", func() {
		tlsETCD, proc, err := etcdrunner.StartTLS(GinkgoT().TempDir(), GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(tlsETCD.Stop(proc)).To(Succeed()) })

		p := startAuctioneer("auctioneer-tls", "http://127.0.0.1:1", func(c *auctioneerconfig.Config) {
			c.ETCD = tlsETCD.ETCDBlock()
		})
		Eventually(p.session.Out, 20*time.Second).Should(gbytes.Say(`"msg":"ready"`))

		client, err := tlsETCD.Client()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(client.Close)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := client.Get(ctx, "/diego/v1/locks/auctioneer")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Kvs).To(HaveLen(1))
		Expect(string(resp.Kvs[0].Value)).To(ContainSubstring(p.url()))
	})
})

// The auctioneer's API and its calls to the reps over mutual TLS, as the
// example manifest deploys them: the BBS presents its auctioneer client
// certificate, the auctioneer its rep client certificate.
var _ = Describe("with mutual TLS to the BBS and the reps", func() {
	var (
		ca                        *certauthority.CA
		repTLS, auctioneerTLS     *tls.Config
		repClient, auctioneerClnt [2]string
		auctioneerServer          [2]string
	)

	BeforeEach(func() {
		Expect(etcd.Reset()).To(Succeed())
		dir := GinkgoT().TempDir()
		var err error
		ca, err = certauthority.New(dir)
		Expect(err).NotTo(HaveOccurred())
		repCert, repKey, err := ca.GenerateServer("rep")
		Expect(err).NotTo(HaveOccurred())
		repTLS, err = tlsconfig.ServerConfig(repCert, repKey, ca.CAFile())
		Expect(err).NotTo(HaveOccurred())
		auctioneerServer[0], auctioneerServer[1], err = ca.GenerateServer("auctioneer")
		Expect(err).NotTo(HaveOccurred())
		repClient[0], repClient[1], err = ca.GenerateClient("rep-client")
		Expect(err).NotTo(HaveOccurred())
		auctioneerClnt[0], auctioneerClnt[1], err = ca.GenerateClient("auctioneer-client")
		Expect(err).NotTo(HaveOccurred())
		auctioneerTLS, err = tlsconfig.ClientConfig(auctioneerClnt[0], auctioneerClnt[1], ca.CAFile())
		Expect(err).NotTo(HaveOccurred())
	})

	secure := func(c *auctioneerconfig.Config) {
		c.CACertFile, c.ServerCertFile, c.ServerKeyFile = ca.CAFile(), auctioneerServer[0], auctioneerServer[1]
		c.AdvertiseAddress = "https://" + c.ListenAddr
		c.RepCACert, c.RepClientCert, c.RepClientKey, c.RepRequireTLS = ca.CAFile(), repClient[0], repClient[1], true
	}

	It("places a task desired through the BBS on a TLS cell, leaving out a plain one", func() {
		bbsURL := startBBS(func(c *bbsconfig.Config) {
			c.AuctioneerCACert, c.AuctioneerClientCert, c.AuctioneerClientKey = ca.CAFile(), auctioneerClnt[0], auctioneerClnt[1]
			c.AuctioneerRequireTLS = true
		})
		plainCell := newFakeRep("cell-plain")
		tlsCell := newFakeRepTLS("cell-tls", repTLS)
		a := startAuctioneer("a1", bbsURL, secure)
		waitReady(a)

		var presence auctioneer.Presence
		Expect(json.Unmarshal([]byte(getKey(lockKey)), &presence)).To(Succeed())
		Expect(presence.Address).To(Equal("https://" + a.addr))

		client, err := bbsclient.New(bbsclient.Config{URL: bbsURL})
		Expect(err).NotTo(HaveOccurred())
		def := &models.TaskDefinition{
			RootFs:   "preloaded:cflinuxfs4",
			MemoryMb: 64,
			Action:   models.WrapAction(&models.RunAction{Path: "/bin/true", User: "vcap"}),
		}
		Expect(client.DesireTask(ctx, "task-over-tls", "d", def)).To(Succeed())
		Eventually(tlsCell.taskGuids, 10*time.Second).Should(ConsistOf("task-over-tls"))
		Expect(plainCell.taskGuids()).To(BeEmpty())
		Eventually(a.session.Out).Should(gbytes.Say(`failed-to-create-rep-client.*cell-plain.*TLS to reps is required`))
	})

	It("refuses a client without a certificate, and serves one with", func() {
		a := startAuctioneer("a1", "http://127.0.0.1:1", secure)
		waitReady(a)
		body, err := json.Marshal([]auctioneer.TaskStartRequest{task("t")})
		Expect(err).NotTo(HaveOccurred())

		noCert, err := tlsconfig.ClientConfig("", "", ca.CAFile())
		Expect(err).NotTo(HaveOccurred())
		_, err = (&http.Client{Transport: &http.Transport{TLSClientConfig: noCert}}).Post(
			"https://"+a.addr+"/v1/tasks", "application/json", bytes.NewReader(body))
		Expect(err).To(HaveOccurred())

		plain, err := http.Post("http://"+a.addr+"/v1/tasks", "application/json", bytes.NewReader(body))
		Expect(err).NotTo(HaveOccurred())
		_ = plain.Body.Close()
		Expect(plain.StatusCode).To(Equal(http.StatusBadRequest), "Go's TLS server answers plain HTTP with a 400")

		resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: auctioneerTLS}}).Post(
			"https://"+a.addr+"/v1/tasks", "application/json", bytes.NewReader(body))
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusAccepted))
	})
})
