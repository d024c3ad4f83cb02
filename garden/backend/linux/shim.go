package linux

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// runShim is garden-exec: it runs in the container (a child of garden-init)
// and turns itself into the requested process.
func runShim() int {
	status := os.NewFile(shimStatusFD, "status")
	syscall.CloseOnExec(shimStatusFD)
	fail := func(tag string, err error) int {
		_, _ = status.WriteString(tag + err.Error())
		return 127
	}
	// Join the pids cgroup before anything forks; moving in is never
	// refused by pids.max, only forking is.
	if pids := os.NewFile(pidsProcsFD, "pids"); pids != nil {
		if _, err := pids.WriteString("0"); err != nil && !errors.Is(err, syscall.EBADF) {
			return fail(shimFailedTag, fmt.Errorf("joining the pids cgroup: %w", err))
		}
		pids.Close()
	}
	var spec shimSpec
	if err := json.Unmarshal([]byte(os.Getenv(shimSpecEnv)), &spec); err != nil {
		return fail(shimFailedTag, fmt.Errorf("decoding %s: %w", shimSpecEnv, err))
	}
	os.Unsetenv(shimSpecEnv)

	usr, err := lookupUser(spec.User)
	if err != nil {
		return fail(shimFailedTag, err)
	}
	env := processEnv(spec.Env, usr)
	if err := setRlimits(spec.Rlimits); err != nil {
		return fail(shimFailedTag, err)
	}
	if err := usr.become(); err != nil {
		return fail(shimFailedTag, err)
	}
	dir := spec.Dir
	if dir == "" {
		dir = usr.home
	}

	// As guardian's nstar, which changes to the user's home before running
	// tar: a relative stream path is under the home (an LRP's droplet
	// download to ".", spec bridge.md §3.3).
	if (spec.Kind == kindTarIn || spec.Kind == kindTarOut) && !filepath.IsAbs(spec.Path) {
		spec.Path = filepath.Join(usr.home, spec.Path)
	}
	switch spec.Kind {
	case kindTarIn:
		status.Close()
		if err := extractTar(os.Stdin, spec.Path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	case kindTarOut:
		status.Close()
		if err := writeTar(os.Stdout, spec.Path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}

	if err := os.Chdir(dir); err != nil {
		return fail(shimFailedTag, fmt.Errorf("working directory %s: %w", dir, err))
	}
	path, err := lookPath(spec.Path, env)
	if err != nil {
		return fail(notFoundTag, err)
	}
	err = syscall.Exec(path, append([]string{spec.Path}, spec.Args...), env)
	return fail(shimFailedTag, fmt.Errorf("exec %s: %w", spec.Path, err))
}

// user is a user of the container's /etc/passwd.
type user struct {
	name     string
	uid, gid int
	groups   []int
	home     string
}

// The files lookupUser reads: the container's, since garden-exec runs
// after pivot_root (tests point them elsewhere).
var (
	passwdPath = "/etc/passwd"
	groupPath  = "/etc/group"
)

// lookupUser resolves name ("" = root) in the container's /etc/passwd and
// /etc/group.
func lookupUser(name string) (user, error) {
	if name == "" {
		name = "root"
	}
	u := user{name: name}
	found := false
	err := scanColonFile(passwdPath, func(f []string) bool {
		if len(f) < 6 || f[0] != name {
			return true
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			return true
		}
		u.uid, u.gid, u.home, found = uid, gid, f[5], true
		return false
	})
	if !found {
		if name == "root" {
			return user{name: "root", home: "/root"}, nil
		}
		if err != nil {
			return u, fmt.Errorf("unable to find user %s: %w", name, err)
		}
		return u, userNotFoundError(name)
	}
	if u.home == "" {
		u.home = "/"
	}
	_ = scanColonFile(groupPath, func(f []string) bool {
		if len(f) < 4 {
			return true
		}
		for _, member := range strings.Split(f[3], ",") {
			if member == name {
				if gid, err := strconv.Atoi(f[2]); err == nil && gid != u.gid {
					u.groups = append(u.groups, gid)
				}
			}
		}
		return true
	})
	return u, nil
}

func scanColonFile(path string, visit func([]string) bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !visit(strings.Split(line, ":")) {
			return nil
		}
	}
	return s.Err()
}

func (u user) become() error {
	groups := append([]int{u.gid}, u.groups...)
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(u.gid); err != nil {
		return fmt.Errorf("setgid %d: %w", u.gid, err)
	}
	if err := syscall.Setuid(u.uid); err != nil {
		return fmt.Errorf("setuid %d: %w", u.uid, err)
	}
	return nil
}

// processEnv adds PATH and USER unless the spec has them (spec cell §2.5).
func processEnv(env []string, u user) []string {
	has := func(key string) bool {
		for _, kv := range env {
			if strings.HasPrefix(kv, key+"=") {
				return true
			}
		}
		return false
	}
	out := append([]string(nil), env...)
	if !has("PATH") {
		if u.uid == 0 {
			out = append(out, "PATH="+defaultRootPath)
		} else {
			out = append(out, "PATH="+defaultUserPath)
		}
	}
	if !has("USER") {
		out = append(out, "USER="+u.name)
	}
	if !has("HOME") {
		out = append(out, "HOME="+u.home)
	}
	return out
}

const (
	defaultRootPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	defaultUserPath = "/usr/local/bin:/usr/bin:/bin"
)

// lookPath finds path on the env's PATH, as execvp would.
func lookPath(path string, env []string) (string, error) {
	if strings.Contains(path, "/") {
		if isExecutable(path) {
			return path, nil
		}
		return "", errors.New(executableNotFoundText(path, false))
	}
	pathVar := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	for _, dir := range filepath.SplitList(pathVar) {
		candidate := filepath.Join(dir, path)
		if isExecutable(candidate) {
			return candidate, nil
		}
	}
	return "", errors.New(executableNotFoundText(path, true))
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir() && unix.Access(path, unix.X_OK) == nil
}

var rlimitResources = map[string]int{
	"as": unix.RLIMIT_AS, "core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU, "data": unix.RLIMIT_DATA,
	"fsize": unix.RLIMIT_FSIZE, "locks": unix.RLIMIT_LOCKS, "memlock": unix.RLIMIT_MEMLOCK,
	"msgqueue": unix.RLIMIT_MSGQUEUE, "nice": unix.RLIMIT_NICE, "nofile": unix.RLIMIT_NOFILE,
	"nproc": unix.RLIMIT_NPROC, "rss": unix.RLIMIT_RSS, "rtprio": unix.RLIMIT_RTPRIO,
	"sigpending": unix.RLIMIT_SIGPENDING, "stack": unix.RLIMIT_STACK,
}

func setRlimits(limits map[string]uint64) error {
	for name, value := range limits {
		resource, ok := rlimitResources[name]
		if !ok {
			return fmt.Errorf("unknown rlimit %q", name)
		}
		// syscall.Setrlimit, not unix's: the runtime restores its saved
		// RLIMIT_NOFILE at exec unless the limit was set through syscall.
		if err := syscall.Setrlimit(resource, &syscall.Rlimit{Cur: value, Max: value}); err != nil {
			return fmt.Errorf("setting rlimit %s to %d: %w", name, value, err)
		}
	}
	return nil
}
