// Package rootfs gives tests the busybox rootfs that garden uses as its
// default rootfs (and for preloaded:cflinuxfs*). The tree is built by
// deploy/rootfs/build.sh from Debian's busybox-static and bash-static; see
// docs/rootfs.md.
//
// Path returns the rootfs directory, building it on first use. The build
// script takes an flock per output directory and rechecks the stamp under it,
// so any number of test processes may call Path at once: one builds, the
// others wait and then find the stamp.
package rootfs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"
)

const (
	// EnvVar overrides DefaultDir.
	EnvVar = "DIEGO_ROOTFS"
	// DefaultDir is where `make rootfs` builds the rootfs.
	DefaultDir = "/var/lib/diego/rootfs/busybox"
	// StampFile, inside the rootfs, records the build's inputs and manifest hash.
	StampFile = ".diego-rootfs"
	// ScriptPath is the build script, relative to the repository root.
	ScriptPath = "deploy/rootfs/build.sh"

	buildTimeout = 10 * time.Minute
)

// Dir is the rootfs location: $DIEGO_ROOTFS, or DefaultDir when it is unset.
// It does not build anything.
func Dir() string {
	if dir := os.Getenv(EnvVar); dir != "" {
		return dir
	}
	return DefaultDir
}

var (
	mu    sync.Mutex
	ready = map[string]bool{}
)

// Path returns Dir() once it holds a rootfs, running the build script when the
// stamp is missing or was written by another version of the script. A
// directory named by $DIEGO_ROOTFS that has content but no stamp is taken to
// be a rootfs of the caller's own and is returned as is.
func Path() (string, error) {
	dir := Dir()
	mu.Lock()
	defer mu.Unlock()
	if ready[dir] {
		return dir, nil
	}
	current, err := upToDate(dir)
	if err != nil {
		return "", err
	}
	if !current && !foreign(dir) {
		if err := Build(dir); err != nil {
			return "", err
		}
	}
	ready[dir] = true
	return dir, nil
}

// MustPath is Path for tests: it panics when the rootfs cannot be built.
func MustPath() string {
	dir, err := Path()
	if err != nil {
		panic(err)
	}
	return dir
}

// Build runs the build script into dir. The script skips the build when the
// stamp matches the packages apt offers, so this is cheap (well under a second)
// on a built tree. It needs root.
func Build(dir string) error {
	script, err := Script()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, script, dir)
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", ScriptPath, dir, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Stamp is the parsed stamp file: script_version, source_date_epoch, arch,
// busybox-static, bash-static and manifest_sha256.
type Stamp map[string]string

// ReadStamp reads dir's stamp.
func ReadStamp(dir string) (Stamp, error) {
	f, err := os.Open(filepath.Join(dir, StampFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	stamp := Stamp{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			stamp[k] = v
		}
	}
	return stamp, sc.Err()
}

// Script is the absolute path of deploy/rootfs/build.sh.
func Script() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ScriptPath), nil
}

var scriptVersionRE = regexp.MustCompile(`(?m)^SCRIPT_VERSION=(\d+)$`)

// upToDate reports whether dir's stamp was written by the current script.
// Package versions are not checked here: that needs apt, and the script does it.
func upToDate(dir string) (bool, error) {
	stamp, err := ReadStamp(dir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	script, err := Script()
	if err != nil {
		return false, err
	}
	src, err := os.ReadFile(script)
	if err != nil {
		return false, err
	}
	m := scriptVersionRE.FindSubmatch(src)
	if m == nil {
		return false, fmt.Errorf("%s has no SCRIPT_VERSION line", script)
	}
	return stamp["script_version"] == string(m[1]), nil
}

// foreign reports whether dir was chosen through $DIEGO_ROOTFS and already
// holds something other than a stamped build.
func foreign(dir string) bool {
	if os.Getenv(EnvVar) == "" {
		return false
	}
	if _, err := os.Stat(filepath.Join(dir, StampFile)); err == nil {
		return false
	}
	entries, err := os.ReadDir(dir)
	return err == nil && len(entries) > 0
}

// repoRoot finds the checkout: from this source file's location when the
// source is there (the usual `go test`), else upwards from the working
// directory to diego's go.mod.
func repoRoot() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		root := filepath.Join(filepath.Dir(file), "..", "..")
		if _, err := os.Stat(filepath.Join(root, ScriptPath)); err == nil {
			return filepath.Abs(root)
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if mod, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			regexp.MustCompile(`(?m)^module diego$`).Match(mod) {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("cannot find %s: not under the diego checkout (from %s)", ScriptPath, wd)
		}
	}
}
