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

// EnsureRootFS builds the rootfs with the repository's
// deploy/rootfs/build.sh (found from BinDir's parent) when it has no
// stamp, showing the script's output on out.
func (p *Plan) EnsureRootFS(out io.Writer) error {
	if _, err := os.Stat(filepath.Join(p.RootFS, RootFSStamp)); err == nil {
		return nil
	}
	script := filepath.Join(filepath.Dir(p.BinDir), "deploy", "rootfs", "build.sh")
	if _, err := os.Stat(script); err != nil {
		return fmt.Errorf("the rootfs %s is missing and %s is not there to build it: run `make rootfs`", p.RootFS, script)
	}
	fmt.Fprintf(out, "building the rootfs into %s with %s\n", p.RootFS, script)
	cmd := exec.Command(script, p.RootFS)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building the rootfs: %w", err)
	}
	return nil
}
