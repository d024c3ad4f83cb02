package main_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	bbsconfig "diego/bbs/config"
	"diego/deploy/config"
	receptorconfig "diego/receptor/config"
	"diego/routeemitter"
	emitterconfig "diego/routeemitter/config"
	"diego/routeemitter/router"
	"diego/test/etcdrunner"
	"diego/test/natsrunner"
	"diego/test/ports"
)

func TestRouteEmitter(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Route-Emitter Binary Suite")
}

var (
	binaries map[string]string
	etcd     *etcdrunner.Runner
	etcdProc ifrit.Process
	ctx      = context.Background()
)

var _ = SynchronizedBeforeSuite(func() []byte {
	built := map[string]string{}
	for _, name := range []string{"bbs", "receptor", "route-emitter"} {
		path, err := gexec.Build("diego/cmd/" + name)
		Expect(err).NotTo(HaveOccurred())
		built[name] = path
	}
	b, _ := json.Marshal(built)
	return b
}, func(b []byte) {
	Expect(json.Unmarshal(b, &binaries)).To(Succeed())
	etcd = etcdrunner.New(etcdrunner.Config{LogWriter: GinkgoWriter})
	etcdProc = ginkgomon_v2.Invoke(etcd)
})

var _ = SynchronizedAfterSuite(func() {
	ginkgomon_v2.Interrupt(etcdProc, 10*time.Second)
	_ = etcd.Cleanup()
}, func() {
	gexec.CleanupBuildArtifacts()
})

// start runs a binary with its typed config, and waits for "ready" when
// asked to.
func start(name string, cfg any, waitReady bool) *gexec.Session {
	GinkgoHelper()
	body, err := json.Marshal(cfg)
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(GinkgoT().TempDir(), name+".json")
	Expect(os.WriteFile(path, body, 0o644)).To(Succeed())
	s, err := gexec.Start(exec.Command(binaries[name], "-config", path), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { s.Kill().Wait(10 * time.Second) })
	if waitReady {
		Eventually(s.Out, 20*time.Second).Should(gbytes.Say(`"msg":"ready"`))
	}
	return s
}

// startBBS runs a BBS on the suite's etcd over plain HTTP; it returns its
// URL.
func startBBS() string {
	GinkgoHelper()
	cfg := bbsconfig.DefaultConfig()
	cfg.ListenAddr, cfg.HealthAddress = ports.Addr(), ports.Addr()
	cfg.ETCD = config.ETCD{Endpoints: []string{etcd.ClientURL()}}
	cfg.CommunicationTimeout = config.Duration(2 * time.Second)
	cfg.TaskCallbackWorkers = 2
	start("bbs", cfg, true)
	return "http://" + cfg.ListenAddr
}

// startReceptor runs a receptor in front of bbsURL on addr.
func startReceptor(bbsURL, addr string) *gexec.Session {
	GinkgoHelper()
	cfg := receptorconfig.DefaultConfig()
	cfg.ListenAddr, cfg.BBSAddress = addr, bbsURL
	return start("receptor", cfg, true)
}

// emitterConfig is a route-emitter config for the suite's etcd, a
// receptor and a NATS, with test-sized intervals.
func emitterConfig(id, receptorURL string, natsPort uint16) emitterconfig.Config {
	cfg := emitterconfig.DefaultConfig()
	cfg.ID, cfg.ReceptorURL, cfg.LogLevel = id, receptorURL, "debug"
	cfg.NATSAddresses = "127.0.0.1:" + itoa(int(natsPort))
	cfg.ETCD = config.ETCD{Endpoints: []string{etcd.ClientURL()}}
	cfg.LockTTL, cfg.LockRetryInterval = config.Duration(3*time.Second), config.Duration(500*time.Millisecond)
	cfg.SyncInterval = config.Duration(2 * time.Second)
	cfg.DefaultRegisterInterval = config.Duration(time.Hour)
	cfg.CommunicationTimeout = config.Duration(2 * time.Second)
	cfg.HealthcheckAddress = ports.Addr()
	return cfg
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// fakeRouter is the test's view of NATS: a router registry fed by the
// emitter's messages, counts of registrations, and an answer to greet.
type fakeRouter struct {
	conn     *nats.Conn
	registry *router.Registry

	mu            sync.Mutex
	registers     int
	unregisters   int
	lastRegisters []routeemitter.RegistryMessage
	raw           [][]byte
}

// newFakeRouter subscribes to router.* on url; with interval > 0 it
// answers router.greet with that register interval.
func newFakeRouter(url string, interval int) *fakeRouter {
	GinkgoHelper()
	conn, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(conn.Close)
	f := &fakeRouter{conn: conn, registry: router.NewRegistry(time.Hour)}
	_, err = conn.Subscribe(routeemitter.RegisterSubject, func(m *nats.Msg) {
		var msg routeemitter.RegistryMessage
		Expect(json.Unmarshal(m.Data, &msg)).To(Succeed())
		_ = f.registry.Register(msg, time.Now())
		f.mu.Lock()
		f.registers++
		f.lastRegisters = append(f.lastRegisters, msg)
		f.raw = append(f.raw, m.Data)
		f.mu.Unlock()
	})
	Expect(err).NotTo(HaveOccurred())
	_, err = conn.Subscribe(routeemitter.UnregisterSubject, func(m *nats.Msg) {
		var msg routeemitter.RegistryMessage
		Expect(json.Unmarshal(m.Data, &msg)).To(Succeed())
		_ = f.registry.Unregister(msg)
		f.mu.Lock()
		f.unregisters++
		f.mu.Unlock()
	})
	Expect(err).NotTo(HaveOccurred())
	if interval > 0 {
		_, err = conn.Subscribe(routeemitter.GreetSubject, func(m *nats.Msg) {
			body, _ := json.Marshal(routeemitter.RouterStart{ID: "0-test", Hosts: []string{"127.0.0.1"},
				MinimumRegisterIntervalInSeconds: interval, PruneThresholdInSeconds: 10})
			_ = conn.Publish(m.Reply, body)
		})
		Expect(err).NotTo(HaveOccurred())
	}
	Expect(conn.Flush()).To(Succeed())
	return f
}

// Registers is how many router.register messages arrived.
func (f *fakeRouter) Registers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.registers
}

// Unregisters is how many router.unregister messages arrived.
func (f *fakeRouter) Unregisters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.unregisters
}

// Addresses are the endpoints registered for uri, sorted.
func (f *fakeRouter) Addresses(uri string) []string {
	var out []string
	for _, e := range f.registry.Routes()[uri] {
		out = append(out, e.Address)
	}
	return out
}

// Raw is every register body received so far.
func (f *fakeRouter) Raw() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.raw...)
}

// startNATS runs an embedded NATS server on port (0: a new one).
func startNATS(port uint16) (*natsrunner.Runner, ifrit.Process) {
	GinkgoHelper()
	n := natsrunner.New(port)
	proc := ginkgomon_v2.Invoke(n)
	DeferCleanup(func() { ginkgomon_v2.Interrupt(proc, 5*time.Second) })
	return n, proc
}
