package routes_test

import (
	"bytes"
	"errors"
	"io"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/routes"
)

var _ = Describe("ReadBody", func() {
	body := strings.Repeat("0123456789", 1000)

	It("reads a body of a declared length into one buffer of that size", func() {
		got, err := routes.ReadBody(nil, strings.NewReader(body), int64(len(body)), 1<<20)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(got)).To(Equal(body))
		Expect(cap(got)).To(Equal(len(body) + 1))
	})

	It("reads a body of unknown length, or one longer than the presize bound, as it arrives", func() {
		for _, declared := range []int64{-1, int64(len(body))} {
			got, err := routes.ReadBody(nil, fewBytesAtATime(body), declared, 100)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(got)).To(Equal(body))
		}
	})

	It("appends to what the buffer holds and returns a read error with what it read", func() {
		failing := io.MultiReader(strings.NewReader("abc"), errReader{})
		got, err := routes.ReadBody([]byte("x"), failing, -1, 100)
		Expect(err).To(MatchError("broken"))
		Expect(string(got)).To(Equal("xabc"))
	})

	It("keeps a small buffer in the pool, emptied, and drops a large one", func() {
		b := routes.GetBuffer()
		*b = append(*b, "data"...)
		routes.PutBuffer(b)
		Expect(*routes.GetBuffer()).To(BeEmpty())
		big := make([]byte, 1<<20)
		routes.PutBuffer(&big)
		Expect(big).To(HaveLen(1 << 20)) // not reset: not pooled
	})
})

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("broken") }

// fewBytesAtATime yields s seven bytes per read, as a slow connection would.
func fewBytesAtATime(s string) io.Reader { return &smallReads{r: bytes.NewReader([]byte(s))} }

type smallReads struct{ r *bytes.Reader }

func (s *smallReads) Read(p []byte) (int, error) {
	if len(p) > 7 {
		p = p[:7]
	}
	return s.r.Read(p)
}
