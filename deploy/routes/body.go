package routes

import (
	"io"
	"sync"
)

// buffers holds the byte slices that request and response bodies are read
// into and marshalled into, so a busy API server or client does not allocate
// and collect a buffer per call. protobuf's Unmarshal copies what it keeps,
// so a buffer is free again once its body is parsed.
var buffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuffer keeps the pool from pinning a large body's buffer (every
// desired LRP, a cell's LRPs) for the small ones that follow.
const maxPooledBuffer = 64 << 10

// GetBuffer takes an empty buffer from the pool; PutBuffer gives it back.
func GetBuffer() *[]byte { return buffers.Get().(*[]byte) }

// PutBuffer returns b to the pool unless it grew too large to keep.
func PutBuffer(b *[]byte) {
	if cap(*b) <= maxPooledBuffer {
		*b = (*b)[:0]
		buffers.Put(b)
	}
}

// ReadBody appends all of r to buf, growing it once to the declared length
// when that is known and at most maxPresize (so a declared length alone
// cannot make the reader allocate more), instead of doubling from 512 bytes
// as io.ReadAll does. A longer body grows the buffer as it arrives.
func ReadBody(buf []byte, r io.Reader, contentLength, maxPresize int64) ([]byte, error) {
	if contentLength > 0 && contentLength <= maxPresize && int64(cap(buf)) < contentLength+1 {
		// One spare byte lets the read see EOF without growing again.
		buf = make([]byte, 0, contentLength+1)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
