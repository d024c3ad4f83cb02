package linux

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// These are unit tests of the backend's pure parts: cgroup detection and
// files against fake trees, the networker's allocation and rule text, tar
// extraction in temp directories, and the shim's user and PATH handling.
// Nothing here needs root or a real container; cmd/garden's binary
// suite runs real ones.
func TestLinux(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Garden Linux Backend Suite")
}
