package linux

import (
	"os"
	"os/exec"
	"path/filepath"

	"golang.org/x/sys/unix"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("deleting a runc container", func() {
	var (
		r     *runc
		id    string
		sleep *exec.Cmd
	)

	BeforeEach(func() {
		r = &runc{bin: "/bin/false", root: GinkgoT().TempDir()}
		id = "g0123"
		Expect(os.MkdirAll(filepath.Join(r.root, id), 0o700)).To(Succeed())
		sleep = exec.Command("sleep", "1000")
		Expect(sleep.Start()).To(Succeed())
		DeferCleanup(func() {
			_ = sleep.Process.Kill()
			_ = sleep.Wait()
		})
	})

	writeState := func(st runcStateFile) {
		GinkgoHelper()
		Expect(writeJSON(filepath.Join(r.root, id, "state.json"), map[string]any{
			"init_process_pid": st.Pid, "init_process_start": st.Start, "cgroup_paths": st.CgroupPaths,
		})).To(Succeed())
	}

	It("kills the init runc recorded and waits until it has exited", func() {
		start, err := procStartTime(sleep.Process.Pid)
		Expect(err).NotTo(HaveOccurred())
		writeState(runcStateFile{Pid: sleep.Process.Pid, Start: start})
		_, ok := r.killInit(id)
		Expect(ok).To(BeTrue())
		// Exited, not yet reaped: the wait returns at once with SIGKILL.
		err = sleep.Wait()
		Expect(err).To(MatchError(ContainSubstring("killed")))
	})

	It("leaves a process alone when its start time is not runc's (a reused pid)", func() {
		start, err := procStartTime(sleep.Process.Pid)
		Expect(err).NotTo(HaveOccurred())
		writeState(runcStateFile{Pid: sleep.Process.Pid, Start: start + 1})
		_, ok := r.killInit(id)
		Expect(ok).To(BeFalse())
		Expect(unix.Kill(sleep.Process.Pid, 0)).To(Succeed(), "still running")
	})

	It("leaves a container without state to runc", func() {
		_, ok := r.killInit("gnone")
		Expect(ok).To(BeFalse())
	})

	It("removes a stopped container's cgroups, sub-groups first, and its state", func() {
		cgroups := GinkgoT().TempDir()
		mem := filepath.Join(cgroups, "memory", "garden-t", "h")
		pids := filepath.Join(cgroups, "pids", "garden-t", "h")
		Expect(os.MkdirAll(filepath.Join(pids, "processes"), 0o755)).To(Succeed())
		Expect(os.MkdirAll(mem, 0o755)).To(Succeed())
		writeState(runcStateFile{CgroupPaths: map[string]string{"memory": mem, "pids": pids, "cpu": mem, "": ""}})
		var st runcStateFile
		Expect(readJSON(filepath.Join(r.root, id, "state.json"), &st)).To(Succeed())
		Expect(r.removeStopped(id, st)).To(Succeed())
		for _, dir := range []string{mem, pids, filepath.Join(r.root, id)} {
			Expect(dir).NotTo(BeADirectory())
		}
		Expect(filepath.Join(cgroups, "pids", "garden-t")).To(BeADirectory())
	})
})
