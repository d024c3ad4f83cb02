package reexec

import (
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

// Unit tests of the re-executed parts' pure pieces: the init's process
// socket with a stand-in shim, the shim's user and PATH handling, tar
// extraction in temp directories, dadoo's relays. cmd/garden's binary suite
// runs them for real.
func TestReexec(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Garden Re-executed Parts Suite")
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

func ownerOf(path string) [2]uint32 {
	GinkgoHelper()
	var st unix.Stat_t
	Expect(unix.Lstat(path, &st)).To(Succeed())
	return [2]uint32{st.Uid, st.Gid}
}

// openOutputFifos opens dir's stdout and stderr fifos for reading, as
// garden does.
func openOutputFifos(dir string) ([]*os.File, error) {
	var files []*os.File
	for _, name := range []string{StdoutFifo, StderrFifo} {
		path := filepath.Join(dir, name)
		if err := unix.Mkfifo(path, 0o600); err != nil && err != unix.EEXIST {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}
