package sse_test

import (
	"io"
	"strings"

	"diego/deploy/sse"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Reader", func() {
	It("reads events, joining data lines and skipping ids and comments", func() {
		r := sse.NewReader(io.NopCloser(strings.NewReader(
			": keep-alive\n\nid: 0\nevent: task_created\ndata: abc\n\nid: 1\r\nevent: multi\r\ndata: a\r\ndata:b\r\n\r\n")))
		e, err := r.Next()
		Expect(err).NotTo(HaveOccurred())
		Expect(e).To(Equal(sse.Event{Name: "task_created", Data: "abc"}))
		e, err = r.Next()
		Expect(err).NotTo(HaveOccurred())
		Expect(e).To(Equal(sse.Event{Name: "multi", Data: "a\nb"}))
		_, err = r.Next()
		Expect(err).To(MatchError(io.EOF))
	})

	It("answers ErrClosed after Close, even while blocked", func() {
		pr, pw := io.Pipe()
		r := sse.NewReader(pr)
		done := make(chan error)
		go func() {
			_, err := r.Next()
			done <- err
		}()
		Expect(r.Close()).To(Succeed())
		Eventually(done).Should(Receive(MatchError(sse.ErrClosed)))
		pw.Close()
	})
})
