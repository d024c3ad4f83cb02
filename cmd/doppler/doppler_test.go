package main_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/protobuf/proto"

	"diego/metron"
	"diego/metron/client"
	"diego/metron/doppler/config"
	"diego/metron/events"
	"diego/test/ports"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
)

func startDoppler(cfg config.Config) *gexec.Session {
	GinkgoHelper()
	body, err := json.Marshal(cfg)
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(GinkgoT().TempDir(), "doppler.json")
	Expect(os.WriteFile(path, body, 0o644)).To(Succeed())
	s, err := gexec.Start(exec.Command(binary, "-config", path), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { s.Interrupt().Wait(10 * time.Second) })
	return s
}

var _ = Describe("doppler", func() {
	It("keeps signed envelopes, drops the rest, and serves them to an authorized consumer", func() {
		cfg := config.DefaultConfig()
		cfg.ListenAddr, cfg.IncomingUDPAddr = ports.Addr(), ports.Addr()
		cfg.SharedSecret, cfg.AuthMode, cfg.AuthToken = "shh", "token", "tok"
		cfg.DropsondePort = int(ports.Next())
		s := startDoppler(cfg)
		Eventually(s.Out, 10*time.Second).Should(gbytes.Say(`"msg":"ready"`))

		c, err := client.New(client.Config{URL: "http://" + cfg.ListenAddr, Authorization: "bearer tok"})
		Expect(err).NotTo(HaveOccurred())
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		live, errs, err := c.Stream(ctx, "app")
		Expect(err).NotTo(HaveOccurred())

		conn, err := net.Dial("udp", cfg.IncomingUDPAddr)
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		logLine := func(msg string) []byte {
			b, _ := proto.Marshal(&events.Envelope{Origin: proto.String("executor"), EventType: events.Envelope_LogMessage.Enum(),
				LogMessage: &events.LogMessage{Message: []byte(msg), MessageType: events.LogMessage_OUT.Enum(),
					Timestamp: proto.Int64(time.Now().UnixNano()), AppId: proto.String("app")}})
			return b
		}
		_, _ = conn.Write(logLine("unsigned"))
		_, _ = conn.Write(metron.Sign([]byte("wrong"), logLine("badly signed")))
		_, _ = conn.Write(metron.Sign([]byte("shh"), logLine("kept")))

		var env *events.Envelope
		Eventually(live, 10*time.Second).Should(Receive(&env))
		Expect(string(env.GetLogMessage().GetMessage())).To(Equal("kept"))
		recent, err := c.RecentLogs(ctx, "app")
		Expect(err).NotTo(HaveOccurred())
		Expect(recent).To(HaveLen(1))

		_, _, err = websocket.DefaultDialer.Dial("ws://"+cfg.ListenAddr+"/apps/app/stream", http.Header{"Authorization": {"bearer nope"}})
		Expect(err).To(HaveOccurred())

		s.Interrupt()
		Eventually(errs, 10*time.Second).Should(Receive(BeNil()), "the stream ends with a normal close")
		Eventually(s, 10*time.Second).Should(gexec.Exit(0))
	})

	It("refuses an unknown auth mode", func() {
		cfg := config.DefaultConfig()
		cfg.SharedSecret, cfg.AuthMode = "shh", "basic"
		s := startDoppler(cfg)
		Eventually(s, 10*time.Second).Should(gexec.Exit(2))
		Expect(s.Err).To(gbytes.Say(`auth_mode must be none, token or cc`))
	})

	It("refuses an operator token outside auth mode cc, where nothing would check the others", func() {
		cfg := config.DefaultConfig()
		cfg.SharedSecret, cfg.OperatorToken = "shh", "operator"
		s := startDoppler(cfg)
		Eventually(s, 10*time.Second).Should(gexec.Exit(2))
		Expect(s.Err).To(gbytes.Say(`operator_token is only for auth_mode cc`))
	})
})
