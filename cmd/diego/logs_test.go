package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	"diego/deploy/clock"
	metronconfig "diego/metron/agent/config"
	dopplerconfig "diego/metron/doppler/config"
	"diego/metron/emitter"
	"diego/test/ports"
)

var (
	logBinariesOnce sync.Once
	logBinaries     = map[string]string{}
)

// startTyped runs the metron or doppler binary with its typed config.
func startTyped(name string, cfg any) {
	GinkgoHelper()
	logBinariesOnce.Do(func() {
		for _, n := range []string{"metron", "doppler"} {
			path, err := gexec.Build("diego/cmd/" + n)
			Expect(err).NotTo(HaveOccurred())
			logBinaries[n] = path
		}
	})
	body, err := json.Marshal(cfg)
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(GinkgoT().TempDir(), name+".json")
	Expect(os.WriteFile(path, body, 0o644)).To(Succeed())
	s, err := gexec.Start(exec.Command(logBinaries[name], "-config", path), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { s.Interrupt().Wait(10 * time.Second) })
	Eventually(s.Out, 20*time.Second).Should(gbytes.Say(`"msg":"ready"`))
}

var _ = Describe("diego logs and diego top", func() {
	var (
		env      []string
		producer *emitter.Emitter
	)

	BeforeEach(func() {
		udp := ports.Addr()
		d := dopplerconfig.DefaultConfig()
		d.ListenAddr, d.IncomingUDPAddr = ports.Addr(), udp
		d.SharedSecret, d.AuthMode, d.AuthToken = "shh", "token", "tok"
		d.DropsondePort = int(ports.Next())
		startTyped("doppler", d)

		m := metronconfig.DefaultConfig()
		m.DropsondePort = int(ports.Next())
		m.DopplerAddress, m.SharedSecret = udp, "shh"
		startTyped("metron", m)

		var err error
		producer, err = emitter.New(m.ListenAddr(), "executor", clock.NewClock())
		Expect(err).NotTo(HaveOccurred())
		p := ginkgomon_v2.Invoke(producer)
		DeferCleanup(func() { ginkgomon_v2.Interrupt(p) })
		env = []string{"DIEGO_DOPPLER=http://" + d.ListenAddr, "DIEGO_DOPPLER_TOKEN=tok", "DIEGO_RECEPTOR=http://127.0.0.1:1"}
	})

	run := func(args ...string) *gexec.Session {
		GinkgoHelper()
		s := diego(env, "", args...)
		Eventually(s, 10*time.Second).Should(gexec.Exit())
		return s
	}

	It("prints the recent logs as cf logs does, then tails new ones", func() {
		producer.SendAppLog("app", "hello", "APP/PROC/WEB", "0")
		producer.SendAppErrorLog("app", "oops", "APP/PROC/WEB", "1")
		Eventually(func() *gbytes.Buffer { return run("logs", "app", "--recent").Out }, 10*time.Second).Should(gbytes.Say(
			`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d\dZ \[APP/PROC/WEB/0\] OUT hello\n` +
				`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d\dZ \[APP/PROC/WEB/1\] ERR oops\n$`))

		s := run("logs", "--json", "app", "--recent")
		var line map[string]string
		Expect(json.Unmarshal([]byte(firstLine(s.Out.Contents())), &line)).To(Succeed())
		Expect(line).To(HaveKeyWithValue("source_type", "APP/PROC/WEB"))
		Expect(line).To(HaveKeyWithValue("message_type", "OUT"))
		Expect(line).To(HaveKeyWithValue("message", "hello"))

		tail := diego(env, "", "logs", "app")
		DeferCleanup(func() { tail.Interrupt().Wait(5 * time.Second) })
		Eventually(tail.Err, 10*time.Second).Should(gbytes.Say("tailing logs of app"))
		Eventually(tail.Out).Should(gbytes.Say(`ERR oops\n`), "the recent ones first")
		producer.SendAppLog("app", "live line", "TASK", "0")
		Eventually(tail.Out, 10*time.Second).Should(gbytes.Say(`\[TASK/0\] OUT live line\n`))
		tail.Interrupt()
		Eventually(tail, 5*time.Second).Should(gexec.Exit(0))
	})

	It("shows each instance's CPU, memory and disk", func() {
		for i := range 2 {
			producer.SendContainerMetric(emitter.ContainerMetric{ApplicationID: "app", InstanceIndex: int32(i), CPUPercentage: 12.5,
				MemoryBytes: 32 << 20, MemoryBytesQuota: 64 << 20, DiskBytes: 10 << 20, DiskBytesQuota: 128 << 20})
		}
		Eventually(func() *gbytes.Buffer { return run("top", "--once", "app").Out }, 10*time.Second).Should(gbytes.Say(
			`METRICS GUID\s+INDEX\s+CPU\s+MEMORY\s+DISK\s+AGE\napp\s+0\s+12.5%\s+32.0M of 64.0M\s+10.0M of 128.0M\s+\S+\napp\s+1\s+12.5%`))
	})

	It("says what the doppler refused", func() {
		s := diego([]string{"DIEGO_DOPPLER=" + env[0][len("DIEGO_DOPPLER="):], "DIEGO_DOPPLER_TOKEN=wrong"}, "", "logs", "app", "--recent")
		Eventually(s, 10*time.Second).Should(gexec.Exit(1))
		Expect(s.Err).To(gbytes.Say(`doppler answered 401 .*\(set --token or \$DIEGO_DOPPLER_TOKEN; the local cluster's env.sh exports the doppler's operator token\)`))
	})

	It("has per-command help and shell completion", func() {
		s := run("logs", "--help")
		Expect(s).To(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`diego logs LOG_GUID \[--recent\]`))
		s = run("completion", "zsh")
		Expect(s).To(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`#compdef diego`))
		s = run("logs")
		Expect(s).To(gexec.Exit(2))
		Expect(s.Err).To(gbytes.Say(fmt.Sprintf("usage: diego %s", `logs LOG_GUID \[--recent\]`)))
	})
})

func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\n' {
			return string(b[:i])
		}
	}
	return string(b)
}
