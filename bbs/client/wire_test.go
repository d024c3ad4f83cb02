package client_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	bbsclient "diego/bbs/client"
	"diego/models"
)

// The client's requests byte for byte: building them from per-route
// templates (decision 192) must send what http.NewRequest did.
var _ = Describe("the request on the wire", func() {
	var (
		ln       net.Listener
		client   *bbsclient.Client
		received chan string
		answers  chan []byte
	)

	BeforeEach(func() {
		var err error
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(ln.Close)
		received, answers = make(chan string, 10), make(chan []byte, 10)
		// A raw server: each request's bytes go to received, and it answers
		// with the next protobuf body from answers, keeping the connection.
		go func() {
			defer GinkgoRecover()
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				go serveRaw(conn, received, answers)
			}
		}()
		client, err = bbsclient.New(bbsclient.Config{URL: "http://" + ln.Addr().String()})
		Expect(err).NotTo(HaveOccurred())
	})

	It("sends a call with a body as before", func() {
		body, err := proto.Marshal(&models.TaskResponse{Task: &models.Task{TaskGuid: "t-1"}})
		Expect(err).NotTo(HaveOccurred())
		answers <- body
		task, err := client.TaskByGuid(bbsclient.WithTraceID(context.Background(), "req-9"), "t-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(task.GetTaskGuid()).To(Equal("t-1"))
		req, err := proto.Marshal(&models.TaskByGuidRequest{TaskGuid: "t-1"})
		Expect(err).NotTo(HaveOccurred())
		Eventually(received).Should(Receive(Equal(fmt.Sprintf("POST /v1/tasks/get_by_task_guid.r3 HTTP/1.1\r\nHost: %s\r\n"+
			"User-Agent: Go-http-client/1.1\r\nContent-Length: %d\r\nContent-Type: application/x-protobuf\r\n"+
			"X-Vcap-Request-Id: req-9\r\nAccept-Encoding: gzip\r\n\r\n%s", ln.Addr(), len(req), req))))
	})

	It("sends a call without a body with a zero length and no content type", func() {
		body, err := proto.Marshal(&models.PingResponse{Available: true})
		Expect(err).NotTo(HaveOccurred())
		answers <- body
		Expect(client.Ping(context.Background())).To(BeTrue())
		Eventually(received).Should(Receive(Equal(fmt.Sprintf("POST /v1/ping HTTP/1.1\r\nHost: %s\r\n"+
			"User-Agent: Go-http-client/1.1\r\nContent-Length: 0\r\nAccept-Encoding: gzip\r\n\r\n", ln.Addr()))))
	})

	It("reads every answer whole, a large one and then a small one, on one connection", func() {
		big := &models.Task{TaskGuid: "t-1", FailureReason: strings.Repeat("x", 100000)}
		for _, t := range []*models.Task{big, {TaskGuid: "t-2"}} {
			body, err := proto.Marshal(&models.TaskResponse{Task: t})
			Expect(err).NotTo(HaveOccurred())
			answers <- body
			got, err := client.TaskByGuid(context.Background(), t.TaskGuid)
			Expect(err).NotTo(HaveOccurred())
			Expect(proto.Equal(got, t)).To(BeTrue())
		}
	})
})

// serveRaw reads requests off conn, reports each one's exact bytes and
// answers it with the next body from answers.
func serveRaw(conn net.Conn, received chan<- string, answers <-chan []byte) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		var raw strings.Builder
		tee := bufio.NewReader(io.TeeReader(r, &raw))
		req, err := http.ReadRequest(tee)
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return
		}
		// Drop what the tee read ahead of the request's end: ReadRequest's
		// buffer may hold the start of the next request (none here, as the
		// client waits for each answer).
		received <- raw.String()[:raw.Len()-tee.Buffered()]
		var body []byte
		select {
		case body = <-answers:
		case <-time.After(5 * time.Second):
			return
		}
		fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	}
}
