package main_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
	"google.golang.org/protobuf/proto"

	"diego/executor/client"
	"diego/garden"
	gardenclient "diego/garden/client"
	"diego/metron/events"
	"diego/test/ports"
	"diego/test/rootfs"
)

func TestExecutor(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Executor Binary Suite")
}

var (
	executorPath, gardenPath, healthcheckPath, rootfsDir string
)

var _ = SynchronizedBeforeSuite(func() []byte {
	Expect(os.Geteuid()).To(BeZero(), "the executor binary tests run a real garden and need root")
	dir, err := rootfs.Path()
	Expect(err).NotTo(HaveOccurred())
	static := []string{"CGO_ENABLED=0"}
	executor, err := gexec.BuildWithEnvironment("diego/cmd/executor", static)
	Expect(err).NotTo(HaveOccurred())
	garden, err := gexec.BuildWithEnvironment("diego/cmd/garden", static)
	Expect(err).NotTo(HaveOccurred())
	healthcheck, err := gexec.BuildWithEnvironment("diego/cmd/healthcheck", static)
	Expect(err).NotTo(HaveOccurred())
	paths, _ := json.Marshal([]string{executor, garden, healthcheck, dir})
	return paths
}, func(data []byte) {
	var paths []string
	Expect(json.Unmarshal(data, &paths)).To(Succeed())
	executorPath, gardenPath, healthcheckPath, rootfsDir = paths[0], paths[1], paths[2], paths[3]
})

var _ = SynchronizedAfterSuite(func() {}, func() { gexec.CleanupBuildArtifacts() })

func writeConfig(name string, cfg map[string]any) string {
	GinkgoHelper()
	body, err := json.Marshal(cfg)
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(GinkgoT().TempDir(), name+".json")
	Expect(os.WriteFile(path, body, 0o644)).To(Succeed())
	return path
}

// start runs a daemon and waits for its "ready" line.
func start(binary, config string) *gexec.Session {
	GinkgoHelper()
	session, err := gexec.Start(exec.Command(binary, "-config", config), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { session.Kill().Wait(10 * time.Second) })
	Eventually(session.Out, 30*time.Second).Should(gbytes.Say(`"msg":"ready"`))
	return session
}

func stop(session *gexec.Session) {
	session.Interrupt()
	Eventually(session, 30*time.Second).Should(gexec.Exit())
}

// startGarden runs a garden for this ginkgo process (its own pool, ports,
// tag and depot) and returns its address.
func startGarden() string {
	GinkgoHelper()
	proc := GinkgoParallelProcess()
	addr := ports.Addr()
	session := start(gardenPath, writeConfig("garden", map[string]any{
		"listen_addr":     addr,
		"depot_dir":       filepath.Join(GinkgoT().TempDir(), "depot"),
		"default_rootfs":  rootfsDir,
		"network_pool":    fmt.Sprintf("10.252.%d.0/22", (proc-1)*4),
		"port_pool_start": 50000 + proc*1000,
		"port_pool_size":  500,
		"tag":             fmt.Sprintf("e%d", proc),
		"log_level":       "info",
	}))
	DeferCleanup(func() {
		// Garden keeps containers across its own restarts: destroy them,
		// so no links, rules or processes outlive the spec.
		gc := gardenclient.New("tcp", addr)
		if containers, err := gc.Containers(garden.Properties{garden.StateProperty: garden.StateAll}); err == nil {
			for _, c := range containers {
				_ = gc.Destroy(c.Handle())
			}
		}
		stop(session)
	})
	return addr
}

// executorProcess is a running executor and its client.
type executorProcess struct {
	session *gexec.Session
	client  *client.Client
	config  string
}

func startExecutor(gardenAddr string, dropsondePort int, extra map[string]any) *executorProcess {
	GinkgoHelper()
	addr := ports.Addr()
	cfg := map[string]any{
		"listen_addr":                   addr,
		"cell_id":                       "cell-z1",
		"garden_addr":                   gardenAddr,
		"memory_mb":                     2048,
		"disk_mb":                       4096,
		"cache_path":                    filepath.Join(GinkgoT().TempDir(), "cache"),
		"temp_dir":                      GinkgoT().TempDir(),
		"max_cache_size_in_bytes":       100 << 20,
		"unhealthy_monitoring_interval": "100ms",
		"healthy_monitoring_interval":   "200ms",
		"graceful_shutdown_interval":    "1s",
		"container_owner_name":          fmt.Sprintf("executor-%d", GinkgoParallelProcess()),
		"dropsonde_port":                dropsondePort,
		"log_level":                     "debug",
	}
	for k, v := range extra {
		cfg[k] = v
	}
	config := writeConfig("executor", cfg)
	p := &executorProcess{session: start(executorPath, config), client: client.New("http://"+addr, 10*time.Second), config: config}
	DeferCleanup(func() {
		if p.session.ExitCode() == -1 {
			stop(p.session)
		}
	})
	return p
}

// logSink collects the dropsonde envelopes sent to a UDP port.
type logSink struct {
	conn *net.UDPConn
	mu   sync.Mutex
	logs []*events.LogMessage
	bad  int
}

func newLogSink() *logSink {
	GinkgoHelper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.1")})
	Expect(err).NotTo(HaveOccurred())
	s := &logSink{conn: conn}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			var env events.Envelope
			s.mu.Lock()
			if err := proto.Unmarshal(buf[:n], &env); err != nil {
				s.bad++
			} else if env.GetLogMessage() != nil {
				s.logs = append(s.logs, env.GetLogMessage())
			}
			s.mu.Unlock()
		}
	}()
	DeferCleanup(conn.Close)
	return s
}

func (s *logSink) port() int { return s.conn.LocalAddr().(*net.UDPAddr).Port }

// messages are the log lines of one app id, as "SOURCE: text".
func (s *logSink) messages(appID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range s.logs {
		if l.GetAppId() == appID {
			out = append(out, l.GetSourceType()+": "+string(l.GetMessage()))
		}
	}
	return out
}

// tgz builds a gzipped tar of files (name → content, mode).
func tgz(files map[string]string, mode int64) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		Expect(tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(body)), Typeflag: tar.TypeReg})).To(Succeed())
		_, err := tw.Write([]byte(body))
		Expect(err).NotTo(HaveOccurred())
	}
	Expect(tw.Close()).To(Succeed())
	Expect(gz.Close()).To(Succeed())
	return buf.Bytes()
}
