package client_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/garden"
	"diego/garden/client"
	"diego/garden/gardenfakes"
	"diego/garden/server"
)

// The client is tested against the real server over a fake backend that
// holds one container, "h1".
var (
	backend    *gardenfakes.FakeBackend
	fakeCtr    *gardenfakes.FakeContainer
	srv        *server.Server
	httpSrv    *httptest.Server
	gardenAddr string
	c          *client.Client
)

var _ = BeforeEach(func() {
	backend = new(gardenfakes.FakeBackend)
	fakeCtr = new(gardenfakes.FakeContainer)
	fakeCtr.HandleReturns("h1")
	backend.LookupStub = func(handle string) (garden.Container, error) {
		if handle == "h1" {
			return fakeCtr, nil
		}
		return nil, garden.ContainerNotFoundError{Handle: handle}
	}
	srv = server.New(server.Deps{Logger: logging.New(GinkgoWriter, slog.LevelDebug, "garden"),
		Clock: fakeclock.NewFakeClock(time.Date(2015, 6, 1, 0, 0, 0, 0, time.UTC)), Backend: backend})
	Expect(srv.Start()).To(Succeed())
	httpSrv = httptest.NewServer(srv)
	DeferCleanup(func() {
		srv.Stop()
		httpSrv.Close()
	})
	gardenAddr = httpSrv.Listener.Addr().String()
	c = client.New("tcp", gardenAddr)
})

var _ garden.Client = (*client.Client)(nil)

// expectContainerNotFound checks err is the typed error for handle.
func expectContainerNotFound(err error, handle string) {
	GinkgoHelper()
	var nf garden.ContainerNotFoundError
	Expect(errors.As(err, &nf)).To(BeTrue(), "%v", err)
	Expect(err).To(Equal(garden.ContainerNotFoundError{Handle: handle}))
}

var _ = Describe("Client", func() {
	Describe("Ping", func() {
		It("succeeds when the server is healthy", func() {
			Expect(c.Ping()).To(Succeed())
		})

		It("returns the server's typed error", func() {
			backend.PingReturns(garden.UnrecoverableError{Symptom: "disk full"})
			Expect(c.Ping()).To(Equal(garden.UnrecoverableError{Symptom: "disk full"}))
			backend.PingReturns(errors.New("plain"))
			Expect(c.Ping()).To(MatchError("plain"))
		})

		It("fails to connect to a server that is not there", func() {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			Expect(err).NotTo(HaveOccurred())
			addr := ln.Addr().String()
			ln.Close()
			Expect(client.New("tcp", addr).Ping()).To(HaveOccurred())
		})
	})

	It("gets Capacity", func() {
		want := garden.Capacity{MemoryInBytes: 1 << 30, DiskInBytes: 2 << 30, SchedulableDiskInBytes: 3, MaxContainers: 256}
		backend.CapacityReturns(want, nil)
		Expect(c.Capacity()).To(Equal(want))
	})

	Describe("Create", func() {
		It("sends the spec and returns the container", func() {
			backend.CreateReturns(fakeCtr, nil)
			code := uint8(3)
			spec := garden.ContainerSpec{
				Handle: "h1", GraceTime: time.Minute, Image: garden.ImageRef{URI: "docker:///busybox"},
				BindMounts: []garden.BindMount{{SrcPath: "/a", DstPath: "/b", Mode: garden.BindMountModeRW}},
				Network:    "10.254.0.0/30", Properties: garden.Properties{"k": "v"}, Env: []string{"A=B"}, Privileged: true,
				Limits: garden.Limits{CPU: garden.CPULimits{LimitInShares: 10}, Pid: garden.PidLimits{Max: 5}},
				NetOut: []garden.NetOutRule{{Protocol: garden.ProtocolICMP, ICMPs: &garden.ICMPControl{Type: 8, Code: &code}}},
				NetIn:  []garden.NetInSpec{{HostPort: 61001, ContainerPort: 8080}},
			}
			ctr, err := c.Create(spec)
			Expect(err).NotTo(HaveOccurred())
			Expect(ctr.Handle()).To(Equal("h1"))
			Expect(backend.CreateArgsForCall(0)).To(Equal(spec))
		})

		It("returns the error", func() {
			backend.CreateReturns(nil, errors.New("max containers reached"))
			_, err := c.Create(garden.ContainerSpec{})
			Expect(err).To(MatchError("max containers reached"))
		})
	})

	Describe("Destroy", func() {
		It("destroys", func() {
			Expect(c.Destroy("h1")).To(Succeed())
			Expect(backend.DestroyArgsForCall(0)).To(Equal("h1"))
		})

		It("returns ContainerNotFoundError for an unknown handle", func() {
			backend.DestroyReturns(garden.ContainerNotFoundError{Handle: "nope"})
			expectContainerNotFound(c.Destroy("nope"), "nope")
		})
	})

	Describe("Containers and Lookup", func() {
		BeforeEach(func() {
			other := new(gardenfakes.FakeContainer)
			other.HandleReturns("h2")
			backend.ContainersReturns([]garden.Container{fakeCtr, other}, nil)
		})

		It("lists with the property filter", func() {
			list, err := c.Containers(garden.Properties{"app": "a&b=c", "garden.state": "all"})
			Expect(err).NotTo(HaveOccurred())
			Expect(list).To(HaveLen(2))
			Expect(list[0].Handle()).To(Equal("h1"))
			Expect(list[1].Handle()).To(Equal("h2"))
			Expect(backend.ContainersArgsForCall(backend.ContainersCallCount() - 1)).
				To(Equal(garden.Properties{"app": "a&b=c", "garden.state": "all"}))
		})

		It("looks up an existing container, counting those still being created", func() {
			ctr, err := c.Lookup("h2")
			Expect(err).NotTo(HaveOccurred())
			Expect(ctr.Handle()).To(Equal("h2"))
			Expect(backend.ContainersArgsForCall(backend.ContainersCallCount() - 1)).
				To(Equal(garden.Properties{"garden.state": "all"}))
		})

		It("returns ContainerNotFoundError from Lookup for an unknown handle", func() {
			_, err := c.Lookup("nope")
			expectContainerNotFound(err, "nope")
		})
	})

	Describe("bulk calls", func() {
		It("gets BulkInfo with per-handle typed errors", func() {
			backend.BulkInfoReturns(map[string]garden.ContainerInfoEntry{
				"h1":   {Info: garden.ContainerInfo{State: "active", ContainerIP: "10.254.0.2"}},
				"nope": {Err: garden.NewError(garden.ContainerNotFoundError{Handle: "nope"})},
			}, nil)
			infos, err := c.BulkInfo([]string{"h1", "nope"})
			Expect(err).NotTo(HaveOccurred())
			Expect(backend.BulkInfoArgsForCall(0)).To(Equal([]string{"h1", "nope"}))
			Expect(infos["h1"].Err).To(BeNil())
			Expect(infos["h1"].Info.ContainerIP).To(Equal("10.254.0.2"))
			expectContainerNotFound(infos["nope"].Err.Err(), "nope")
		})

		It("gets BulkMetrics", func() {
			backend.BulkMetricsReturns(map[string]garden.ContainerMetricsEntry{
				"h1": {Metrics: garden.Metrics{Age: time.Hour, MemoryStat: garden.ContainerMemoryStat{TotalUsageTowardLimit: 7}}},
			}, nil)
			metrics, err := c.BulkMetrics([]string{"h1"})
			Expect(err).NotTo(HaveOccurred())
			Expect(metrics["h1"].Metrics.Age).To(Equal(time.Hour))
			Expect(metrics["h1"].Metrics.MemoryStat.TotalUsageTowardLimit).To(BeEquivalentTo(7))
		})
	})

	Describe("a container", func() {
		var ctr garden.Container

		BeforeEach(func() {
			backend.ContainersReturns([]garden.Container{fakeCtr}, nil)
			var err error
			ctr, err = c.Lookup("h1")
			Expect(err).NotTo(HaveOccurred())
		})

		It("gets Info", func() {
			info := garden.ContainerInfo{State: "stopped", Events: []string{"Out of memory"}, ProcessIDs: []string{"p"},
				Properties: garden.Properties{"a": "b"}, MappedPorts: []garden.PortMapping{{HostPort: 1, ContainerPort: 2}}}
			fakeCtr.InfoReturns(info, nil)
			Expect(ctr.Info()).To(Equal(info))
		})

		It("returns ContainerNotFoundError once the container is gone", func() {
			gone := new(gardenfakes.FakeContainer)
			gone.HandleReturns("gone")
			backend.ContainersReturns([]garden.Container{gone}, nil)
			list, err := c.Containers(nil)
			Expect(err).NotTo(HaveOccurred())
			_, err = list[0].Info()
			expectContainerNotFound(err, "gone")
			expectContainerNotFound(list[0].Stop(true), "gone")
			_, err = list[0].Run(garden.ProcessSpec{Path: "true"}, garden.ProcessIO{})
			expectContainerNotFound(err, "gone")
		})

		It("stops", func() {
			Expect(ctr.Stop(true)).To(Succeed())
			Expect(fakeCtr.StopArgsForCall(0)).To(BeTrue())
		})

		It("streams in and out", func() {
			var got []byte
			fakeCtr.StreamInStub = func(spec garden.StreamInSpec) error {
				Expect(spec.Path).To(Equal("/tmp/app"))
				Expect(spec.User).To(Equal("vcap"))
				var err error
				got, err = io.ReadAll(spec.TarStream)
				return err
			}
			tarball := makeTar("droplet", "bits")
			Expect(ctr.StreamIn(garden.StreamInSpec{Path: "/tmp/app", User: "vcap", TarStream: bytes.NewReader(tarball)})).To(Succeed())
			Expect(got).To(Equal(tarball))

			fakeCtr.StreamOutReturns(io.NopCloser(bytes.NewReader(tarball)), nil)
			out, err := ctr.StreamOut(garden.StreamOutSpec{Path: "/tmp/app/droplet", User: "root"})
			Expect(err).NotTo(HaveOccurred())
			tr := tar.NewReader(out)
			hdr, err := tr.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(hdr.Name).To(Equal("droplet"))
			Expect(io.ReadAll(tr)).To(Equal([]byte("bits")))
			Expect(out.Close()).To(Succeed())
			Expect(fakeCtr.StreamOutArgsForCall(0)).To(Equal(garden.StreamOutSpec{Path: "/tmp/app/droplet", User: "root"}))
		})

		It("returns StreamIn and StreamOut errors", func() {
			fakeCtr.StreamInReturns(errors.New("tar failed"))
			Expect(ctr.StreamIn(garden.StreamInSpec{Path: "/x", TarStream: strings.NewReader("junk")})).To(MatchError("tar failed"))
			fakeCtr.StreamOutReturns(nil, errors.New("no such file"))
			_, err := ctr.StreamOut(garden.StreamOutSpec{Path: "/nope"})
			Expect(err).To(MatchError("no such file"))
		})

		It("sees a StreamOut that fails midway as a read error", func() {
			fakeCtr.StreamOutReturns(io.NopCloser(io.MultiReader(strings.NewReader("part"), errReader{})), nil)
			out, err := ctr.StreamOut(garden.StreamOutSpec{Path: "/x"})
			Expect(err).NotTo(HaveOccurred())
			defer out.Close()
			data, err := io.ReadAll(out)
			Expect(string(data)).To(Equal("part"))
			Expect(err).To(HaveOccurred())
		})

		It("gets the limits", func() {
			fakeCtr.CurrentBandwidthLimitsReturns(garden.BandwidthLimits{RateInBytesPerSecond: 1, BurstRateInBytesPerSecond: 2}, nil)
			fakeCtr.CurrentCPULimitsReturns(garden.CPULimits{Weight: 3, LimitInShares: 4}, nil)
			fakeCtr.CurrentDiskLimitsReturns(garden.DiskLimits{InodeSoft: 5, InodeHard: 6, ByteSoft: 7, ByteHard: 8, Scope: 1}, nil)
			fakeCtr.CurrentMemoryLimitsReturns(garden.MemoryLimits{LimitInBytes: 9}, nil)
			Expect(ctr.CurrentBandwidthLimits()).To(Equal(garden.BandwidthLimits{RateInBytesPerSecond: 1, BurstRateInBytesPerSecond: 2}))
			Expect(ctr.CurrentCPULimits()).To(Equal(garden.CPULimits{Weight: 3, LimitInShares: 4}))
			Expect(ctr.CurrentDiskLimits()).To(Equal(garden.DiskLimits{InodeSoft: 5, InodeHard: 6, ByteSoft: 7, ByteHard: 8, Scope: 1}))
			Expect(ctr.CurrentMemoryLimits()).To(Equal(garden.MemoryLimits{LimitInBytes: 9}))
		})

		It("maps ports with NetIn", func() {
			fakeCtr.NetInReturns(61001, 8080, nil)
			host, cport, err := ctr.NetIn(0, 8080)
			Expect(err).NotTo(HaveOccurred())
			Expect(host).To(BeEquivalentTo(61001))
			Expect(cport).To(BeEquivalentTo(8080))
			h, p := fakeCtr.NetInArgsForCall(0)
			Expect([]uint32{h, p}).To(Equal([]uint32{0, 8080}))
		})

		It("adds NetOut rules", func() {
			rule := garden.NetOutRule{Protocol: garden.ProtocolUDP, Networks: []garden.IPRange{{Start: "8.8.8.8", End: "8.8.8.8"}},
				Ports: []garden.PortRange{{Start: 53, End: 53}}}
			Expect(ctr.NetOut(rule)).To(Succeed())
			Expect(ctr.BulkNetOut([]garden.NetOutRule{rule, rule})).To(Succeed())
			Expect(fakeCtr.NetOutArgsForCall(0)).To(Equal(rule))
			Expect(fakeCtr.BulkNetOutArgsForCall(0)).To(Equal([]garden.NetOutRule{rule, rule}))
		})

		It("gets Metrics", func() {
			m := garden.Metrics{CPUStat: garden.ContainerCPUStat{Usage: 1, User: 2, System: 3},
				NetworkStat: &garden.ContainerNetworkStat{RxBytes: 4, TxBytes: 5}, CPUEntitlement: 6}
			fakeCtr.MetricsReturns(m, nil)
			Expect(ctr.Metrics()).To(Equal(m))
		})

		It("sets the grace time", func() {
			Expect(ctr.SetGraceTime(90 * time.Second)).To(Succeed())
			Expect(fakeCtr.SetGraceTimeArgsForCall(0)).To(Equal(90 * time.Second))
		})

		It("reads and writes properties", func() {
			fakeCtr.PropertiesReturns(garden.Properties{"a": "1"}, nil)
			fakeCtr.PropertyReturns("1", nil)
			Expect(ctr.Properties()).To(Equal(garden.Properties{"a": "1"}))
			Expect(ctr.Property("a/b")).To(Equal("1"))
			Expect(fakeCtr.PropertyArgsForCall(0)).To(Equal("a/b"))
			Expect(ctr.SetProperty("x", "y")).To(Succeed())
			k, v := fakeCtr.SetPropertyArgsForCall(0)
			Expect([]string{k, v}).To(Equal([]string{"x", "y"}))
			Expect(ctr.RemoveProperty("x")).To(Succeed())
			Expect(fakeCtr.RemovePropertyArgsForCall(0)).To(Equal("x"))
		})
	})

	It("works over a unix socket", func() {
		sock := GinkgoT().TempDir() + "/garden.sock"
		ln, err := net.Listen("unix", sock)
		Expect(err).NotTo(HaveOccurred())
		unixSrv := httptest.NewUnstartedServer(srv)
		unixSrv.Listener.Close()
		unixSrv.Listener = ln
		unixSrv.Start()
		DeferCleanup(unixSrv.Close)

		uc := client.New("unix", sock)
		Expect(uc.Ping()).To(Succeed())

		proc := newScripted("p1")
		fakeCtr.RunStub = proc.run
		backend.ContainersReturns([]garden.Container{fakeCtr}, nil)
		ctr, err := uc.Lookup("h1")
		Expect(err).NotTo(HaveOccurred())
		out := new(safeBuffer)
		p, err := ctr.Run(garden.ProcessSpec{Path: "echo"}, garden.ProcessIO{Stdout: out})
		Expect(err).NotTo(HaveOccurred())
		proc.stdout("over unix")
		proc.exitWith(0)
		Expect(p.Wait()).To(Equal(0))
		Expect(out.String()).To(Equal("over unix"))
	})
})

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk gone") }

func makeTar(name, content string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	Expect(tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content))})).To(Succeed())
	_, err := tw.Write([]byte(content))
	Expect(err).NotTo(HaveOccurred())
	Expect(tw.Close()).To(Succeed())
	return buf.Bytes()
}
