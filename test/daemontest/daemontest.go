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
