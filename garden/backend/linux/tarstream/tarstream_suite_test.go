package tarstream

import (
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Tar extraction and writing in temp directories; cmd/garden's suite
// streams through real containers.
func TestTarstream(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Garden Tar Stream Suite")
}

// writeTree writes files (path relative to root → content), creating
// directories.
func writeTree(root string, files map[string]string) {
	GinkgoHelper()
	for rel, content := range files {
		path := filepath.Join(root, rel)
		Expect(os.MkdirAll(filepath.Dir(path), 0o755)).To(Succeed())
		Expect(os.WriteFile(path, []byte(content), 0o644)).To(Succeed())
	}
}
