package main_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/cluster"
	"diego/executor"
	"diego/garden"
	gardenclient "diego/garden/client"
	"diego/models"
)

// Issue 14 item 4: what a long-running container does beside its action
// (decisions 44-47), against a real garden.
var _ = Describe("executor LRP semantics", func() {
	var (
		cell   cluster.Cell
		sink   *logSink
		files  *fileServer
		ex     *executorProcess
		stream chan executor.Event
	)

	BeforeEach(func() {
		cell = startGarden()
		sink = newLogSink()
		files = newFileServer()
		ex = startExecutor(cell, sink.port())
		events, err := ex.client.SubscribeToEvents()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(events.Close)
		// Next blocks, so a goroutine feeds a channel that Eventually can
		// give up on.
		stream = make(chan executor.Event, 64)
		go func() {
			for {
				e, err := events.Next()
				if err != nil {
					return
				}
				stream <- e
			}
		}()
	})

	runLRP := func(guid string, info executor.RunInfo) {
		GinkgoHelper()
		failures, err := ex.client.AllocateContainers([]executor.AllocationRequest{{Guid: guid,
			Resource: executor.Resource{MemoryMB: 128, DiskMB: 256, MaxPids: 256}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(failures).To(BeEmpty())
		info.RootFSPath = rootfsDir
		info.LogConfig = executor.LogConfig{Guid: guid + "-log", SourceName: "APP"}
		Expect(ex.client.RunContainer(executor.RunRequest{Guid: guid, RunInfo: info})).To(Succeed())
	}

	// inContainer runs a command in the container through garden, as an
	// operator would, and waits for it.
	inContainer := func(guid string, args ...string) {
		GinkgoHelper()
		box, err := gardenclient.New("tcp", cell.GardenAddr).Lookup(guid)
		Expect(err).NotTo(HaveOccurred())
		p, err := box.Run(garden.ProcessSpec{Path: args[0], Args: args[1:]}, garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Wait()).To(BeZero())
	}

	state := func(guid string) func() executor.State {
		return func() executor.State {
			c, err := ex.client.GetContainer(guid)
			Expect(err).NotTo(HaveOccurred())
			return c.State
		}
	}

	completed := func(guid string) executor.Container {
		GinkgoHelper()
		Eventually(state(guid), 30*time.Second, 100*time.Millisecond).Should(Equal(executor.StateCompleted))
		c, err := ex.client.GetContainer(guid)
		Expect(err).NotTo(HaveOccurred())
		return c
	}

	It("keeps an LRP whose action exits 0 running while its monitor passes, and crashes it when the monitor fails", func() {
		runLRP("exit0-1", executor.RunInfo{
			Ports: []executor.PortMapping{{ContainerPort: 8080}},
			Setup: action(&models.DownloadAction{From: files.URL + "/healthcheck.tgz", To: "/tmp/lifecycle", User: "vcap"}),
			// busybox httpd without -f goes to the background: the action
			// itself exits 0 at once while the server keeps answering.
			Action: action(&models.RunAction{Path: "sh", User: "vcap", Args: []string{"-c",
				"mkdir -p /tmp/www && echo ok > /tmp/www/index.html && httpd -p 8080 -h /tmp/www"}}),
			Monitor: action(&models.RunAction{Path: "/tmp/lifecycle/healthcheck", Args: []string{"-port=8080"}, User: "vcap",
				LogSource: "HEALTH"}),
		})
		Eventually(stream, 30*time.Second).Should(Receive(HaveField("Type", executor.EventTypeContainerRunning)))
		Eventually(func() []string { return sink.messages("exit0-1-log") }, 5*time.Second).Should(ContainElement("APP: Exit status 0"))
		// Healthy checks every 200 ms: many pass while the action is gone.
		Consistently(state("exit0-1"), 2*time.Second, 100*time.Millisecond).Should(Equal(executor.StateRunning))

		inContainer("exit0-1", "killall", "httpd")
		c := completed("exit0-1")
		Expect(c.RunResult.Failed).To(BeTrue())
		Expect(c.RunResult.FailureReason).To(HavePrefix("Instance became unhealthy: failed to make TCP connection to "))
	})

	It("gives the process the environment container < LRP < action, each name once", func() {
		runLRP("env-1", executor.RunInfo{
			// What the rep sends: its own variables, then the LRP's.
			Env: []executor.EnvironmentVariable{
				{Name: "INSTANCE_INDEX", Value: "0"}, {Name: "FROM_CONTAINER", Value: "container"},
				{Name: "INSTANCE_INDEX", Value: "from-lrp"}, {Name: "SHARED", Value: "lrp"},
			},
			Action: action(&models.RunAction{Path: "sh", User: "vcap", Args: []string{"-c",
				`echo "index=$INSTANCE_INDEX from=$FROM_CONTAINER shared=$SHARED own=$OWN addr=$CF_INSTANCE_ADDR"; ` +
					`env | grep -c '^INSTANCE_INDEX='; sleep 3600`},
				Env: []*models.EnvironmentVariable{{Name: "SHARED", Value: "action"}, {Name: "OWN", Value: "action"},
					{Name: "CF_INSTANCE_ADDR", Value: "action-addr"}}}),
		})
		Eventually(func() []string { return sink.messages("env-1-log") }, 30*time.Second).Should(ContainElements(
			"APP: index=from-lrp from=container shared=action own=action addr=action-addr",
			"APP: 1", // INSTANCE_INDEX reaches the process once
		))
		Expect(ex.client.StopContainer("env-1")).To(Succeed())
		completed("env-1")
	})

	It("runs a check_definition's tcp check in place of the monitor: RUNNING only once it passes, crashed when it fails", func() {
		runLRP("checks-1", executor.RunInfo{
			Ports: []executor.PortMapping{{ContainerPort: 8080}, {ContainerPort: 8081}},
			// The server starts once /tmp/go exists, the readiness port
			// answers once /tmp/ready exists, and the server stops once
			// /tmp/stop exists.
			Action: action(&models.RunAction{Path: "sh", User: "vcap", Args: []string{"-c",
				// (The readiness server keeps running: its output goes
				// elsewhere, so that the action's stdio closes when the
				// action is stopped.)
				"mkdir -p /tmp/www; while [ ! -e /tmp/go ]; do sleep 0.1; done; httpd -f -p 8080 -h /tmp/www & pid=$!; " +
					"while [ ! -e /tmp/ready ]; do sleep 0.1; done; httpd -f -p 8081 -h /tmp/www >/dev/null 2>&1 & " +
					"while [ ! -e /tmp/stop ]; do sleep 0.1; done; kill $pid; sleep 3600"}}),
			// A monitor that could never pass, and leaves a mark: the
			// checks replace it.
			Monitor: action(&models.RunAction{Path: "sh", Args: []string{"-c", "touch /tmp/monitor-ran; exit 1"}, User: "vcap"}),
			CheckDefinition: &models.CheckDefinition{
				Checks:          []*models.Check{{TcpCheck: &models.TCPCheck{Port: 8080, IntervalMs: 200}}},
				ReadinessChecks: []*models.Check{{TcpCheck: &models.TCPCheck{Port: 8081, IntervalMs: 200}}},
			},
		})
		Eventually(state("checks-1"), 30*time.Second).Should(Equal(executor.StateCreated))
		Consistently(state("checks-1"), 2*time.Second, 100*time.Millisecond).Should(Equal(executor.StateCreated))

		inContainer("checks-1", "touch", "/tmp/go")
		var running executor.Event
		Eventually(stream, 10*time.Second).Should(Receive(&running, HaveField("Type", executor.EventTypeContainerRunning)))
		Expect(running.Container.Routable).To(BeFalse(), "not routable before the readiness check passes")
		Eventually(func() []string { return sink.messages("checks-1-log") }, 5*time.Second).Should(ContainElements(
			"APP: Starting health monitoring of container", "APP: Container became healthy"))

		inContainer("checks-1", "touch", "/tmp/ready")
		Eventually(stream, 10*time.Second).Should(Receive(&running, And(
			HaveField("Type", executor.EventTypeContainerRunning), HaveField("Container.Routable", BeTrue()))))
		c, err := ex.client.GetContainer("checks-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Routable).To(BeTrue())

		inContainer("checks-1", "test", "!", "-e", "/tmp/monitor-ran")

		inContainer("checks-1", "touch", "/tmp/stop")
		c = completed("checks-1")
		Expect(c.RunResult.Failed).To(BeTrue())
		Expect(c.RunResult.FailureReason).To(HavePrefix("Instance became unhealthy: failed to make TCP connection to " + c.InternalIP + ":8080"))
	})

	It("runs a check_definition's http check: only a 200 on its path passes", func() {
		runLRP("http-1", executor.RunInfo{
			Ports: []executor.PortMapping{{ContainerPort: 8080}},
			// The server answers at once, but /health exists only once
			// /tmp/go does (busybox httpd answers 404 until then).
			Action: action(&models.RunAction{Path: "sh", User: "vcap", Args: []string{"-c",
				"mkdir -p /tmp/www; httpd -f -p 8080 -h /tmp/www & " +
					"while [ ! -e /tmp/go ]; do sleep 0.1; done; echo ok > /tmp/www/health; wait"}}),
			CheckDefinition: &models.CheckDefinition{LogSource: "HC", Checks: []*models.Check{
				{HttpCheck: &models.HTTPCheck{Port: 8080, Path: "/health", RequestTimeoutMs: 2000}},
			}},
		})
		Eventually(state("http-1"), 30*time.Second).Should(Equal(executor.StateCreated))
		Consistently(state("http-1"), time.Second, 100*time.Millisecond).Should(Equal(executor.StateCreated))
		inContainer("http-1", "touch", "/tmp/go")
		Eventually(stream, 10*time.Second).Should(Receive(And(
			HaveField("Type", executor.EventTypeContainerRunning), HaveField("Container.Routable", BeTrue()))))
		Expect(ex.client.StopContainer("http-1")).To(Succeed())
		c := completed("http-1")
		Expect(c.RunResult.Stopped).To(BeTrue())
	})

	It("crashes the instance when a sidecar crashes", func() {
		runLRP("sidecar-1", executor.RunInfo{
			Action: action(&models.RunAction{Path: "sleep", Args: []string{"3600"}, User: "vcap"}),
			Sidecars: []executor.Sidecar{{MemoryMB: 16, Action: action(&models.RunAction{Path: "sh", User: "vcap", Args: []string{"-c",
				"echo sidecar up; while [ ! -e /tmp/crash ]; do sleep 0.1; done; exit 7"}})}},
		})
		Eventually(stream, 30*time.Second).Should(Receive(HaveField("Type", executor.EventTypeContainerRunning)))
		Eventually(func() []string { return sink.messages("sidecar-1-log") }, 5*time.Second).Should(ContainElement("APP: sidecar up"))
		Consistently(state("sidecar-1"), time.Second, 100*time.Millisecond).Should(Equal(executor.StateRunning))

		inContainer("sidecar-1", "touch", "/tmp/crash")
		c := completed("sidecar-1")
		Expect(c.RunResult).To(Equal(executor.ContainerRunResult{Failed: true, FailureReason: "Exited with status 7"}))
	})
})
