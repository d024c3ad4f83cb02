package main_test

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"google.golang.org/protobuf/proto"

	"diego/metron"
	"diego/metron/agent/config"
	"diego/metron/events"
	"diego/test/ports"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
)

func startMetron(cfg config.Config) *gexec.Session {
	GinkgoHelper()
	body, err := json.Marshal(cfg)
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(GinkgoT().TempDir(), "metron.json")
	Expect(os.WriteFile(path, body, 0o644)).To(Succeed())
	s, err := gexec.Start(exec.Command(binary, "-config", path), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { s.Interrupt().Wait(10 * time.Second) })
	return s
}

var _ = Describe("metron", func() {
	It("forwards what a producer sends, tagged and signed, and stops cleanly", func() {
		doppler, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		Expect(err).NotTo(HaveOccurred())
		defer doppler.Close()
		cfg := config.DefaultConfig()
		cfg.DropsondePort = int(ports.Next())
		cfg.DopplerAddress, cfg.SharedSecret = doppler.LocalAddr().String(), "shh"
		cfg.Job, cfg.Index = "cell", "4"
		s := startMetron(cfg)
		Eventually(s.Out, 10*time.Second).Should(gbytes.Say(`"msg":"ready"`))

		producer, err := net.Dial("udp", cfg.ListenAddr())
		Expect(err).NotTo(HaveOccurred())
		defer producer.Close()
		b, _ := proto.Marshal(&events.Envelope{Origin: proto.String("rep"), EventType: events.Envelope_ValueMetric.Enum(),
			ValueMetric: &events.ValueMetric{Name: proto.String("RepBulkSyncDuration"), Value: proto.Float64(1), Unit: proto.String("nanos")}})
		_, err = producer.Write(b)
		Expect(err).NotTo(HaveOccurred())

		buf := make([]byte, 65536)
		Expect(doppler.SetReadDeadline(time.Now().Add(5 * time.Second))).To(Succeed())
		n, err := doppler.Read(buf)
		Expect(err).NotTo(HaveOccurred())
		msg, err := metron.Verify([]byte("shh"), buf[:n])
		Expect(err).NotTo(HaveOccurred())
		env, err := metron.DecodeEnvelope(msg)
		Expect(err).NotTo(HaveOccurred())
		Expect(env.GetJob()).To(Equal("cell"))
		Expect(env.GetIndex()).To(Equal("4"))
		Expect(env.GetValueMetric().GetName()).To(Equal("RepBulkSyncDuration"))

		s.Interrupt()
		Eventually(s, 10*time.Second).Should(gexec.Exit(0))
	})

	It("refuses a config without a shared secret or with the tls protocol", func() {
		cfg := config.DefaultConfig()
		cfg.PreferredProtocol = "tls"
		s := startMetron(cfg)
		Eventually(s, 10*time.Second).Should(gexec.Exit(2))
		Expect(s.Err).To(gbytes.Say(`preferred_protocol must be udp`))
		Expect(s.Err).To(gbytes.Say(`shared_secret must not be empty`))
	})
})
