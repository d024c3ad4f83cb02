package reexec

import (
	"fmt"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("the exec shim's user and environment", func() {
	Describe("lookupUser", func() {
		var root string
		LookupUser := func(name string) (User, error) { return LookupUser(root, name) }

		BeforeEach(func() {
			root = GinkgoT().TempDir()
			writeTree(root, map[string]string{
				"etc/passwd": "# users\n\nroot:x:0:0:root:/root:/bin/sh\n" +
					"vcap:x:2000:2000::/home/vcap:/bin/bash\n" +
					"broken:x:notanumber:2000::/home/broken:/bin/sh\n" +
					"short:x:5\n" +
					"homeless:x:3000:3000:::/bin/sh\n" +
					"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
				"etc/group": "root:x:0:\nvcap:x:2000:vcap\nadm:x:4:syslog,vcap\nstaff:x:50:vcapx\nbad:x:zz:vcap\n" +
					"docker:x:999:alice,vcap\nshort:x\n",
			})
		})

		It("resolves a user with their home and supplementary groups, not repeating the primary", func() {
			u, err := LookupUser("vcap")
			Expect(err).NotTo(HaveOccurred())
			Expect(u).To(Equal(User{Name: "vcap", UID: 2000, GID: 2000, Groups: []int{4, 999}, Home: "/home/vcap"}))
		})

		It("treats an empty name as root", func() {
			u, err := LookupUser("")
			Expect(err).NotTo(HaveOccurred())
			Expect(u).To(Equal(User{Name: "root", UID: 0, GID: 0, Home: "/root"}))
		})

		It("gives a user without a home /", func() {
			u, err := LookupUser("homeless")
			Expect(err).NotTo(HaveOccurred())
			Expect(u.Home).To(Equal("/"))
			Expect(u.UID).To(Equal(3000))
		})

		It("takes numeric ids without a passwd entry, and uses the entry when there is one", func() {
			u, err := LookupUser("1234:5678")
			Expect(err).NotTo(HaveOccurred())
			Expect(u).To(Equal(User{Name: "1234", UID: 1234, GID: 5678, Home: "/"}))
			u, err = LookupUser("4321")
			Expect(err).NotTo(HaveOccurred())
			Expect(u).To(Equal(User{Name: "4321", UID: 4321, GID: 4321, Home: "/"}))
			u, err = LookupUser("2000:7")
			Expect(err).NotTo(HaveOccurred())
			Expect(u).To(Equal(User{Name: "vcap", UID: 2000, GID: 7, Groups: []int{2000, 4, 999}, Home: "/home/vcap"}), "the passwd group stays a supplementary one")
			_, err = LookupUser("12:x")
			Expect(err).To(MatchError(ContainSubstring("unable to find user 12:x")))
		})

		It("reads the container's files, resolving its symlinks inside its root", func() {
			Expect(os.Remove(filepath.Join(root, "etc/passwd"))).To(Succeed())
			Expect(os.Symlink("/data/passwd", filepath.Join(root, "etc/passwd"))).To(Succeed())
			writeTree(root, map[string]string{"data/passwd": "inside:x:7:7::/in:/bin/sh\n"})
			u, err := LookupUser("inside")
			Expect(err).NotTo(HaveOccurred())
			Expect(u.Home).To(Equal("/in"))
		})

		It("fails clearly for unknown users and unparsable entries", func() {
			_, err := LookupUser("alice")
			Expect(err).To(MatchError("unable to find user alice: no matching entries in passwd file"))
			_, err = LookupUser("broken")
			Expect(err).To(MatchError(ContainSubstring("unable to find user broken")))
			_, err = LookupUser("short")
			Expect(err).To(MatchError(ContainSubstring("unable to find user short")))
		})

		It("falls back to root when the rootfs has no passwd file, but not for other users", func() {
			Expect(os.Remove(filepath.Join(root, "etc/passwd"))).To(Succeed())
			u, err := LookupUser("root")
			Expect(err).NotTo(HaveOccurred())
			Expect(u).To(Equal(User{Name: "root", Home: "/root"}))
			_, err = LookupUser("vcap")
			Expect(err).To(MatchError(ContainSubstring("unable to find user vcap: open /etc/passwd")))
		})

		It("resolves a user without a group file", func() {
			Expect(os.Remove(filepath.Join(root, "etc/group"))).To(Succeed())
			u, err := LookupUser("vcap")
			Expect(err).NotTo(HaveOccurred())
			Expect(u.Groups).To(BeEmpty())
		})
	})

	Describe("processEnv", func() {
		It("adds root's PATH, USER and HOME", func() {
			Expect(ProcessEnv([]string{"A=1"}, User{Name: "root", Home: "/root"})).To(Equal([]string{
				"A=1", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "USER=root", "HOME=/root",
			}))
		})

		It("gives other users the shorter PATH", func() {
			Expect(ProcessEnv(nil, User{Name: "vcap", UID: 2000, Home: "/home/vcap"})).To(Equal([]string{
				"PATH=/usr/local/bin:/usr/bin:/bin", "USER=vcap", "HOME=/home/vcap",
			}))
		})

		It("keeps what the spec sets, matching whole keys", func() {
			env := []string{"PATH=/app/bin", "USER=someone", "HOME=/app", "PATHX=1"}
			Expect(ProcessEnv(env, User{Name: "vcap", UID: 2000, Home: "/home/vcap"})).To(Equal(env))
			Expect(ProcessEnv([]string{"USERNAME=x"}, User{Name: "vcap", UID: 1, Home: "/h"})).To(ContainElement("USER=vcap"))
		})

		It("keeps each key once, with its last value, where it first appeared", func() {
			Expect(ProcessEnv([]string{"A=container", "B=1", "A=process", "PATH=/x", "PATH=/y"}, User{Name: "root", Home: "/root"})).To(Equal([]string{
				"A=process", "B=1", "PATH=/y", "USER=root", "HOME=/root",
			}))
		})

		It("does not modify the spec's slice", func() {
			env := make([]string, 1, 10)
			env[0] = "A=1"
			_ = ProcessEnv(env, User{Name: "root", Home: "/root"})
			Expect(env[:cap(env)][1]).To(BeEmpty())
		})
	})

	Describe("lookPath", func() {
		var bin1, bin2 string

		BeforeEach(func() {
			dir := GinkgoT().TempDir()
			bin1, bin2 = filepath.Join(dir, "bin1"), filepath.Join(dir, "bin2")
			writeTree(dir, map[string]string{"bin1/tool": "#!/bin/sh\n", "bin2/tool": "#!/bin/sh\n", "bin2/other": "#!/bin/sh\n", "bin1/data": "x"})
			Expect(os.Chmod(filepath.Join(bin1, "tool"), 0o755)).To(Succeed())
			Expect(os.Chmod(filepath.Join(bin2, "tool"), 0o755)).To(Succeed())
			Expect(os.Chmod(filepath.Join(bin2, "other"), 0o755)).To(Succeed())
			Expect(os.Mkdir(filepath.Join(bin1, "other"), 0o755)).To(Succeed())
		})

		It("takes the first executable on PATH, skipping directories", func() {
			env := []string{"PATH=" + bin1 + ":" + bin2}
			Expect(lookPath("tool", env)).To(Equal(filepath.Join(bin1, "tool")))
			Expect(lookPath("other", env)).To(Equal(filepath.Join(bin2, "other")))
		})

		It("uses the last PATH in the environment", func() {
			Expect(lookPath("tool", []string{"PATH=" + bin1, "PATH=" + bin2})).To(Equal(filepath.Join(bin2, "tool")))
		})

		It("reports an executable that is not on PATH", func() {
			_, err := lookPath("missing", []string{"PATH=" + bin1})
			Expect(err).To(MatchError(`exec: "missing": executable file not found in $PATH`))
			_, err = lookPath("tool", nil)
			Expect(err).To(MatchError(`exec: "tool": executable file not found in $PATH`))
		})

		It("takes a path with a slash as it is, if it is executable", func() {
			Expect(lookPath(filepath.Join(bin1, "tool"), nil)).To(Equal(filepath.Join(bin1, "tool")))
			_, err := lookPath(filepath.Join(bin1, "missing"), []string{"PATH=" + bin1})
			Expect(err).To(MatchError(fmt.Sprintf("exec: %q: stat %s: no such file or directory", filepath.Join(bin1, "missing"), filepath.Join(bin1, "missing"))))
			_, err = lookPath(bin1, nil)
			Expect(err).To(MatchError(fmt.Sprintf("exec: %q: is a directory", bin1)))
		})
	})

	Describe("which parts the early init leaves to tarstream", func() {
		var args []string
		BeforeEach(func() {
			args = os.Args
			DeferCleanup(func() { os.Args = args; os.Unsetenv(ShimSpecEnv) })
		})

		It("leaves only a shim that streams a tar", func() {
			os.Args = []string{InitPath, ExecArg}
			for kind, want := range map[string]bool{KindTarIn: true, KindTarOut: true, KindExec: false} {
				os.Setenv(ShimSpecEnv, `{"kind":"`+kind+`"}`)
				Expect(streamsTar()).To(Equal(want), kind)
			}
			os.Args = []string{"/somewhere/garden-dadoo"}
			os.Setenv(ShimSpecEnv, `{"kind":"tar-in"}`)
			Expect(streamsTar()).To(BeFalse())
			os.Args = []string{"garden"}
			Expect(streamsTar()).To(BeFalse())
		})
	})

	Describe("splitList", func() {
		It("splits PATH as filepath.SplitList does", func() {
			Expect(splitList("")).To(BeEmpty())
			Expect(splitList("/a::/b")).To(Equal([]string{"/a", "", "/b"}))
		})
	})
})
