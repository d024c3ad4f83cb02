package main_test

import (
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
)

const task = `{"task_guid":"hello","domain":"demo","rootfs":"preloaded:cflinuxfs4",
 "action":{"run":{"path":"/bin/echo","args":["hi"],"user":"vcap"}},"memory_mb":64,"disk_mb":64}`

const lrp = `{"process_guid":"web","domain":"demo","rootfs":"preloaded:cflinuxfs4","instances":2,
 "action":{"run":{"path":"/bin/server","user":"vcap"}},"memory_mb":128,"disk_mb":128,"ports":[8080]}`

var _ = Describe("The diego CLI", func() {
	var env []string

	BeforeEach(func() {
		url := startStack()
		env = []string{"DIEGO_RECEPTOR=" + url, "DIEGO_USERNAME=user", "DIEGO_PASSWORD=secret"}
	})

	run := func(stdin string, args ...string) *gexec.Session {
		GinkgoHelper()
		s := diego(env, stdin, args...)
		Eventually(s, 10*time.Second).Should(gexec.Exit())
		return s
	}

	It("creates, lists, shows, cancels and deletes a task", func() {
		Expect(run(task, "create-task", "-")).To(gexec.Exit(0))
		s := run("", "tasks")
		Expect(s).To(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`TASK GUID\s+DOMAIN\s+STATE`))
		Expect(s.Out).To(gbytes.Say(`hello\s+demo\s+PENDING`))
		s = run("", "--json", "task", "hello")
		Expect(s).To(gexec.Exit(0))
		Expect(s.Out.Contents()).To(ContainSubstring(`"task_guid": "hello"`))

		Expect(run("", "cancel-task", "hello")).To(gexec.Exit(0))
		s = run("", "task", "hello")
		Expect(s.Out.Contents()).To(ContainSubstring("task was cancelled"))
		Expect(run("", "delete-task", "hello")).To(gexec.Exit(0))
		s = run("", "task", "hello")
		Expect(s).To(gexec.Exit(1))
		Expect(s.Err).To(gbytes.Say(`TaskNotFound`))
	})

	It("creates an LRP from a file, scales it, shows its instances and deletes it", func() {
		path := filepath.Join(GinkgoT().TempDir(), "lrp.json")
		Expect(os.WriteFile(path, []byte(lrp), 0o644)).To(Succeed())
		Expect(run("", "create-lrp", path)).To(gexec.Exit(0))
		s := run("", "desired-lrps", "--domain", "demo")
		Expect(s.Out).To(gbytes.Say(`web\s+demo\s+2\s+128`))
		Expect(run("", "scale", "web", "3")).To(gexec.Exit(0))
		s = run("", "actual-lrps", "web")
		Expect(s).To(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`PORTS \(HOST:CONTAINER\)`))
		Expect(s.Out).To(gbytes.Say(`web\s+0\s+UNCLAIMED\s+-\s+-\s+-`))
		Expect(s.Out).To(gbytes.Say(`web\s+2\s+UNCLAIMED`))
		Expect(run(`{"annotation":"v2"}`, "update-lrp", "web", "-")).To(gexec.Exit(0))
		Expect(run("", "desired-lrp", "web").Out.Contents()).To(ContainSubstring(`"annotation": "v2"`))
		Expect(run("", "delete-lrp", "web")).To(gexec.Exit(0))
		Expect(run("", "desired-lrp", "web")).To(gexec.Exit(1))
	})

	It("manages domains and lists cells", func() {
		Expect(run("", "set-domain", "demo", "--ttl", "1m")).To(gexec.Exit(0))
		Expect(run("", "domains").Out).To(gbytes.Say("demo"))
		s := run("", "--json", "cells")
		Expect(s).To(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`\[\]`))
	})

	It("streams events", func() {
		events := diego(env, "", "events", "--count", "2")
		Eventually(events.Err, 10*time.Second).Should(gbytes.Say("streaming events from"), "subscribed before anything happens")
		Expect(run(lrp, "create-lrp", "-")).To(gexec.Exit(0))
		Eventually(events, 10*time.Second).Should(gexec.Exit(0))
		Expect(events.Out).To(gbytes.Say(`desired_lrp_created\s+web`))
		Expect(events.Out).To(gbytes.Say(`actual_lrp_created\s+web/0 UNCLAIMED`))
	})

	It("explains what went wrong", func() {
		s := run("", "--password", "wrong", "tasks")
		Expect(s).To(gexec.Exit(1))
		Expect(s.Err).To(gbytes.Say(`Unauthorized.*--username/--password`))

		s = run(`{"task_guid":"bad guid"}`, "create-task", "-")
		Expect(s).To(gexec.Exit(1))
		Expect(s.Err).To(gbytes.Say(`InvalidTask`))

		s = run(`{"surprise":1}`, "create-task", "-")
		Expect(s).To(gexec.Exit(1))
		Expect(s.Err).To(gbytes.Say(`not valid: json: unknown field "surprise"`))

		s = run("", "scale", "web", "many")
		Expect(s).To(gexec.Exit(2))
		Expect(s.Err).To(gbytes.Say(`usage: diego scale GUID INSTANCES`))

		s = run("", "frobnicate")
		Expect(s).To(gexec.Exit(2))

		s = diego([]string{"DIEGO_RECEPTOR=http://127.0.0.1:1"}, "", "tasks")
		Eventually(s, 10*time.Second).Should(gexec.Exit(1))
		Expect(s.Err).To(gbytes.Say(`cannot reach the receptor at http://127.0.0.1:1`))
	})

	It("prints help", func() {
		s := run("", "help")
		Expect(s).To(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`create-task FILE\|-`))
	})
})
