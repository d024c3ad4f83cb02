package main_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"google.golang.org/protobuf/proto"

	"diego/deploy/cluster"
	"diego/deploy/config"
	"diego/executor/client"
	executorconfig "diego/executor/config"
	"diego/garden"
	gardenclient "diego/garden/client"
	"diego/metron/events"
	"diego/test/daemontest"
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

// startGarden runs a garden for this ginkgo process (its own pool, ports,
// tag and depot) and returns its cell.
func startGarden() cluster.Cell {
	GinkgoHelper()
	proc := GinkgoParallelProcess()
	cell := daemontest.NewCell(fmt.Sprintf("cell-z1-%d", proc))
	cell.NetworkPool = fmt.Sprintf("10.252.%d.0/22", (proc-1)*4)
	cell.PortPoolStart, cell.PortPoolSize = uint32(50000+proc*1000), 500
	cell.Tag = fmt.Sprintf("e%d", proc)
	m := cluster.Maker{RootFS: rootfsDir, LogLevel: "info"}
	session := daemontest.Start(gardenPath, m.Garden(cell), daemontest.Ready)
	DeferCleanup(func() {
		// Garden keeps containers across its own restarts: destroy them,
		// so no links, rules or processes outlive the spec.
		gc := gardenclient.New("tcp", cell.GardenAddr)
		if containers, err := gc.Containers(garden.Properties{garden.StateProperty: garden.StateAll}); err == nil {
			for _, c := range containers {
				_ = gc.Destroy(c.Handle())
			}
		}
		daemontest.Stop(session)
	})
	return cell
}

// executorProcess is a running executor and its client.
type executorProcess struct {
	session *gexec.Session
	client  *client.Client
	config  string
}

// startExecutor runs the cell's executor, its logs and metrics sent to
// dropsondePort.
func startExecutor(cell cluster.Cell, dropsondePort int, mods ...func(*executorconfig.Config)) *executorProcess {
	GinkgoHelper()
	m := cluster.Maker{LogLevel: "debug"}
	cfg := m.Executor(cell, append([]func(*executorconfig.Config){func(c *executorconfig.Config) {
		c.MemoryMB, c.DiskMB = 2048, 4096
		c.MaxCacheSizeInBytes = 100 << 20
		c.UnhealthyMonitoringInterval = config.Duration(100 * time.Millisecond)
		c.HealthyMonitoringInterval = config.Duration(200 * time.Millisecond)
		c.GracefulShutdownInterval = config.Duration(time.Second)
		c.DropsondePort = dropsondePort
	}}, mods...)...)
	path := daemontest.WriteConfig(cfg)
	return &executorProcess{session: daemontest.StartFile(executorPath, path, daemontest.Ready),
		client: client.New("http://"+cell.ExecutorAddr, 10*time.Second), config: path}
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
