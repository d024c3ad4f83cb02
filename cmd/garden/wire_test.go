package main_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/garden"
)

// rawReply is one hand-written request's connection to garden, read byte
// by byte: the reply's status line and header block exactly as sent.
type rawReply struct {
	conn   net.Conn
	r      *bufio.Reader
	status string
	header http.Header
	lines  []string // the header lines as sent
}

func rawRequest(addr, method, path, body string) *rawReply {
	GinkgoHelper()
	conn, err := net.Dial("tcp", addr)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = conn.Close() })
	req := method + " " + path + " HTTP/1.1\r\nHost: garden\r\n"
	if body != "" {
		req += "Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
	}
	_, err = io.WriteString(conn, req+"\r\n"+body)
	Expect(err).NotTo(HaveOccurred())
	Expect(conn.SetReadDeadline(time.Now().Add(20 * time.Second))).To(Succeed())
	rr := &rawReply{conn: conn, r: bufio.NewReader(conn), header: http.Header{}}
	status, err := rr.r.ReadString('\n')
	Expect(err).NotTo(HaveOccurred())
	rr.status = strings.TrimSuffix(status, "\r\n")
	for {
		line, err := rr.r.ReadString('\n')
		Expect(err).NotTo(HaveOccurred())
		Expect(line).To(HaveSuffix("\r\n"))
		line = strings.TrimSuffix(line, "\r\n")
		if line == "" {
			return rr
		}
		rr.lines = append(rr.lines, line)
		k, v, ok := strings.Cut(line, ": ")
		Expect(ok).To(BeTrue(), line)
		rr.header.Add(k, v)
	}
}

// expectHijackedHead checks the header block of a hijacked reply: what
// Go's net/http writes when a handler flushes and hijacks, which Diego's
// Garden client reads with a persistent-connection reader (spec cell §2.6).
func (rr *rawReply) expectHijackedHead(status string) {
	GinkgoHelper()
	Expect(rr.status).To(Equal("HTTP/1.1 "+status), strings.Join(rr.lines, "\n"))
	Expect(rr.header).NotTo(HaveKey("Connection"), "a hijacked reply must not be marked to close")
	Expect(rr.header).NotTo(HaveKey("Content-Length"))
	Expect(rr.header).To(HaveKeyWithValue("Transfer-Encoding", []string{"chunked"}))
	Expect(rr.header).To(HaveKey("Date"))
}

func (rr *rawReply) line() string {
	GinkgoHelper()
	l, err := rr.r.ReadString('\n')
	Expect(err).NotTo(HaveOccurred())
	return l
}

func (rr *rawReply) rest() string {
	GinkgoHelper()
	data, err := io.ReadAll(rr.r)
	Expect(err).NotTo(HaveOccurred())
	return string(data)
}

var _ = Describe("the wire", func() {
	It("answers Run, Attach and the stdout/stderr attaches with net/http's hijack header block", func() {
		g := runningGarden()
		_, err := g.client.Create(garden.ContainerSpec{Handle: "wire"})
		Expect(err).NotTo(HaveOccurred())

		runReply := rawRequest(g.addr, "POST", "/containers/wire/processes",
			`{"id":"reader","path":"sh","args":["-c","read line; echo out:$line; echo err >&2; exit 7"]}`)
		runReply.expectHijackedHead("201 Created")
		Expect(runReply.header.Get("Content-Type")).To(Equal("application/json"))
		var first garden.ProcessPayload
		Expect(json.Unmarshal([]byte(runReply.line()), &first)).To(Succeed())
		Expect(first.ProcessID).To(Equal("reader"))
		Expect(first.StreamID).NotTo(BeEmpty())

		attachReply := rawRequest(g.addr, "GET", "/containers/wire/processes/reader", "")
		attachReply.expectHijackedHead("200 OK")
		Expect(attachReply.header.Get("Content-Type")).To(Equal("application/json"))
		var second garden.ProcessPayload
		Expect(json.Unmarshal([]byte(attachReply.line()), &second)).To(Succeed())
		Expect(second.ProcessID).To(Equal("reader"))
		Expect(second.StreamID).NotTo(Equal(first.StreamID))

		base := "/containers/wire/processes/reader/attaches/" + first.StreamID
		stdout := rawRequest(g.addr, "GET", base+"/stdout", "")
		stdout.expectHijackedHead("200 OK")
		stderr := rawRequest(g.addr, "GET", base+"/stderr", "")
		stderr.expectHijackedHead("200 OK")

		_, err = io.WriteString(runReply.conn, `{"process_id":"reader","source":0,"data":"hi\n"}`+"\n")
		Expect(err).NotTo(HaveOccurred())
		Expect(stdout.rest()).To(Equal("out:hi\n"))
		Expect(stderr.rest()).To(Equal("err\n"))
		Expect(runReply.line()).To(MatchJSON(`{"process_id":"reader","exit_status":7}`))
		Expect(attachReply.line()).To(MatchJSON(`{"process_id":"reader","exit_status":7}`))
	})
})
