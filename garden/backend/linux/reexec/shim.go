package reexec

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Request kinds of the exec shim.
const (
	KindExec   = "exec"    // run a process
	KindTarIn  = "tar-in"  // extract the tar on stdin into Path
	KindTarOut = "tar-out" // write Path as a tar to stdout
)

// shimSpec is what garden hands the exec shim (as JSON in its only
// environment variable); garden resolved the user from the rootfs already.
type ShimSpec struct {
	Kind   string   `json:"kind"`
	Path   string   `json:"path,omitempty"`
	Args   []string `json:"args,omitempty"`
	Env    []string `json:"env,omitempty"`
	Dir    string   `json:"dir,omitempty"`
	UID    int      `json:"uid"`
	GID    int      `json:"gid"`
	Groups []int    `json:"groups,omitempty"`
	Home   string   `json:"home"`
	TTY    bool     `json:"tty,omitempty"`
	// Gate: the init started the shim, which waits on fd 4 until dadoo
	// has set it up from the host (initserver.go).
	Gate bool `json:"gate,omitempty"`
	// Rlimits are set again by the shim, to the values dadoo set: Go's
	// runtime would otherwise put back the RLIMIT_NOFILE it started with
	// when the shim execs the process.
	Rlimits []specs.POSIXRlimit `json:"rlimits,omitempty"`
}

const ShimSpecEnv = "GARDEN_EXEC_SPEC"

// runShim is `garden-init exec`: the container's init (or runc exec, in a
// container an older garden made) started it as the container's root; once
// dadoo has set its cgroups and rlimits it becomes the requested user and
// execs the process (or streams a tar).
func runShim() int {
	status := os.NewFile(shimStatusFD, "status")
	syscall.CloseOnExec(shimStatusFD)
	fail := func(tag string, err error) int {
		_, _ = status.WriteString(tag + err.Error() + "\x00")
		return 127
	}
	var spec ShimSpec
	if err := json.Unmarshal([]byte(os.Getenv(ShimSpecEnv)), &spec); err != nil {
		return fail(ShimFailedTag, fmt.Errorf("decoding %s: %w", ShimSpecEnv, err))
	}
	os.Unsetenv(ShimSpecEnv)
	if spec.Gate {
		// Nothing runs before dadoo says "g"; a gate closed without it
		// means dadoo failed (and said why) or died.
		gate := os.NewFile(shimGateFD, "gate")
		b := make([]byte, 1)
		n, _ := gate.Read(b)
		gate.Close()
		if n != 1 || b[0] != 'g' {
			return 127
		}
	}
	for _, l := range spec.Rlimits {
		resource, ok := rlimitNumbers[l.Type]
		if !ok {
			return fail(ShimFailedTag, fmt.Errorf("unknown rlimit %s", l.Type))
		}
		// syscall's, which also drops Go's saved RLIMIT_NOFILE.
		if err := syscall.Setrlimit(resource, &syscall.Rlimit{Cur: l.Soft, Max: l.Hard}); err != nil {
			return fail(ShimFailedTag, fmt.Errorf("setting %s: %w", l.Type, err))
		}
	}
	if spec.TTY {
		// The pty slave on fds 0-2 becomes the controlling terminal of a
		// new session, as a login shell's would (the init or runc's nsexec
		// made the session already: then setsid says EPERM).
		if _, err := unix.Setsid(); err != nil && !errors.Is(err, unix.EPERM) {
			return fail(ShimFailedTag, fmt.Errorf("setsid: %w", err))
		}
		if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
			return fail(ShimFailedTag, fmt.Errorf("taking the terminal: %w", err))
		}
	}
	dir := spec.Dir
	if dir == "" {
		dir = spec.Home
	}
	if spec.Kind == KindExec {
		// A missing working directory is made, owned by the user.
		if err := mkdirOwned(dir, spec.UID, spec.GID); err != nil {
			return fail(ShimFailedTag, fmt.Errorf("working directory %s: %w", dir, err))
		}
	}
	// runc gave stdio to the exec's user, root; the process's user gets
	// them back, so it can reopen /dev/stdin, /dev/stdout and its tty.
	giveStdio(spec.UID)
	if err := become(spec.UID, spec.GID, spec.Groups); err != nil {
		return fail(ShimFailedTag, err)
	}

	// Relative stream paths are the user's home's (spec cell §2.7).
	target := spec.Path
	if spec.Kind != KindExec && !path.IsAbs(target) {
		target = path.Join(spec.Home, target)
	}
	switch spec.Kind {
	case KindTarIn, KindTarOut:
		if extractTar == nil {
			return fail(ShimFailedTag, errors.New("this binary cannot stream tars"))
		}
	}
	switch spec.Kind {
	case KindTarIn:
		status.Close()
		if err := extractTar(os.Stdin, target); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	case KindTarOut:
		status.Close()
		if err := writeTar(os.Stdout, target); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}

	if err := os.Chdir(dir); err != nil {
		return fail(ShimFailedTag, fmt.Errorf("working directory %s: %w", dir, err))
	}
	exe, err := lookPath(spec.Path, spec.Env)
	if err != nil {
		return fail(NotFoundTag, err)
	}
	resetIgnoredSignals()
	err = syscall.Exec(exe, append([]string{spec.Path}, spec.Args...), spec.Env)
	return fail(ShimFailedTag, fmt.Errorf("exec %s: %w", spec.Path, err))
}

// giveStdio makes uid the owner of the pipes and terminal on fds 0-2
// (never of a device such as /dev/null).
func giveStdio(uid int) {
	for fd := 0; fd <= 2; fd++ {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil {
			continue
		}
		isPty := st.Mode&unix.S_IFMT == unix.S_IFCHR && unix.Major(st.Rdev) >= 136 && unix.Major(st.Rdev) <= 143
		if st.Mode&unix.S_IFMT == unix.S_IFIFO || isPty {
			_ = unix.Fchown(fd, uid, -1)
		}
	}
}

// mkdirOwned makes dir and its missing parents, giving what it made to
// uid:gid.
func mkdirOwned(dir string, uid, gid int) error {
	var missing []string
	for d := path.Clean(dir); ; d = path.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == "/" {
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if err := os.Chown(missing[i], uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// user is a user of the container's /etc/passwd, or numeric ids.
type User struct {
	Name     string
	UID, GID int
	Groups   []int
	Home     string
}

// The files lookupUser reads, inside the container's root.
const (
	passwdPath = "/etc/passwd"
	groupPath  = "/etc/group"
)

// openInRoot opens path inside root, resolving symlinks as if root were
// "/": a container's /etc/passwd cannot point garden at a host file.
func openInRoot(root, rel string) (*os.File, error) {
	dirfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dirfd)
	fd, err := unix.Openat2(dirfd, strings.TrimPrefix(rel, "/"), &unix.OpenHow{
		Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: rel, Err: err}
	}
	return os.NewFile(uintptr(fd), rel), nil
}

// lookupUser resolves name ("" = root) in root's /etc/passwd and
// /etc/group. A numeric "uid" or "uid:gid" needs no passwd entry (as runc);
// when it has one, its name, home and groups are used.
func LookupUser(root, name string) (User, error) {
	if name == "" {
		name = "root"
	}
	numUID, numGID, numeric := parseNumericUser(name)
	u := User{Name: name}
	found := false
	err := scanColonFile(root, passwdPath, func(f []string) bool {
		if len(f) < 6 {
			return true
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			return true
		}
		if numeric && uid != numUID || !numeric && f[0] != name {
			return true
		}
		u.Name, u.UID, u.GID, u.Home, found = f[0], uid, gid, f[5], true
		return false
	})
	switch {
	case numeric:
		if !found {
			u = User{Name: strconv.Itoa(numUID), UID: numUID, GID: numUID, Home: "/"}
		}
		if numGID >= 0 {
			u.GID = numGID
		}
	case !found && name == "root":
		return User{Name: "root", Home: "/root"}, nil
	case !found && err != nil:
		return u, fmt.Errorf("unable to find user %s: %w", name, err)
	case !found:
		return u, userNotFoundError(name)
	}
	if u.Home == "" {
		u.Home = "/"
	}
	if !found {
		return u, nil
	}
	_ = scanColonFile(root, groupPath, func(f []string) bool {
		if len(f) < 4 {
			return true
		}
		for _, member := range strings.Split(f[3], ",") {
			if member == u.Name {
				if gid, err := strconv.Atoi(f[2]); err == nil && gid != u.GID {
					u.Groups = append(u.Groups, gid)
				}
			}
		}
		return true
	})
	return u, nil
}

// parseNumericUser reads "uid" or "uid:gid" (gid -1 when absent).
func parseNumericUser(s string) (int, int, bool) {
	uidText, gidText, hasGID := strings.Cut(s, ":")
	uid, err := strconv.Atoi(uidText)
	if err != nil || uid < 0 {
		return 0, 0, false
	}
	if !hasGID {
		return uid, -1, true
	}
	gid, err := strconv.Atoi(gidText)
	if err != nil || gid < 0 {
		return 0, 0, false
	}
	return uid, gid, true
}

func scanColonFile(root, rel string, visit func([]string) bool) error {
	f, err := openInRoot(root, rel)
	if err != nil {
		return err
	}
	defer f.Close()
	s := bufio.NewScanner(io.LimitReader(f, 16<<20))
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

func become(uid, gid int, groups []int) error {
	if err := syscall.Setgroups(append([]int{gid}, groups...)); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("setgid %d: %w", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("setuid %d: %w", uid, err)
	}
	return nil
}

// processEnv is the container's env, then the process's, each key once
// with its last value (as runc), plus PATH, USER and HOME unless set
// (spec cell §2.5).
func ProcessEnv(env []string, u User) []string {
	index := map[string]int{}
	var out []string
	for _, kv := range env {
		key, _, _ := strings.Cut(kv, "=")
		if i, ok := index[key]; ok {
			out[i] = kv
			continue
		}
		index[key] = len(out)
		out = append(out, kv)
	}
	has := func(key string) bool { _, ok := index[key]; return ok }
	if !has("PATH") {
		if u.UID == 0 {
			out = append(out, "PATH="+DefaultRootPath)
		} else {
			out = append(out, "PATH="+defaultUserPath)
		}
	}
	if !has("USER") {
		out = append(out, "USER="+u.Name)
	}
	if !has("HOME") {
		out = append(out, "HOME="+u.Home)
	}
	return out
}

const (
	DefaultRootPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	defaultUserPath = "/usr/local/bin:/usr/bin:/bin"
)

// splitList is path.SplitList (init.go says why not path/filepath).
func splitList(list string) []string {
	if list == "" {
		return nil
	}
	return strings.Split(list, ":")
}

// lookPath finds path on the env's PATH, as execvp would.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if isExecutable(name) {
			return name, nil
		}
		return "", errors.New(executableNotFoundText(name, false))
	}
	pathVar := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	for _, dir := range splitList(pathVar) {
		candidate := path.Join(dir, name)
		if isExecutable(candidate) {
			return candidate, nil
		}
	}
	return "", errors.New(executableNotFoundText(name, true))
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir() && unix.Access(path, unix.X_OK) == nil
}

// rlimitTypes are the process spec's rlimits as runc names them; runc sets
// them from the host before the shim drops privileges, so a limit above
// the current hard limit works.
var rlimitResources = map[string]string{
	"as": "RLIMIT_AS", "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA",
	"fsize": "RLIMIT_FSIZE", "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK",
	"msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE",
	"nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO",
	"sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK",
}

func OCIRlimits(limits map[string]uint64) ([]specs.POSIXRlimit, error) {
	var out []specs.POSIXRlimit
	for name, value := range limits {
		t, ok := rlimitResources[name]
		if !ok {
			return nil, fmt.Errorf("unknown rlimit %q", name)
		}
		out = append(out, specs.POSIXRlimit{Type: t, Hard: value, Soft: value})
	}
	return out, nil
}
