package main_test

import (
	"crypto/md5"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"diego/executor"
	"diego/garden"
	gardenclient "diego/garden/client"
	"diego/models"
)

// fileServer serves the downloads and records the uploads of a spec.
type fileServer struct {
	*httptest.Server
	mu       sync.Mutex
	uploads  map[string][]byte
	headers  map[string]http.Header
	release  chan struct{}
	stalling chan struct{}
}

func newFileServer() *fileServer {
	GinkgoHelper()
	healthcheck, err := os.ReadFile(healthcheckPath)
	Expect(err).NotTo(HaveOccurred())
	files := map[string][]byte{
		"/app.tgz":         tgz(map[string]string{"run.sh": "#!/bin/sh\necho \"hello from $1\"\necho done > /tmp/result.txt\n"}, 0o755),
		"/healthcheck.tgz": tgz(map[string]string{"healthcheck": string(healthcheck)}, 0o755),
	}
	s := &fileServer{uploads: map[string][]byte{}, headers: map[string]http.Header{},
		release: make(chan struct{}), stalling: make(chan struct{}, 1)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/stall":
			s.stalling <- struct{}{}
			<-s.release
		case r.Method == http.MethodGet:
			body, ok := files[r.URL.Path]
			if !ok {
				http.NotFound(w, r)
				return
			}
			_, _ = w.Write(body)
		case r.Method == http.MethodPost:
			body, _ := io.ReadAll(r.Body)
			s.mu.Lock()
			s.uploads[r.URL.Path], s.headers[r.URL.Path] = body, r.Header.Clone()
			s.mu.Unlock()
		}
	}))
	DeferCleanup(func() {
		close(s.release)
		s.Close()
	})
	return s
}

func (s *fileServer) upload(path string) ([]byte, http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.uploads[path], s.headers[path]
}

func action(a models.ValidatableAction) *models.Action { return models.WrapAction(a) }

var _ = Describe("executor", func() {
	var (
		gardenAddr string
		sink       *logSink
		files      *fileServer
		ex         *executorProcess
	)

	BeforeEach(func() {
		gardenAddr = startGarden()
		sink = newLogSink()
		files = newFileServer()
		ex = startExecutor(gardenAddr, sink.port(), nil)
	})

	// runContainer allocates guid and runs info, returning the completed
	// container.
	runContainer := func(guid string, info executor.RunInfo) executor.Container {
		GinkgoHelper()
		failures, err := ex.client.AllocateContainers([]executor.AllocationRequest{{Guid: guid,
			Resource: executor.Resource{MemoryMB: 128, DiskMB: 256, MaxPids: 256}, Tags: executor.Tags{"kind": "test"}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(failures).To(BeEmpty())
		if info.RootFSPath == "" {
			info.RootFSPath = rootfsDir
		}
		Expect(ex.client.RunContainer(executor.RunRequest{Guid: guid, RunInfo: info})).To(Succeed())
		var c executor.Container
		Eventually(func() executor.State {
			c, err = ex.client.GetContainer(guid)
			Expect(err).NotTo(HaveOccurred())
			return c.State
		}, 60*time.Second, 100*time.Millisecond).Should(Equal(executor.StateCompleted))
		return c
	}

	It("runs a task: download, run, upload, and completes with the result, logging to metron", func() {
		c := runContainer("task-1", executor.RunInfo{
			LogConfig: executor.LogConfig{Guid: "log-guid-1", Index: 0, SourceName: "TASK"},
			Action: action(&models.SerialAction{Actions: []*models.Action{
				action(&models.DownloadAction{From: files.URL + "/app.tgz", To: "/home/vcap/app", User: "vcap"}),
				action(&models.RunAction{Path: "/home/vcap/app/run.sh", Args: []string{"the container"}, User: "vcap"}),
				action(&models.UploadAction{From: "/tmp/result.txt", To: files.URL + "/result", User: "vcap"}),
			}}),
		})
		Expect(c.RunResult.Failed).To(BeFalse(), c.RunResult.FailureReason)

		body, headers := files.upload("/result")
		Expect(string(body)).To(Equal("done\n"))
		sum := md5.Sum(body)
		Expect(headers.Get("Content-MD5")).To(Equal(base64.StdEncoding.EncodeToString(sum[:])))
		Expect(headers.Get("Content-Type")).To(Equal("application/octet-stream"))

		Eventually(func() []string { return sink.messages("log-guid-1") }, 5*time.Second).Should(ContainElements(
			"TASK: hello from the container", "TASK: Exit status 0"))
		Expect(sink.bad).To(BeZero())

		Expect(ex.client.DeleteContainer("task-1")).To(Succeed())
		_, err := gardenclient.New("tcp", gardenAddr).Lookup("task-1")
		Expect(err).To(MatchError(garden.ContainerNotFoundError{Handle: "task-1"}))
	})

	It("fails with the spec's reasons: exit status, timeout, codependent exit", func() {
		c := runContainer("fail-1", executor.RunInfo{Action: action(&models.RunAction{Path: "sh", Args: []string{"-c", "exit 3"}, User: "vcap"})})
		Expect(c.RunResult).To(Equal(executor.ContainerRunResult{Failed: true, FailureReason: "Exited with status 3"}))

		c = runContainer("fail-2", executor.RunInfo{Action: action(&models.TimeoutAction{TimeoutMs: 500,
			Action: action(&models.RunAction{Path: "sleep", Args: []string{"30"}, User: "vcap"})})})
		Expect(c.RunResult.Failed).To(BeTrue())
		Expect(c.RunResult.FailureReason).To(HavePrefix("exceeded 500ms timeout"))

		c = runContainer("fail-3", executor.RunInfo{Action: action(&models.CodependentAction{Actions: []*models.Action{
			action(&models.RunAction{Path: "true", User: "vcap"}),
			action(&models.RunAction{Path: "sleep", Args: []string{"30"}, User: "vcap"}),
		}})})
		Expect(c.RunResult).To(Equal(executor.ContainerRunResult{Failed: true, FailureReason: "Codependent step exited"}))
	})

	It("stops a container mid-download", func() {
		_, err := ex.client.AllocateContainers([]executor.AllocationRequest{{Guid: "stall-1", Resource: executor.Resource{MemoryMB: 64}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(ex.client.RunContainer(executor.RunRequest{Guid: "stall-1", RunInfo: executor.RunInfo{RootFSPath: rootfsDir,
			Action: action(&models.DownloadAction{From: files.URL + "/stall", To: "/tmp", User: "vcap"})}})).To(Succeed())
		Eventually(files.stalling, 30*time.Second).Should(Receive())
		Expect(ex.client.StopContainer("stall-1")).To(Succeed())
		// Stopped is set as the stop is asked for; completed follows once
		// the download step has let go.
		Eventually(func() (executor.State, error) {
			c, err := ex.client.GetContainer("stall-1")
			return c.State, err
		}, 20*time.Second).Should(Equal(executor.StateCompleted))
		c, err := ex.client.GetContainer("stall-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(c.RunResult.Stopped).To(BeTrue())
	})

	It("runs an LRP that becomes healthy through its monitor and unhealthy when the server stops answering", func() {
		events, err := ex.client.SubscribeToEvents()
		Expect(err).NotTo(HaveOccurred())
		defer events.Close()
		_, err = ex.client.AllocateContainers([]executor.AllocationRequest{{Guid: "lrp-1", Resource: executor.Resource{MemoryMB: 128}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(ex.client.RunContainer(executor.RunRequest{Guid: "lrp-1", RunInfo: executor.RunInfo{
			RootFSPath: rootfsDir,
			Ports:      []executor.PortMapping{{ContainerPort: 8080}},
			LogConfig:  executor.LogConfig{Guid: "lrp-log", SourceName: "APP"},
			Setup:      action(&models.DownloadAction{From: files.URL + "/healthcheck.tgz", To: "/tmp/lifecycle", User: "vcap"}),
			// The server answers until /tmp/stop exists.
			Action: action(&models.RunAction{Path: "sh", User: "vcap", Args: []string{"-c",
				"mkdir -p /tmp/www && echo ok > /tmp/www/index.html && httpd -f -p 8080 -h /tmp/www & pid=$!; " +
					"while [ ! -e /tmp/stop ]; do sleep 0.1; done; kill $pid; sleep 3600"}}),
			Monitor: action(&models.RunAction{Path: "/tmp/lifecycle/healthcheck", Args: []string{"-port=8080"}, User: "vcap",
				LogSource: "HEALTH"}),
		}})).To(Succeed())

		// Next blocks, so a goroutine feeds a channel that Eventually can
		// give up on.
		stream := make(chan executor.Event, 16)
		go func() {
			defer GinkgoRecover()
			for {
				e, err := events.Next()
				if err != nil {
					return
				}
				stream <- e
			}
		}()
		var running executor.Event
		Eventually(stream, 30*time.Second).Should(Receive(&running, HaveField("Type", executor.EventTypeContainerRunning)))
		Expect(running.Container.Ports[0].HostPort).NotTo(BeZero())
		Expect(running.Container.ExternalIP).NotTo(BeEmpty())
		Eventually(func() []string { return sink.messages("lrp-log") }, 5*time.Second).Should(ContainElements(
			"APP: Starting health monitoring of container", "APP: Container became healthy"))

		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(int(running.Container.Ports[0].HostPort)) + "/index.html")
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))

		box, err := gardenclient.New("tcp", gardenAddr).Lookup("lrp-1")
		Expect(err).NotTo(HaveOccurred())
		p, err := box.Run(garden.ProcessSpec{Path: "touch", Args: []string{"/tmp/stop"}}, garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Wait()).To(BeZero())

		c := executor.Container{}
		Eventually(func() executor.State {
			c, err = ex.client.GetContainer("lrp-1")
			Expect(err).NotTo(HaveOccurred())
			return c.State
		}, 20*time.Second).Should(Equal(executor.StateCompleted))
		Expect(c.RunResult.Failed).To(BeTrue())
		Expect(c.RunResult.FailureReason).To(HavePrefix("Instance became unhealthy: "))
		Expect(sink.messages("lrp-log")).To(ContainElement("APP: Container became unhealthy"))
	})

	It("destroys the containers it owned when it restarts", func() {
		_, err := ex.client.AllocateContainers([]executor.AllocationRequest{{Guid: "owned-1", Resource: executor.Resource{MemoryMB: 64}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(ex.client.RunContainer(executor.RunRequest{Guid: "owned-1", RunInfo: executor.RunInfo{RootFSPath: rootfsDir,
			Action: action(&models.RunAction{Path: "sleep", Args: []string{"3600"}, User: "vcap"})}})).To(Succeed())
		gc := gardenclient.New("tcp", gardenAddr)
		Eventually(func() error { _, err := gc.Lookup("owned-1"); return err }, 20*time.Second).Should(Succeed())

		ex.session.Kill()
		Eventually(ex.session).Should(gexec.Exit())
		restarted := start(executorPath, ex.config)
		DeferCleanup(stop, restarted)
		_, err = gc.Lookup("owned-1")
		Expect(err).To(MatchError(garden.ContainerNotFoundError{Handle: "owned-1"}))
	})
})
