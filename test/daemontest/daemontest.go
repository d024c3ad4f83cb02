// Package daemontest starts a daemon's binary from a typed config (made by
// deploy/cluster's Maker) for the binary and integration suites: it writes
// the config to a temporary JSON file, runs the binary with -config, waits
// for its ready line and stops it when the spec ends.
package daemontest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"diego/deploy/cluster"
	"diego/test/ports"
)

// Ready is the line every daemon logs once it serves (the deploy/daemon
// kit's last member).
const Ready = `"msg":"ready"`

// ReadyTimeout bounds the wait for a ready line; StopTimeout the wait for
// an interrupted daemon to exit before it is killed.
var (
	ReadyTimeout = 30 * time.Second
	StopTimeout  = 20 * time.Second
)

// WriteConfig writes cfg as JSON to a new file in the spec's temporary
// directory and returns its path.
func WriteConfig(cfg any) string {
	GinkgoHelper()
	body, err := json.MarshalIndent(cfg, "", "  ")
	Expect(err).NotTo(HaveOccurred())
	f, err := os.CreateTemp(GinkgoT().TempDir(), "config-*.json")
	Expect(err).NotTo(HaveOccurred())
	_, err = f.Write(body)
	Expect(err).NotTo(HaveOccurred())
	Expect(f.Close()).To(Succeed())
	return f.Name()
}

// Start runs bin with cfg written by WriteConfig and, unless ready is "",
// waits for ready in its log. When the spec ends the daemon is
// interrupted, and killed if it has not exited within StopTimeout.
func Start(bin string, cfg any, ready string) *gexec.Session {
	GinkgoHelper()
	return StartFile(bin, WriteConfig(cfg), ready)
}

// StartFile is Start with a config file already written.
func StartFile(bin, configPath, ready string) *gexec.Session {
	GinkgoHelper()
	name := filepath.Base(bin)
	session, err := gexec.Start(exec.Command(bin, "-config", configPath),
		gexec.NewPrefixedWriter("["+name+"] ", GinkgoWriter), gexec.NewPrefixedWriter("["+name+"] ", GinkgoWriter))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Stop(session) })
	if ready != "" {
		Eventually(session.Out, ReadyTimeout).Should(gbytes.Say(ready), "%s did not log %s", name, ready)
	}
	return session
}

// Stop interrupts the daemon and kills it if it has not exited within
// StopTimeout; it returns at once for one that has already exited.
func Stop(session *gexec.Session) {
	select {
	case <-session.Exited:
		return
	default:
	}
	session.Interrupt()
	select {
	case <-session.Exited:
	case <-time.After(StopTimeout):
		session.Kill()
		<-session.Exited
	}
}

// NewCell is a cell named id in zone z1 with fresh loopback addresses
// (test/ports) and a directory in the spec's temporary directory, its
// executor's temp and cache directories made. The caller gives it the tag,
// network pool and port pool that keep its garden apart from the suite's
// others.
func NewCell(id string) cluster.Cell {
	GinkgoHelper()
	c := cluster.Cell{ID: id, Zone: "z1", GardenAddr: ports.Addr(), ExecutorAddr: ports.Addr(), RepAddr: ports.Addr(),
		Dir: GinkgoT().TempDir()}
	for _, dir := range []string{c.DepotDir(), c.ExecutorTempDir(), c.ExecutorCacheDir()} {
		Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
	}
	return c
}
