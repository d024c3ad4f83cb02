package sse_test

import (
	"io"
	"net/http/httptest"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/sse"
)

var _ = Describe("Writer", func() {
	It("sends the event-stream headers and events with ids from 0 that the Reader reads back", func() {
		rec := httptest.NewRecorder()
		w, err := sse.NewWriter(rec)
		Expect(err).NotTo(HaveOccurred())
		Expect(rec.Header().Get("Content-Type")).To(Equal("text/event-stream; charset=utf-8"))
		Expect(rec.Header().Get("Cache-Control")).To(Equal("no-cache, no-store, must-revalidate"))
		Expect(rec.Header().Get("Connection")).To(Equal("keep-alive"))
		Expect(w.Send("first", []byte(`{"a":1}`))).To(Succeed())
		Expect(w.Send("second", []byte("x"))).To(Succeed())
		Expect(rec.Body.String()).To(Equal("id: 0\nevent: first\ndata: {\"a\":1}\n\nid: 1\nevent: second\ndata: x\n\n"))

		r := sse.NewReader(io.NopCloser(rec.Body))
		e, err := r.Next()
		Expect(err).NotTo(HaveOccurred())
		Expect(e).To(Equal(sse.Event{Name: "first", Data: `{"a":1}`}))
	})
})
