package main_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"diego/garden"
)

// result is a finished process.
type result struct {
	status         int
	stdout, stderr string
}

func run(c garden.Container, spec garden.ProcessSpec, stdin string) result {
	GinkgoHelper()
	var stdout, stderr bytes.Buffer
	pio := garden.ProcessIO{Stdout: &stdout, Stderr: &stderr}
	if stdin != "" {
		pio.Stdin = strings.NewReader(stdin)
	}
	p, err := c.Run(spec, pio)
	Expect(err).NotTo(HaveOccurred())
	status, err := p.Wait()
	Expect(err).NotTo(HaveOccurred())
	return result{status: status, stdout: stdout.String(), stderr: stderr.String()}
}

func sh(c garden.Container, script string) result {
	GinkgoHelper()
	return run(c, garden.ProcessSpec{Path: "sh", Args: []string{"-c", script}}, "")
}

func tarOf(entries map[string]string) io.Reader {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range entries {
		Expect(tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})).To(Succeed())
		_, err := tw.Write([]byte(body))
		Expect(err).NotTo(HaveOccurred())
	}
	Expect(tw.Close()).To(Succeed())
	return &buf
}

// leftovers lists what the host still has of a container: mounts, cgroups,
// links and iptables rules.
func leftovers(g *gardenProcess, handle, containerIP string) []string {
	GinkgoHelper()
	var found []string
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	Expect(err).NotTo(HaveOccurred())
	if strings.Contains(string(mountinfo), filepath.Join(g.depot, handle)) {
		found = append(found, "mount")
	}
	for _, controller := range []string{"memory", "cpu", "cpuacct", "pids"} {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", controller, "garden-"+g.tag, handle)); err == nil {
			found = append(found, "cgroup "+controller)
		}
	}
	if _, err := os.Stat(filepath.Join(g.depot, handle)); err == nil {
		found = append(found, "depot dir")
	}
	links, err := exec.Command("ip", "-o", "link").CombinedOutput()
	Expect(err).NotTo(HaveOccurred())
	for _, line := range strings.Split(string(links), "\n") {
		if strings.Contains(line, ": w"+g.tag) {
			found = append(found, "link "+line)
		}
	}
	rules, err := exec.Command("iptables-save").CombinedOutput()
	Expect(err).NotTo(HaveOccurred())
	for _, line := range strings.Split(string(rules), "\n") {
		if strings.Contains(line, handle) || (containerIP != "" && strings.Contains(line, containerIP+"/")) ||
			strings.Contains(line, "w-"+g.tag+"-instance") {
			found = append(found, "rule "+line)
		}
	}
	return found
}

var _ = Describe("garden", func() {
	var g *gardenProcess

	Describe("containers", func() {
		BeforeEach(func() { g = runningGarden(nil) })

		It("creates, lists, describes and destroys a container, leaving nothing behind", func() {
			c, err := g.client.Create(garden.ContainerSpec{Handle: "life", Properties: garden.Properties{"owner": "me"}})
			Expect(err).NotTo(HaveOccurred())
			Expect(c.Handle()).To(Equal("life"))

			listed, err := g.client.Containers(garden.Properties{"owner": "me"})
			Expect(err).NotTo(HaveOccurred())
			Expect(listed).To(HaveLen(1))
			none, err := g.client.Containers(garden.Properties{"owner": "you"})
			Expect(err).NotTo(HaveOccurred())
			Expect(none).To(BeEmpty())

			info, err := c.Info()
			Expect(err).NotTo(HaveOccurred())
			Expect(info.State).To(Equal("active"))
			Expect(info.ContainerIP).To(HavePrefix("10.253."))
			Expect(info.HostIP).NotTo(BeEmpty())
			Expect(info.ExternalIP).NotTo(BeEmpty())
			Expect(info.Properties).To(HaveKeyWithValue("owner", "me"))
			Expect(info.Properties).To(HaveKeyWithValue("garden.state", "created"))
			Expect(info.Properties).To(HaveKeyWithValue("garden.network.container-ip", info.ContainerIP))

			Expect(leftovers(g, "life", info.ContainerIP)).NotTo(BeEmpty(), "the probe must see a live container")
			Expect(g.client.Destroy("life")).To(Succeed())
			Expect(leftovers(g, "life", info.ContainerIP)).To(BeEmpty())
			_, err = g.client.Lookup("life")
			Expect(err).To(MatchError(garden.ContainerNotFoundError{Handle: "life"}))
		})

		It("serves a container whose depot path is longer than a unix socket address", func() {
			handle := strings.Repeat("long-handle-", 12) // 144 bytes: depot + handle + init.sock > 107
			c, err := g.client.Create(garden.ContainerSpec{Handle: handle})
			Expect(err).NotTo(HaveOccurred())
			Expect(sh(c, "echo ok").stdout).To(Equal("ok\n"))
			Expect(g.client.Destroy(handle)).To(Succeed())
		})

		It("cleans up after a handle with quotes and backslashes", func() {
			handle := `we"ird\handle`
			c, err := g.client.Create(garden.ContainerSpec{Handle: handle})
			Expect(err).NotTo(HaveOccurred())
			_, _, err = c.NetIn(0, 8080)
			Expect(err).NotTo(HaveOccurred())
			info, err := c.Info()
			Expect(err).NotTo(HaveOccurred())
			Expect(g.client.Destroy(handle)).To(Succeed())
			Expect(leftovers(g, handle, info.ContainerIP)).To(BeEmpty())
		})

		It("refuses a duplicate handle", func() {
			_, err := g.client.Create(garden.ContainerSpec{Handle: "twice"})
			Expect(err).NotTo(HaveOccurred())
			_, err = g.client.Create(garden.ContainerSpec{Handle: "twice"})
			Expect(err).To(MatchError(ContainSubstring("Handle 'twice' already in use")))
		})

		It("answers 404 with the error JSON for unknown handles, typed on the client side", func() {
			resp, err := http.Get("http://" + g.addr + "/containers/nope/info")
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusNotFound))
			var body map[string]string
			Expect(json.NewDecoder(resp.Body).Decode(&body)).To(Succeed())
			Expect(body).To(Equal(map[string]string{"Type": "ContainerNotFoundError", "Message": "unknown handle: nope",
				"Handle": "nope", "ProcessID": "", "Binary": ""}))

			Expect(g.client.Destroy("nope")).To(MatchError(garden.ContainerNotFoundError{Handle: "nope"}))
			var notFound garden.ContainerNotFoundError
			_, err = g.client.Lookup("nope")
			Expect(errors.As(err, &notFound)).To(BeTrue())
		})

		It("rejects bad input with clear errors", func() {
			resp, err := http.Post("http://"+g.addr+"/containers", "application/json", strings.NewReader("{not json"))
			Expect(err).NotTo(HaveOccurred())
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusInternalServerError))
			Expect(string(body)).To(ContainSubstring(`"Message"`))

			_, err = g.client.Create(garden.ContainerSpec{Image: garden.ImageRef{URI: "docker:///unknown/image"}})
			Expect(err).To(MatchError(ContainSubstring(`unknown rootfs "docker:///unknown/image"`)))
			_, err = g.client.Create(garden.ContainerSpec{RootFSPath: "ftp://x"})
			Expect(err).To(MatchError(ContainSubstring(`invalid rootfs "ftp://x"`)))
			_, err = g.client.Create(garden.ContainerSpec{RootFSPath: "/does/not/exist"})
			Expect(err).To(MatchError(ContainSubstring("is not a directory")))
			_, err = g.client.Create(garden.ContainerSpec{RootFSPath: "/tmp,upperdir=/etc"})
			Expect(err).To(MatchError(ContainSubstring("may not contain")))
			_, err = g.client.Create(garden.ContainerSpec{RootFSPath: "/x", Image: garden.ImageRef{URI: "/y"}})
			Expect(err).To(MatchError(ContainSubstring("cannot provide both")))

			listed, err := g.client.Containers(garden.Properties{garden.StateProperty: garden.StateAll})
			Expect(err).NotTo(HaveOccurred())
			Expect(listed).To(BeEmpty(), "failed creates leave no container")
		})

		It("maps docker:// and preloaded: URIs through the rootfs map", func() {
			for _, uri := range []string{"docker:///busybox", "preloaded:cflinuxfs3"} {
				c, err := g.client.Create(garden.ContainerSpec{Image: garden.ImageRef{URI: uri}})
				Expect(err).NotTo(HaveOccurred())
				Expect(sh(c, "echo hi").stdout).To(Equal("hi\n"))
			}
		})

		It("gives each container a private writable root over the shared rootfs", func() {
			a, err := g.client.Create(garden.ContainerSpec{})
			Expect(err).NotTo(HaveOccurred())
			b, err := g.client.Create(garden.ContainerSpec{})
			Expect(err).NotTo(HaveOccurred())
			Expect(sh(a, "echo mine > /etc/marker && cat /etc/marker").stdout).To(Equal("mine\n"))
			Expect(sh(b, "cat /etc/marker").status).NotTo(BeZero())
			_, err = os.Stat(filepath.Join(rootfsDir, "etc", "marker"))
			Expect(os.IsNotExist(err)).To(BeTrue(), "the rootfs itself is never written")
		})

		It("reaps a container after its grace time", func() {
			_, err := g.client.Create(garden.ContainerSpec{Handle: "brief", GraceTime: time.Second})
			Expect(err).NotTo(HaveOccurred())
			Eventually(func() error { _, err := g.client.Lookup("brief"); return err }, 10*time.Second, 200*time.Millisecond).
				Should(MatchError(garden.ContainerNotFoundError{Handle: "brief"}))
			Expect(leftovers(g, "brief", "")).To(BeEmpty())
		})
	})

	Describe("processes", func() {
		var c garden.Container
		BeforeEach(func() {
			g = runningGarden(nil)
			var err error
			c, err = g.client.Create(garden.ContainerSpec{Handle: "proc-box", Env: []string{"FROM_CONTAINER=yes"}})
			Expect(err).NotTo(HaveOccurred())
		})

		It("runs with stdin, stdout, stderr, env and the exit code", func() {
			r := run(c, garden.ProcessSpec{Path: "sh", Args: []string{"-c", `cat; echo "$FROM_CONTAINER $FROM_PROCESS $USER" ; echo oops >&2; exit 7`},
				Env: []string{"FROM_PROCESS=also"}}, "line one\nline two\n")
			Expect(r.status).To(Equal(7))
			Expect(r.stdout).To(Equal("line one\nline two\nyes also root\n"))
			Expect(r.stderr).To(Equal("oops\n"))
		})

		It("delivers all output before Wait returns", func() {
			r := sh(c, "i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done")
			Expect(r.status).To(BeZero())
			Expect(strings.Count(r.stdout, "\n")).To(Equal(2000))
			Expect(r.stdout).To(HaveSuffix("line-1999\n"))
		})

		It("runs as the named user in their home directory with rlimits", func() {
			nofile := uint64(123)
			r := run(c, garden.ProcessSpec{Path: "sh", Args: []string{"-c", "id -un; pwd; ulimit -n"}, User: "vcap",
				Limits: garden.ResourceLimits{Nofile: &nofile}}, "")
			Expect(r.status).To(BeZero(), r.stderr)
			Expect(r.stdout).To(Equal("vcap\n/home/vcap\n123\n"))

			r = run(c, garden.ProcessSpec{Path: "pwd", Dir: "/tmp"}, "")
			Expect(r.stdout).To(Equal("/tmp\n"))
		})

		It("reports a missing executable", func() {
			_, err := c.Run(garden.ProcessSpec{Path: "no-such-program"}, garden.ProcessIO{})
			var notFound garden.ExecutableNotFoundError
			Expect(errors.As(err, &notFound)).To(BeTrue(), fmt.Sprint(err))
			_, err = c.Run(garden.ProcessSpec{Path: "sh", User: "nobody-here"}, garden.ProcessIO{})
			Expect(err).To(MatchError(ContainSubstring("unable to find user nobody-here")))
		})

		It("signals a process", func() {
			p, err := c.Run(garden.ProcessSpec{Path: "sleep", Args: []string{"100"}}, garden.ProcessIO{})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Signal(garden.SignalTerminate)).To(Succeed())
			Expect(p.Wait()).To(Equal(128 + int(syscall.SIGTERM)))

			p, err = c.Run(garden.ProcessSpec{Path: "sh", Args: []string{"-c", `trap "" TERM; sleep 100`}}, garden.ProcessIO{})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Signal(garden.SignalKill)).To(Succeed())
			Expect(p.Wait()).To(Equal(128 + int(syscall.SIGKILL)))
		})

		It("runs with a TTY of the requested size, stdout and stderr merged", func() {
			stdout := gbytes.NewBuffer()
			p, err := c.Run(garden.ProcessSpec{Path: "sh", Args: []string{"-c", "tty; stty size; echo to-stderr >&2"},
				TTY: &garden.TTYSpec{WindowSize: &garden.WindowSize{Columns: 123, Rows: 45}}},
				garden.ProcessIO{Stdout: stdout, Stderr: GinkgoWriter})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Wait()).To(BeZero())
			Expect(stdout).To(gbytes.Say(`/dev/pts/\d+`))
			Expect(stdout).To(gbytes.Say("45 123"))
			Expect(stdout).To(gbytes.Say("to-stderr"))
		})

		It("attaches to a running process by id", func() {
			p, err := c.Run(garden.ProcessSpec{ID: "known", Path: "sh", Args: []string{"-c", "read x; echo got-$x"}},
				garden.ProcessIO{Stdin: strings.NewReader("it\n")})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.ID()).To(Equal("known"))
			attached, err := c.Attach("known", garden.ProcessIO{})
			Expect(err).NotTo(HaveOccurred())
			Expect(attached.Wait()).To(BeZero())
			_, err = c.Attach("unknown", garden.ProcessIO{})
			Expect(err).To(MatchError(garden.ProcessNotFoundError{ProcessID: "unknown"}))
		})

		It("hides the host: own pid namespace, hostname = handle, its own root", func() {
			r := sh(c, "hostname; ls /proc | grep -c '^[0-9]'; cat /proc/1/cmdline | tr '\\0' ' '; kill -0 "+strconv.Itoa(g.session.Command.Process.Pid)+" 2>&1 || echo no-such-pid")
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			Expect(lines[0]).To(Equal("proc-box"))
			count, err := strconv.Atoi(lines[1])
			Expect(err).NotTo(HaveOccurred())
			Expect(count).To(BeNumerically("<", 6), "only the container's own processes are visible")
			Expect(lines[2]).To(ContainSubstring("garden-init"))
			Expect(r.stdout).To(ContainSubstring("no-such-pid"))
			Expect(sh(c, "ls /").stdout).NotTo(ContainSubstring("depot"))
		})

		It("stops every process with TERM and reports the container stopped", func() {
			p, err := c.Run(garden.ProcessSpec{Path: "sleep", Args: []string{"100"}}, garden.ProcessIO{})
			Expect(err).NotTo(HaveOccurred())
			Expect(c.Stop(false)).To(Succeed())
			Expect(p.Wait()).To(Equal(128 + int(syscall.SIGTERM)))
			info, err := c.Info()
			Expect(err).NotTo(HaveOccurred())
			Expect(info.State).To(Equal("stopped"))

			p, err = c.Run(garden.ProcessSpec{Path: "sh", Args: []string{"-c", `trap "" TERM; sleep 100`}}, garden.ProcessIO{})
			Expect(err).NotTo(HaveOccurred())
			Expect(c.Stop(true)).To(Succeed())
			Expect(p.Wait()).To(Equal(128 + int(syscall.SIGKILL)))
		})
	})

	Describe("files", func() {
		var c garden.Container
		BeforeEach(func() {
			g = runningGarden(nil)
			var err error
			c, err = g.client.Create(garden.ContainerSpec{})
			Expect(err).NotTo(HaveOccurred())
		})

		It("streams a tar in as the user and back out", func() {
			Expect(c.StreamIn(garden.StreamInSpec{Path: "/home/vcap/app", User: "vcap",
				TarStream: tarOf(map[string]string{"a.txt": "alpha", "sub/b.txt": "beta"})})).To(Succeed())
			r := sh(c, "cat /home/vcap/app/a.txt /home/vcap/app/sub/b.txt; stat -c %U /home/vcap/app/a.txt")
			Expect(r.stdout).To(Equal("alphabetavcap\n"))

			out, err := c.StreamOut(garden.StreamOutSpec{Path: "/home/vcap/app/sub/b.txt", User: "vcap"})
			Expect(err).NotTo(HaveOccurred())
			tr := tar.NewReader(out)
			hdr, err := tr.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(hdr.Name).To(Equal("b.txt"))
			body, _ := io.ReadAll(tr)
			Expect(string(body)).To(Equal("beta"))
			out.Close()

			out, err = c.StreamOut(garden.StreamOutSpec{Path: "/home/vcap/app/", User: "vcap"})
			Expect(err).NotTo(HaveOccurred())
			var names []string
			tr = tar.NewReader(out)
			for {
				hdr, err := tr.Next()
				if err == io.EOF {
					break
				}
				Expect(err).NotTo(HaveOccurred())
				names = append(names, hdr.Name)
			}
			Expect(names).To(ContainElements("./a.txt", "./sub/", "./sub/b.txt"))
		})

		It("puts a relative path under the user's home, as guardian does", func() {
			Expect(c.StreamIn(garden.StreamInSpec{Path: ".", User: "vcap",
				TarStream: tarOf(map[string]string{"staging_info.yml": "x", "app/run": "y"})})).To(Succeed())
			r := sh(c, "cat /home/vcap/staging_info.yml /home/vcap/app/run")
			Expect(r.stdout).To(Equal("xy"))
			out, err := c.StreamOut(garden.StreamOutSpec{Path: "app/run", User: "vcap"})
			Expect(err).NotTo(HaveOccurred())
			defer out.Close()
			hdr, err := tar.NewReader(out).Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(hdr.Name).To(Equal("run"))
		})

		It("refuses tar entries that climb out of the destination", func() {
			err := c.StreamIn(garden.StreamInSpec{Path: "/tmp/dest", TarStream: tarOf(map[string]string{"../../etc/evil": "x"})})
			Expect(err).To(MatchError(ContainSubstring("path escapes the destination")))
			err = c.StreamIn(garden.StreamInSpec{Path: "/tmp/dest", TarStream: tarOf(map[string]string{"/etc/evil": "x"})})
			Expect(err).To(MatchError(ContainSubstring("absolute path")))
			Expect(sh(c, "ls /etc/evil").status).NotTo(BeZero())
		})

		It("does not follow a symlink from the archive out of the destination", func() {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			Expect(tw.WriteHeader(&tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "/etc"})).To(Succeed())
			Expect(tw.WriteHeader(&tar.Header{Name: "link/evil", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})).To(Succeed())
			_, _ = tw.Write([]byte("x"))
			Expect(tw.Close()).To(Succeed())
			Expect(c.StreamIn(garden.StreamInSpec{Path: "/tmp/dest", TarStream: &buf})).NotTo(Succeed())
			Expect(sh(c, "ls /etc/evil").status).NotTo(BeZero())
		})

		It("fails a stream out of a missing path", func() {
			out, err := c.StreamOut(garden.StreamOutSpec{Path: "/no/such/file"})
			if err == nil {
				_, err = io.ReadAll(out)
				if err == nil {
					_, err = tar.NewReader(bytes.NewReader(nil)).Next()
				}
			}
			Expect(err).To(HaveOccurred())
		})
	})

	Describe("limits", func() {
		BeforeEach(func() { g = runningGarden(nil) })

		It("kills a process that exceeds the memory limit and reports the OOM", func() {
			c, err := g.client.Create(garden.ContainerSpec{Limits: garden.Limits{Memory: garden.MemoryLimits{LimitInBytes: 32 << 20}}})
			Expect(err).NotTo(HaveOccurred())
			limits, err := c.CurrentMemoryLimits()
			Expect(err).NotTo(HaveOccurred())
			Expect(limits.LimitInBytes).To(BeEquivalentTo(32 << 20))

			r := sh(c, "dd if=/dev/zero of=/dev/null bs=64M count=1")
			Expect(r.status).To(Equal(128 + int(syscall.SIGKILL)))
			info, err := c.Info()
			Expect(err).NotTo(HaveOccurred())
			Expect(info.Events).To(ContainElement("Out of memory"))

			Expect(sh(c, "dd if=/dev/zero of=/dev/null bs=4M count=1").status).To(BeZero(), "within the limit is fine")
		})

		It("enforces the pids limit", func() {
			c, err := g.client.Create(garden.ContainerSpec{Limits: garden.Limits{Pid: garden.PidLimits{Max: 8}}})
			Expect(err).NotTo(HaveOccurred())
			r := sh(c, "i=0; while [ $i -lt 20 ]; do sleep 5 & i=$((i+1)); done; wait")
			Expect(r.stderr).To(ContainSubstring("can't fork"))
		})

		It("reports cpu shares and metrics", func() {
			c, err := g.client.Create(garden.ContainerSpec{Limits: garden.Limits{CPU: garden.CPULimits{LimitInShares: 512}}})
			Expect(err).NotTo(HaveOccurred())
			cpu, err := c.CurrentCPULimits()
			Expect(err).NotTo(HaveOccurred())
			Expect(cpu.LimitInShares).To(BeEquivalentTo(512))
			Expect(sh(c, "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; dd if=/dev/zero of=/tmp/f bs=1M count=2").status).To(BeZero())
			m, err := c.Metrics()
			Expect(err).NotTo(HaveOccurred())
			Expect(m.CPUStat.Usage).To(BeNumerically(">", 0))
			Expect(m.DiskStat.TotalBytesUsed).To(BeNumerically(">=", 2<<20))
			Expect(m.Age).To(BeNumerically(">", 0))
			Expect(m.NetworkStat).NotTo(BeNil())
		})
	})

	Describe("networking", func() {
		BeforeEach(func() { g = runningGarden(nil) })

		It("maps a host port to a server in the container, on 127.0.0.1 and the external address", func() {
			c, err := g.client.Create(garden.ContainerSpec{})
			Expect(err).NotTo(HaveOccurred())
			Expect(c.StreamIn(garden.StreamInSpec{Path: "/www", TarStream: tarOf(map[string]string{"index.html": "hello from the container"})})).To(Succeed())
			_, err = c.Run(garden.ProcessSpec{Path: "httpd", Args: []string{"-f", "-p", "8080", "-h", "/www"}}, garden.ProcessIO{Stderr: GinkgoWriter})
			Expect(err).NotTo(HaveOccurred())

			hostPort, containerPort, err := c.NetIn(0, 8080)
			Expect(err).NotTo(HaveOccurred())
			Expect(containerPort).To(BeEquivalentTo(8080))
			Expect(hostPort).To(BeNumerically(">=", g.config["port_pool_start"]))
			info, err := c.Info()
			Expect(err).NotTo(HaveOccurred())
			Expect(info.MappedPorts).To(ConsistOf(garden.PortMapping{HostPort: hostPort, ContainerPort: 8080}))

			get := func(host string, port ...uint32) (string, error) {
				p := hostPort
				if len(port) > 0 {
					p = port[0]
				}
				resp, err := http.Get(fmt.Sprintf("http://%s/index.html", net.JoinHostPort(host, strconv.Itoa(int(p)))))
				if err != nil {
					return "", err
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				return string(body), err
			}
			Eventually(func() (string, error) { return get("127.0.0.1") }, 5*time.Second).Should(Equal("hello from the container"))
			Eventually(func() (string, error) { return get(info.ExternalIP) }, 5*time.Second).Should(Equal("hello from the container"))
			Eventually(func() (string, error) { return get(info.ContainerIP, 8080) }, 5*time.Second).Should(Equal("hello from the container"))
		})

		It("accepts net out rules and rejects malformed ones", func() {
			c, err := g.client.Create(garden.ContainerSpec{NetOut: []garden.NetOutRule{{Protocol: garden.ProtocolTCP,
				Networks: []garden.IPRange{{Start: "10.0.0.1", End: "10.0.0.9"}}, Ports: []garden.PortRange{{Start: 80, End: 90}}}}})
			Expect(err).NotTo(HaveOccurred())
			Expect(c.NetOut(garden.NetOutRule{Protocol: garden.ProtocolICMP, ICMPs: &garden.ICMPControl{Type: 8}, Log: true})).To(Succeed())
			rules, err := exec.Command("iptables-save", "-t", "filter").CombinedOutput()
			Expect(err).NotTo(HaveOccurred())
			Expect(string(rules)).To(ContainSubstring("--dst-range 10.0.0.1-10.0.0.9"))
			Expect(string(rules)).To(ContainSubstring("--dport 80:90"))
			Expect(c.NetOut(garden.NetOutRule{Protocol: garden.ProtocolAll, Ports: []garden.PortRange{{Start: 1}}})).
				To(MatchError(ContainSubstring("ports may only be given for tcp or udp")))
		})

		It("closes the host to containers unless allow_host_access is set", func() {
			listener, err := net.Listen("tcp", "0.0.0.0:0")
			Expect(err).NotTo(HaveOccurred())
			defer listener.Close()
			received := make(chan string, 1)
			go func() {
				conn, err := listener.Accept()
				if err != nil {
					return
				}
				defer conn.Close()
				body, _ := io.ReadAll(conn)
				received <- string(body)
			}()
			port := strconv.Itoa(listener.Addr().(*net.TCPAddr).Port)

			closed, err := g.client.Create(garden.ContainerSpec{})
			Expect(err).NotTo(HaveOccurred())
			info, err := closed.Info()
			Expect(err).NotTo(HaveOccurred())
			Expect(sh(closed, "echo knock | nc -w 2 "+info.ExternalIP+" "+port).status).NotTo(BeZero())
			Consistently(received, 200*time.Millisecond).ShouldNot(Receive())

			proc := GinkgoParallelProcess()
			open := runningGarden(map[string]any{"allow_host_access": true, "tag": fmt.Sprintf("o%d", proc),
				"network_pool": fmt.Sprintf("10.253.%d.0/22", 16+(proc-1)*4), "port_pool_start": 45000 + proc*500})
			allowed, err := open.client.Create(garden.ContainerSpec{})
			Expect(err).NotTo(HaveOccurred())
			Expect(sh(allowed, "echo knock | nc -w 2 "+info.ExternalIP+" "+port).status).To(BeZero())
			Eventually(received).Should(Receive(Equal("knock\n")))
		})
	})

	Describe("lifecycle", func() {
		It("destroys what a killed garden left behind when it starts again", func() {
			cfg := gardenConfig(nil)
			g = startGarden(cfg)
			c, err := g.client.Create(garden.ContainerSpec{Handle: "orphan"})
			Expect(err).NotTo(HaveOccurred())
			_, _, err = c.NetIn(0, 8080)
			Expect(err).NotTo(HaveOccurred())
			info, err := c.Info()
			Expect(err).NotTo(HaveOccurred())
			_, err = c.Run(garden.ProcessSpec{Path: "sleep", Args: []string{"1000"}}, garden.ProcessIO{})
			Expect(err).NotTo(HaveOccurred())
			g.kill()
			Expect(leftovers(g, "orphan", info.ContainerIP)).NotTo(BeEmpty(), "a killed garden leaves its containers running")

			g = startGarden(cfg)
			Expect(leftovers(g, "orphan", info.ContainerIP)).To(BeEmpty())
			Expect(exec.Command("pgrep", "-f", "sleep 1000").Run()).NotTo(Succeed(), "the container's processes are gone")
			g.stop()
		})

		It("keeps containers across a restart when told to", func() {
			cfg := gardenConfig(map[string]any{"destroy_containers_on_startup": false})
			g = startGarden(cfg)
			c, err := g.client.Create(garden.ContainerSpec{Handle: "keeper", Properties: garden.Properties{"k": "v"}})
			Expect(err).NotTo(HaveOccurred())
			Expect(sh(c, "echo kept > /tmp/state").status).To(BeZero())
			g.stop()

			g = startGarden(cfg)
			c, err = g.client.Lookup("keeper")
			Expect(err).NotTo(HaveOccurred())
			Expect(c.Property("k")).To(Equal("v"))
			Expect(sh(c, "cat /tmp/state").stdout).To(Equal("kept\n"))
			Expect(g.client.Destroy("keeper")).To(Succeed())
			Expect(leftovers(g, "keeper", "")).To(BeEmpty())
			g.stop()
		})

		It("refuses to start, clearly, when it is not root", func() {
			// The build's own directory is root's alone; nobody needs a copy.
			dir, err := os.MkdirTemp("", "garden-nonroot")
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(os.RemoveAll, dir)
			Expect(os.Chmod(dir, 0o755)).To(Succeed())
			binary, err := os.ReadFile(gardenPath)
			Expect(err).NotTo(HaveOccurred())
			Expect(os.WriteFile(filepath.Join(dir, "garden"), binary, 0o755)).To(Succeed())
			config := filepath.Join(dir, "garden.json")
			body, err := json.Marshal(gardenConfig(nil))
			Expect(err).NotTo(HaveOccurred())
			Expect(os.WriteFile(config, body, 0o644)).To(Succeed())
			cmd := exec.Command(filepath.Join(dir, "garden"), "-config", config)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			session, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
			Expect(err).NotTo(HaveOccurred())
			Eventually(session, 10*time.Second).Should(gexec.Exit(1))
			Expect(session.Out).To(gbytes.Say("garden must run as root"))
		})
	})
})
