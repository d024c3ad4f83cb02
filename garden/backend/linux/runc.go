package linux

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// runc runs Debian's runc against one state root per garden.
type runc struct {
	bin  string
	root string // runc's --root: its state directories
}

// runcID is a container's runc id: runc allows only [\w+-.] in ids, and
// handles may hold anything but '/'.
func runcID(handle string) string {
	sum := sha256.Sum256([]byte(handle))
	return "g" + hex.EncodeToString(sum[:16])
}

func (r *runc) command(args ...string) *exec.Cmd {
	return exec.Command(r.bin, append([]string{"--root", r.root}, args...)...)
}

// run starts the bundle's init detached and returns its host pid.
func (r *runc) run(id, bundle, logFile string) (int, error) {
	pidFile := filepath.Join(bundle, "init.pid")
	runcLog := filepath.Join(bundle, "runc.log")
	cmd := exec.Command(r.bin, "--root", r.root, "--log", runcLog, "--log-format", "json",
		"run", "--detach", "--no-new-keyring", "--bundle", bundle, "--pid-file", pidFile, id)
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer log.Close()
	// The init's stdio is runc's, so files: a pipe would stay open for
	// as long as the container runs.
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("runc run: %w: %s", err, runcError(runcLog))
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, fmt.Errorf("reading the init's pid: %w", err)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// runcState is the part of `runc state` garden reads.
type runcState struct {
	Pid    int    `json:"pid"`
	Status string `json:"status"`
}

func (r *runc) state(id string) (runcState, error) {
	var s runcState
	out, err := r.command("state", id).Output()
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(out, &s)
}

// delete kills whatever is left of the container and removes its runc
// state and cgroups; a container runc does not know is already gone.
func (r *runc) delete(id string) error {
	out, err := r.command("delete", "--force", id).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "does not exist") {
		return fmt.Errorf("runc delete: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
