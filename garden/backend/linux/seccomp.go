package linux

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// seccompProfile is the filter of unprivileged containers, modelled on
// Docker's default profile: everything not listed fails with EPERM, the
// listed system calls are allowed, and a few are allowed only with safe
// arguments (clone without namespace flags, socket without AF_VSOCK,
// personality with the harmless personas). It is written from those facts,
// not copied; decision 25 says what it leaves out.
func seccompProfile() *specs.LinuxSeccomp {
	s := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: uintPtr(1), // EPERM
		Architectures:   seccompArches(),
		Syscalls: []specs.LinuxSyscall{
			{Names: strings.Fields(allowedSyscalls), Action: specs.ActAllow},
			// clone creating namespaces needs CAP_SYS_ADMIN, which the
			// container does not have: only plain clones pass.
			{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: cloneNamespaceFlags, ValueTwo: 0, Op: specs.OpMaskedEqual}}},
			// clone3's flags are behind a pointer a filter cannot read:
			// ENOSYS makes libc fall back to clone.
			{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: uintPtr(38)},
			{Names: []string{"socket"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 40, Op: specs.OpNotEqual}}}, // AF_VSOCK
		},
	}
	for _, persona := range []uint64{0x0, 0x0008, 0x20000, 0x20008, 0xffffffff} {
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"personality"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: persona, Op: specs.OpEqualTo}}})
	}
	switch runtime.GOARCH {
	case "amd64", "386":
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"arch_prctl", "modify_ldt"}, Action: specs.ActAllow})
	case "arm64", "arm":
		s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"arm_fadvise64_64", "arm_sync_file_range",
			"sync_file_range2", "breakpoint", "cacheflush", "set_tls"}, Action: specs.ActAllow})
	}
	return s
}

// CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET.
const cloneNamespaceFlags = 0x7E020000

func seccompArches() []specs.Arch {
	switch runtime.GOARCH {
	case "amd64":
		if !x32Supported() {
			// Each architecture is a copy of the filter that runc
			// compiles at every run and exec (about 5 ms of CPU for x32:
			// docs/garden.md, B8); the x32 one would guard system calls
			// this kernel cannot make.
			return []specs.Arch{specs.ArchX86_64, specs.ArchX86}
		}
		return []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	case "arm64":
		return []specs.Arch{specs.ArchAARCH64, specs.ArchARM}
	}
	return nil
}

// allowedSyscalls need no capability beyond the container's set (runc
// skips names its libseccomp does not know, such as newer calls or other
// architectures' variants). Left out, as in Docker's default: mount,
// umount, pivot_root, unshare, setns, the keyring calls, bpf, perf_event_open,
// kexec, module loading, reboot, swapon/off, clock and time setting,
// acct, quotactl, lookup_dcookie, userfaultfd, ptrace's cousins kcmp and
// process_vm_*, open_by_handle_at, and the obsolete or debugging ones.
const allowedSyscalls = `
accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown chown32 chroot
clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3
epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old
eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate
fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr
flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate
ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat getcpu getcwd
getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer
getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid getresgid32 getresuid
getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid
gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch
io_cancel ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup
io_submit ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32
lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64
madvise map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock
mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd
msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2
pause pidfd_getfd pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll
ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 ptrace
pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg
recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir
rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr
sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler
sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64
sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32
setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid
setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32
setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn
socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range
syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime utimensat
utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
`

func uintPtr(v uint) *uint { return &v }

// x32SyscallBit marks an x32 system call number on amd64.
const x32SyscallBit = 0x40000000

// x32Supported says whether this kernel runs x32 system calls (Debian's
// kernels build the ABI in but leave it off unless booted with
// syscall.x32=y): an x32 getpid fails with ENOSYS when it does not. The
// probe is made only when garden itself runs without a seccomp filter,
// which might kill it for an unexpected architecture; otherwise x32 is
// assumed.
var x32Supported = sync.OnceValue(func() bool {
	if runtime.GOARCH != "amd64" {
		return false
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil || !strings.Contains(string(status), "\nSeccomp:\t0\n") {
		return true
	}
	_, _, errno := unix.RawSyscall(x32SyscallBit|unix.SYS_GETPID, 0, 0, 0)
	return !errors.Is(errno, unix.ENOSYS)
})
