package ports_test

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"diego/test/ports"
)

const last = ports.First + ports.Blocks*ports.BlockSize - 1

func blockOf(p uint16) int {
	return (int(p) - ports.First) / ports.BlockSize
}

func expectBindable(p uint16) {
	addr := "127.0.0.1:" + strconv.Itoa(int(p))
	l, err := net.Listen("tcp", addr)
	Expect(err).NotTo(HaveOccurred())
	Expect(l.Close()).To(Succeed())
	pc, err := net.ListenPacket("udp", addr)
	Expect(err).NotTo(HaveOccurred())
	Expect(pc.Close()).To(Succeed())
}

var _ = Describe("Next", func() {
	It("hands out distinct, bindable ports inside the range", func() {
		seen := map[uint16]bool{}
		for range 300 {
			p := ports.Next()
			Expect(seen).NotTo(HaveKey(p))
			seen[p] = true
			Expect(int(p)).To(BeNumerically(">=", ports.First))
			Expect(int(p)).To(BeNumerically("<=", last))
		}
		for p := range seen {
			expectBindable(p)
		}
	})

	It("never hands the same port to two goroutines", func() {
		const goroutines, each = 8, 50
		var (
			mu   sync.Mutex
			seen = map[uint16]int{}
			wg   sync.WaitGroup
		)
		for range goroutines {
			wg.Go(func() {
				got := make([]uint16, 0, each)
				for range each {
					got = append(got, ports.Next())
				}
				mu.Lock()
				defer mu.Unlock()
				for _, p := range got {
					seen[p]++
				}
			})
		}
		wg.Wait()
		Expect(seen).To(HaveLen(goroutines * each))
	})

	It("skips ports that are already bound over TCP or UDP", func() {
		p := ports.Next()
		tcp, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(int(p)+1))
		Expect(err).NotTo(HaveOccurred())
		defer tcp.Close()
		udp, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(int(p)+2))
		Expect(err).NotTo(HaveOccurred())
		defer udp.Close()

		q := ports.Next()
		Expect(q).NotTo(Equal(p + 1))
		Expect(q).NotTo(Equal(p + 2))
		if (int(p)-ports.First)%ports.BlockSize < ports.BlockSize-3 {
			Expect(q).To(BeNumerically(">=", p+3))
		}
		expectBindable(q)
	})

	It("moves on to another block when one is used up", func() {
		ports.SetBlock(31)
		seen := map[uint16]bool{}
		blocks := map[int]bool{}
		for range ports.BlockSize + 100 {
			p := ports.Next()
			Expect(seen).NotTo(HaveKey(p))
			seen[p] = true
			blocks[blockOf(p)] = true
		}
		Expect(len(blocks)).To(BeNumerically(">=", 2))
	})

	It("never shares a block with another live process of the same run", func() {
		mine := ports.Next()

		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(),
			"PORTS_TEST_HELPER_COUNT=20",
			// Same preference as this process, so only the lock keeps them apart.
			"GINKGO_PARALLEL_PROCESS="+strconv.Itoa(blockOf(mine)+1),
		)
		stdin, err := cmd.StdinPipe()
		Expect(err).NotTo(HaveOccurred())
		session, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		defer session.Kill()
		Eventually(session, "20s").Should(gbytes.Say("done"))

		theirs := map[uint16]bool{}
		for _, line := range strings.Fields(string(session.Out.Contents())) {
			if line == "done" {
				continue
			}
			n, err := strconv.Atoi(line)
			Expect(err).NotTo(HaveOccurred())
			theirs[uint16(n)] = true
			Expect(blockOf(uint16(n))).NotTo(Equal(blockOf(mine)))
		}
		Expect(theirs).To(HaveLen(20))

		for range 20 {
			Expect(theirs).NotTo(HaveKey(ports.Next()))
		}

		Expect(stdin.Close()).To(Succeed())
		Eventually(session, "20s").Should(gexec.Exit(0))
	})
})

var _ = Describe("SetBlock", func() {
	It("takes later ports from the chosen block", func() {
		ports.SetBlock(25)
		p := ports.Next()
		Expect(blockOf(p)).To(Equal(24))
	})
})

var _ = Describe("Addr", func() {
	It("returns a loopback address on a fresh port", func() {
		addr := ports.Addr()
		host, port, err := net.SplitHostPort(addr)
		Expect(err).NotTo(HaveOccurred())
		Expect(host).To(Equal("127.0.0.1"))
		n, err := strconv.Atoi(port)
		Expect(err).NotTo(HaveOccurred())
		expectBindable(uint16(n))
	})
})
