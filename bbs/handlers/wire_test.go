package handlers_test

import (
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"regexp"
	"strings"
	"time"

	"diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"
)

// The API's HTTP/1.1 answers byte for byte: Diego's own BBS client and the
// BBS CLI read them, so the cheaper serving path (decision 191) must not
// change a header, its order or the framing.
var _ = Describe("the HTTP/1.1 wire", func() {
	var (
		f    *fixture
		srv  *httptest.Server
		task *models.Task
	)

	BeforeEach(func() {
		f = newFixture()
		task = &models.Task{TaskGuid: "read-1", Domain: "bench", State: models.Task_Pending, CreatedAt: 7}
		f.tasks.TaskByGuidReturns(task, nil)
		srv = httptest.NewServer(f.server)
		DeferCleanup(srv.Close)
	})

	// answer sends raw on a fresh connection with "Connection: close" and
	// returns the server's bytes up to the close, Date masked.
	answer := func(raw string) string {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		Expect(conn.SetDeadline(time.Now().Add(5 * time.Second))).To(Succeed())
		_, err = io.WriteString(conn, raw)
		Expect(err).NotTo(HaveOccurred())
		out, err := io.ReadAll(conn)
		Expect(err).NotTo(HaveOccurred())
		return dateValue.ReplaceAllString(string(out), "Date: <date>\r\n")
	}

	post := func(path string, headers string, body []byte) string {
		return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: bbs\r\n%sContent-Length: %d\r\nConnection: close\r\n\r\n%s", path, headers, len(body), body)
	}

	marshal := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		Expect(err).NotTo(HaveOccurred())
		return b
	}

	It("answers a read with the same status line, headers and body", func() {
		want := marshal(&models.TaskResponse{Task: task})
		got := answer(post("/v1/tasks/get_by_task_guid.r3", "Content-Type: application/x-protobuf\r\nX-Vcap-Request-Id: req-1\r\n",
			marshal(&models.TaskByGuidRequest{TaskGuid: "read-1"})))
		Expect(got).To(Equal(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: application/x-protobuf\r\n"+
			"X-Vcap-Request-Id: req-1\r\nDate: <date>\r\nConnection: close\r\n\r\n%s", len(want), want)))
	})

	It("answers a request without an id or a content type, and one whose content type has parameters", func() {
		want := marshal(&models.TaskResponse{Task: task})
		head := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: application/x-protobuf\r\n"+
			"Date: <date>\r\nConnection: close\r\n\r\n%s", len(want), want)
		req := marshal(&models.TaskByGuidRequest{TaskGuid: "read-1"})
		Expect(answer(post("/v1/tasks/get_by_task_guid.r3", "", req))).To(Equal(head))
		Expect(answer(post("/v1/tasks/get_by_task_guid.r3", "Content-Type: application/x-protobuf; proto=models.TaskByGuidRequest\r\n", req))).To(Equal(head))
	})

	It("refuses another content type in field 1, as before", func() {
		got := answer(post("/v1/tasks/get_by_task_guid.r3", "Content-Type: application/json\r\n", []byte(`{}`)))
		want := marshal(&models.TaskResponse{Error: models.NewError(models.Error_InvalidRequest,
			`unsupported content type "application/json": send application/x-protobuf`)})
		Expect(got).To(Equal(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: application/x-protobuf\r\n"+
			"Date: <date>\r\nConnection: close\r\n\r\n%s", len(want), want)))
		Expect(f.tasks.TaskByGuidCallCount()).To(BeZero())
	})

	It("still routes a wrong method, a parameterised path and an unclean path through the router", func() {
		Expect(answer("GET /v1/tasks/get_by_task_guid.r3 HTTP/1.1\r\nHost: bbs\r\nConnection: close\r\n\r\n")).To(
			Equal("HTTP/1.1 405 Method Not Allowed\r\nDate: <date>\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
		Expect(answer(post("/v1//tasks/get_by_task_guid.r3", "", nil))).To(
			Equal("HTTP/1.1 301 Moved Permanently\r\nLocation: /v1/tasks/get_by_task_guid.r3\r\nDate: <date>\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
		Expect(answer(post("/v1/tasks/get_by_task_guid%2Er3", "", nil))).To(Equal("HTTP/1.1 404 Not Found\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nDate: <date>\r\nContent-Length: 19\r\n" +
			"Connection: close\r\n\r\n404 page not found\n"))
	})

	It("answers each request with its own body when a large answer came first", func() {
		big := &models.Task{TaskGuid: "read-1", Domain: "bench", FailureReason: strings.Repeat("x", 20000)}
		f.tasks.TaskByGuidReturnsOnCall(0, big, nil)
		f.tasks.TaskByGuidReturnsOnCall(1, task, nil)
		req := marshal(&models.TaskByGuidRequest{TaskGuid: "read-1"})
		for _, want := range []*models.Task{big, task} {
			got := answer(post("/v1/tasks/get_by_task_guid.r3", "", req))
			head, body, _ := strings.Cut(got, "\r\n\r\n")
			// Large or small, an answer is framed by its own length, never chunked.
			Expect(head).To(Equal(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: application/x-protobuf\r\n"+
				"Date: <date>\r\nConnection: close", len(body))))
			var resp models.TaskResponse
			Expect(proto.Unmarshal([]byte(body), &resp)).To(Succeed())
			Expect(proto.Equal(resp.Task, want)).To(BeTrue())
		}
	})
})

var dateValue = regexp.MustCompile(`Date: [^\r]*\r\n`)
