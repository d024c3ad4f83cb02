package ports_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/test/ports"
)

// helperEnv turns the test binary into a second port-allocating process, so
// a spec can prove two processes of one run never share a block.
const helperEnv = "PORTS_TEST_HELPER_COUNT"

func TestMain(m *testing.M) {
	if n := os.Getenv(helperEnv); n != "" {
		runHelper(n)
		return
	}
	os.Exit(m.Run())
}

// runHelper prints n ports, then holds its claim until stdin closes.
func runHelper(n string) {
	count, err := strconv.Atoi(n)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for range count {
		fmt.Println(ports.Next())
	}
	fmt.Println("done")
	bufio.NewReader(os.Stdin).ReadString('\n')
}

func TestPorts(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Ports Suite")
}

// Every parallel process writes the ports it got to a shared directory, and
// process 1 checks at the end that no two processes got the same port.
var shareDir string

var _ = SynchronizedBeforeSuite(func() []byte {
	dir, err := os.MkdirTemp("", "ports-suite")
	Expect(err).NotTo(HaveOccurred())
	return []byte(dir)
}, func(dir []byte) {
	shareDir = string(dir)
	var out strings.Builder
	for range 100 {
		fmt.Fprintln(&out, ports.Next())
	}
	name := filepath.Join(shareDir, strconv.Itoa(GinkgoParallelProcess()))
	Expect(os.WriteFile(name, []byte(out.String()), 0o644)).To(Succeed())
})

var _ = SynchronizedAfterSuite(func() {}, func() {
	defer os.RemoveAll(shareDir)
	entries, err := os.ReadDir(shareDir)
	Expect(err).NotTo(HaveOccurred())
	suiteConfig, _ := GinkgoConfiguration()
	Expect(entries).To(HaveLen(suiteConfig.ParallelTotal))
	owner := map[string]string{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(shareDir, e.Name()))
		Expect(err).NotTo(HaveOccurred())
		for _, p := range strings.Fields(string(data)) {
			Expect(owner).NotTo(HaveKey(p), "port %s given to processes %s and %s", p, owner[p], e.Name())
			owner[p] = e.Name()
		}
	}
})
