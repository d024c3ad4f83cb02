package launcher_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/ccbridge/lifecycle/launcher"
)

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v
		}
	}
	return "<unset>"
}

var _ = Describe("the launcher", func() {
	var home string

	BeforeEach(func() {
		home = GinkgoT().TempDir()
		Expect(os.MkdirAll(filepath.Join(home, "app", ".profile.d"), 0o755)).To(Succeed())
	})

	It("needs its three arguments", func() {
		_, err := launcher.Prepare([]string{"app", "cmd"}, nil, home)
		Expect(err).To(MatchError(launcher.ErrUsage))
	})

	It("sets HOME, TMPDIR and rewrites VCAP_APPLICATION", func() {
		plan, err := launcher.Prepare([]string{"app", "./run", ""}, []string{
			"VCAP_APPLICATION={\"name\":\"a\",\"host\":\"x\"}", "PORT=8080", "INSTANCE_INDEX=2", "INSTANCE_GUID=g",
		}, home)
		Expect(err).NotTo(HaveOccurred())
		Expect(envValue(plan.Env, "HOME")).To(Equal(filepath.Join(home, "app")))
		Expect(envValue(plan.Env, "TMPDIR")).To(Equal(filepath.Join(home, "tmp")))
		Expect(envValue(plan.Env, "VCAP_APPLICATION")).To(MatchJSON(
			`{"name":"a","host":"0.0.0.0","port":8080,"instance_index":2,"instance_id":"g"}`))
		Expect(plan.Path).To(Equal("/bin/bash"))
		Expect(plan.Args[len(plan.Args)-2:]).To(Equal([]string{filepath.Join(home, "app"), "./run"}))
	})

	It("leaves a VCAP_APPLICATION that is not a JSON object alone", func() {
		plan, err := launcher.Prepare([]string{"app", "./run", ""}, []string{"VCAP_APPLICATION=[1]"}, home)
		Expect(err).NotTo(HaveOccurred())
		Expect(envValue(plan.Env, "VCAP_APPLICATION")).To(Equal("[1]"))
	})

	It("falls back to staging_info.yml's start_command, and refuses when there is none", func() {
		_, err := launcher.Prepare([]string{"app", "", ""}, nil, home)
		Expect(err).To(MatchError(launcher.ErrUsage))
		Expect(os.WriteFile(filepath.Join(home, "staging_info.yml"),
			[]byte("detected_buildpack: Binary\nstart_command: ./app-binary\n"), 0o644)).To(Succeed())
		plan, err := launcher.Prepare([]string{"app", "", ""}, nil, home)
		Expect(err).NotTo(HaveOccurred())
		Expect(plan.Args[len(plan.Args)-1]).To(Equal("./app-binary"))
	})

	It("runs the command in the app directory after sourcing .profile.d", func() {
		bash, err := exec.LookPath("bash")
		if err != nil {
			Skip("no bash on this machine")
		}
		Expect(os.WriteFile(filepath.Join(home, "app", ".profile.d", "a.sh"), []byte("export GREETING=hello\n"), 0o644)).To(Succeed())
		plan, err := launcher.Prepare([]string{"app", `echo "$GREETING from $(pwd)"`, ""}, []string{"PATH=" + os.Getenv("PATH")}, home)
		Expect(err).NotTo(HaveOccurred())
		cmd := exec.Command(bash, plan.Args[1:]...)
		cmd.Env = plan.Env
		out, err := cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).To(Equal("hello from " + filepath.Join(home, "app") + "\n"))
	})
})
