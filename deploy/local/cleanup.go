package local

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"diego/garden"
	gardenclient "diego/garden/client"
)

// DestroyContainers destroys every container of the garden at addr
// through its API, whatever its state, and returns how many it destroyed.
// Garden keeps containers across its own restarts, so this is how a
// stopping cluster leaves no containers, mounts or processes behind.
func DestroyContainers(addr string) (int, error) {
	gc := gardenclient.New("tcp", addr)
	containers, err := gc.Containers(garden.Properties{garden.StateProperty: garden.StateAll})
	if err != nil {
		return 0, fmt.Errorf("listing containers: %w", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(containers))
	for i, c := range containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := gc.Destroy(c.Handle()); err != nil {
				errs[i] = fmt.Errorf("destroying %s: %w", c.Handle(), err)
			}
		}()
	}
	wg.Wait()
	return len(containers), errors.Join(errs...)
}

// PurgeGardenHost removes what a garden of tag leaves on the host after a
// clean stop with no containers: its global iptables chains (w-<tag>-*,
// with the jumps to them from the built-in chains) and its empty cgroup
// parents (garden-<tag>). Garden keeps them on purpose, so that a restart
// can reload containers; the local cluster destroys its containers first,
// so nothing needs them.
func PurgeGardenHost(tag string) error {
	var errs []error
	if err := purgeChains("w-" + tag + "-"); err != nil {
		errs = append(errs, err)
	}
	parents, _ := filepath.Glob("/sys/fs/cgroup/*/garden-" + tag)
	if v2, err := os.Stat("/sys/fs/cgroup/garden-" + tag); err == nil && v2.IsDir() {
		parents = append(parents, "/sys/fs/cgroup/garden-"+tag)
	}
	for _, dir := range parents {
		// rmdir of a cgroup fails while it has children or processes:
		// then something is still running, and it should stay.
		if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing cgroup %s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}

// purgeChains deletes, in the nat and filter tables, every chain whose
// name starts with prefix and every rule that jumps to one, in one
// iptables-restore.
func purgeChains(prefix string) error {
	var b strings.Builder
	for _, table := range []string{"nat", "filter"} {
		out, err := exec.Command("iptables", "-w", "-t", table, "-S").CombinedOutput()
		if err != nil {
			return fmt.Errorf("listing %s rules: %w: %s", table, err, bytes.TrimSpace(out))
		}
		rules := PurgeRules(string(out), prefix)
		if rules != "" {
			fmt.Fprintf(&b, "*%s\n%sCOMMIT\n", table, rules)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	cmd := exec.Command("iptables-restore", "-w", "--noflush")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("iptables-restore: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// PurgeRules turns one table's `iptables -S` listing into the restore
// lines that delete the chains starting with prefix: the jumps to them
// from other chains, then a flush and a delete of each.
func PurgeRules(listing, prefix string) string {
	var deletes, chains []string
	seen := map[string]bool{}
	for _, line := range strings.Split(listing, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "-N":
			if strings.HasPrefix(f[1], prefix) && !seen[f[1]] {
				seen[f[1]] = true
				chains = append(chains, f[1])
			}
		case "-A":
			if strings.HasPrefix(f[1], prefix) {
				continue // flushed with its chain
			}
			for i := 0; i+1 < len(f); i++ {
				if (f[i] == "-j" || f[i] == "-g") && strings.HasPrefix(f[i+1], prefix) {
					deletes = append(deletes, "-D"+strings.TrimPrefix(line, "-A"))
					break
				}
			}
		}
	}
	var b strings.Builder
	for _, d := range deletes {
		b.WriteString(d + "\n")
	}
	for _, c := range chains {
		b.WriteString("-F " + c + "\n")
	}
	for _, c := range chains {
		b.WriteString("-X " + c + "\n")
	}
	return b.String()
}
