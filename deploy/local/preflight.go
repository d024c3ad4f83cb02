package local

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// RootFSStamp is the file deploy/rootfs/build.sh writes into a rootfs it
// built.
const RootFSStamp = ".diego-rootfs"

// CheckRoot refuses to go on without root, saying why.
func CheckRoot() error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root: each cell's garden creates namespaces, mounts, cgroups, " +
			"network interfaces and iptables rules. Run it as root (sudo make run)")
	}
	return nil
}

// CheckBinaries says which of the plan's binaries are missing from BinDir.
func (p *Plan) CheckBinaries() error {
	var missing []string
	seen := map[string]bool{}
	for _, d := range p.Daemons {
		if seen[d.Binary] {
			continue
		}
		seen[d.Binary] = true
		if info, err := os.Stat(filepath.Join(p.BinDir, d.Binary)); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			missing = append(missing, d.Binary)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s has no %v: build them first (`make build`; `make run` builds and starts)", p.BinDir, missing)
	}
	return nil
}

// EnsureRootFS builds the busybox rootfs and the stack rootfs with the
// repository's deploy/rootfs scripts (found from BinDir's parent) when
// they have no stamp, showing the scripts' output on out. A stack mapped
// to a directory of its own must already exist.
func (p *Plan) EnsureRootFS(out io.Writer) error {
	if err := ensureBuilt(out, p.RootFS, filepath.Join(filepath.Dir(p.BinDir), "deploy", "rootfs", "build.sh"), "make rootfs"); err != nil {
		return err
	}
	stackScript := filepath.Join(filepath.Dir(p.BinDir), "deploy", "rootfs", "build-stack.sh")
	for _, name := range p.StackNames() {
		dir := p.StackMap[name]
		if dir == p.StackRootFS {
			continue
		}
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			return fmt.Errorf("the rootfs %s of stack %s is not a directory", dir, name)
		}
	}
	return ensureBuilt(out, p.StackRootFS, stackScript, "make stack-rootfs")
}

func ensureBuilt(out io.Writer, dir, script, target string) error {
	if _, err := os.Stat(filepath.Join(dir, RootFSStamp)); err == nil {
		return nil
	}
	if _, err := os.Stat(script); err != nil {
		return fmt.Errorf("the rootfs %s is missing and %s is not there to build it: run `%s`", dir, script, target)
	}
	fmt.Fprintf(out, "building the rootfs %s with %s\n", dir, script)
	cmd := exec.Command(script, dir)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building the rootfs %s: %w", dir, err)
	}
	return nil
}
