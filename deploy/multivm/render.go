package multivm

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"diego/test/boshrender"
)

// VMPaths maps the BOSH layout to a plain Debian VM's (deploy/systemd):
// jobs' files to /etc/diego/<job>/, data and persistent disks to
// /var/lib/diego/, the diego package's binaries to /usr/local/bin/, the
// rootfs packages to where `make rootfs` and `make stack-rootfs` build them,
// the lifecycles package to where install.sh copies `make build`'s bin/static.
var VMPaths = strings.NewReplacer(
	"/var/vcap/packages/busybox-rootfs/rootfs", "/var/lib/diego/rootfs/busybox",
	"/var/vcap/packages/cflinuxfs4/rootfs", "/var/lib/diego/rootfs/cflinuxfs",
	"/var/vcap/jobs/", "/etc/diego/",
	"/var/vcap/data/", "/var/lib/diego/",
	"/var/vcap/store/", "/var/lib/diego/",
	"/var/vcap/packages/diego/bin/", "/usr/local/bin/",
	"/var/vcap/packages/lifecycles/", "/var/lib/diego/static/",
)

// RenderInstance renders one instance of the manifest for a plain VM (the
// paths of VMPaths) into outDir (outDir/etc/diego/<job>/...), with the
// variables in varsFile (generated there first if it does not exist).
// It returns the jobs it wrote.
func RenderInstance(releaseDir, manifest, varsFile, group string, index int, outDir string) ([]string, error) {
	vars, err := loadVarsFile(manifest, varsFile)
	if err != nil {
		return nil, err
	}
	jobs, err := boshrender.Render(releaseDir, manifest, vars, nil)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, j := range jobs {
		if j.InstanceGroup != group || j.Index != index {
			continue
		}
		names = append(names, j.Job)
		for rel, content := range j.Files {
			if rel == "monit" {
				continue
			}
			path := filepath.Join(outDir, VMPaths.Replace(filepath.Join("/var/vcap/jobs", j.Job, rel)))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(path, []byte(VMPaths.Replace(content)), 0o640); err != nil {
				return nil, err
			}
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("the manifest has no instance %s/%d", group, index)
	}
	return names, nil
}
