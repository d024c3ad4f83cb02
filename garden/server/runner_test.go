package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"diego/garden"
	"diego/garden/server"
)

var _ = Describe("Runner", func() {
	It("starts the backend, serves on a unix socket, and stops both on a signal", func() {
		sock := GinkgoT().TempDir() + "/garden.sock"
		r, err := server.NewRunner(server.RunnerConfig{Network: "unix", Address: sock},
			server.RunnerDeps{Server: server.New(server.Deps{Clock: fakeClock, Backend: backend})})
		Expect(err).NotTo(HaveOccurred())

		proc := ifrit.Invoke(r)
		Expect(backend.StartCallCount()).To(Equal(1))
		Expect(backend.ContainersArgsForCall(backend.ContainersCallCount() - 1)).
			To(Equal(garden.Properties{"garden.state": "all"}))
		Expect(r.Addr()).To(Equal(sock))

		client := &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", sock)
			},
		}}
		resp, err := client.Get("http://garden/ping")
		Expect(err).NotTo(HaveOccurred())
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		Expect(string(body)).To(Equal("{}"))

		proc.Signal(os.Signal(syscall.SIGTERM))
		Eventually(proc.Wait()).Should(Receive(BeNil()))
		Expect(backend.StopCallCount()).To(Equal(1))
	})

	It("fails without serving when the backend does not start", func() {
		backend.StartReturns(garden.UnrecoverableError{Symptom: "no cgroups"})
		r, err := server.NewRunner(server.RunnerConfig{Network: "tcp", Address: "127.0.0.1:0"},
			server.RunnerDeps{Server: server.New(server.Deps{Clock: fakeClock, Backend: backend})})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Run(nil, make(chan struct{}))).To(MatchError(ContainSubstring("no cgroups")))
		Expect(backend.StopCallCount()).To(BeZero())
	})

	It("rejects networks other than tcp and unix", func() {
		_, err := server.NewRunner(server.RunnerConfig{Network: "udp", Address: "x"}, server.RunnerDeps{Server: srv})
		Expect(err).To(MatchError(ContainSubstring(`unsupported network "udp"`)))
	})
})
