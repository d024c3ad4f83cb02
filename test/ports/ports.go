// Package ports hands out TCP/UDP ports for tests that start real servers.
//
// Ports come from 10000-29999, below Linux's default ephemeral range
// (32768-60999) so the kernel never picks them for outgoing connections, and
// well clear of garden's host ports (61001+). The range is split into blocks
// of 500. A process claims a whole block at a time with an flock on a file
// in the temp dir, so concurrent processes (ginkgo -p, go test ./...) never
// share a block; the lock dies with the process. The ginkgo parallel process
// number (env GINKGO_PARALLEL_PROCESS, else the -ginkgo.parallel.process flag
// the ginkgo CLI passes, else 1) or SetBlock only says which block to try
// first, so parallel ginkgo processes rarely contend for a lock.
package ports

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

const (
	// First is the lowest port ever handed out.
	First = 10000
	// BlockSize is how many ports a process claims at once.
	BlockSize = 500
	// Blocks is how many blocks the range holds.
	Blocks = 40
)

type block struct {
	// lock is the open lock file; it must stay referenced, or the GC would
	// close it and free the claim while the process still uses the block.
	lock io.Closer
	next int // offset of the next candidate within the block
}

var (
	mu        sync.Mutex
	preferred = blockFromEnv()
	current   = -1 // index of the block ports come from, -1 before the first claim
	held      = map[int]*block{}
)

// Next returns a port on 127.0.0.1 that no other live process of the run has
// been given, that this process has not handed out before, and that is not
// bound right now over TCP or UDP. It panics when every block is used up,
// which only a runaway test can cause.
func Next() uint16 {
	mu.Lock()
	defer mu.Unlock()

	if current < 0 {
		current = claimFrom(preferred)
	}
	for {
		b := held[current]
		for b.next < BlockSize {
			port := First + current*BlockSize + b.next
			b.next++
			if free(port) {
				return uint16(port)
			}
		}
		current = claimFrom(current + 1)
	}
}

// Addr returns "127.0.0.1:<port>" for a port from Next.
func Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(int(Next())))
}

// SetBlock makes later ports come from block n (1-based, numbered like
// GINKGO_PARALLEL_PROCESS, wrapping past Blocks), or from the next block
// free of other processes. Ports this process already handed out from that
// block are not handed out again.
func SetBlock(n int) {
	mu.Lock()
	defer mu.Unlock()
	preferred = wrap(n - 1)
	current = claimFrom(preferred)
}

func blockFromEnv() int {
	n, err := strconv.Atoi(os.Getenv("GINKGO_PARALLEL_PROCESS"))
	if err != nil || n < 1 {
		n = processFromArgs(os.Args[1:])
	}
	return wrap(n - 1)
}

// processFromArgs reads the parallel process number the ginkgo CLI passes to
// each test binary; this package must not import ginkgo to ask it.
func processFromArgs(args []string) int {
	for i, arg := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if name != "ginkgo.parallel.process" {
			continue
		}
		if !hasValue && i+1 < len(args) {
			value = args[i+1]
		}
		if n, err := strconv.Atoi(value); err == nil && n >= 1 {
			return n
		}
	}
	return 1
}

func wrap(i int) int {
	return ((i % Blocks) + Blocks) % Blocks
}

// claimFrom returns the first block, starting at index start, that this
// process already holds with ports left or can lock now. Called with mu held.
func claimFrom(start int) int {
	for i := range Blocks {
		idx := wrap(start + i)
		if b, ok := held[idx]; ok {
			if b.next < BlockSize {
				return idx
			}
			continue
		}
		lock, ok := lockBlock(idx)
		if !ok {
			continue
		}
		held[idx] = &block{lock: lock}
		return idx
	}
	panic(fmt.Sprintf("ports: all %d blocks of %d ports are used up or held by other processes", Blocks, BlockSize))
}

// free reports whether the port can be bound on 127.0.0.1 over TCP and UDP;
// a server started later may use either.
func free(port int) bool {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer l.Close()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	pc.Close()
	return true
}
