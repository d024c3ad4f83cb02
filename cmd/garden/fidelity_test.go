package main_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/garden"
	gardenconfig "diego/garden/config"
	"diego/test/ports"
)

var _ = Describe("fidelity to Diego's garden", func() {
	It("says what Diego's garden says for a missing user, a missing executable and a failed stream in", func() {
		g := runningGarden()
		c, err := g.client.Create(garden.ContainerSpec{Handle: "texts"})
		Expect(err).NotTo(HaveOccurred())

		_, err = c.Run(garden.ProcessSpec{Path: "sh", User: "nobody-here"}, garden.ProcessIO{})
		Expect(err).To(MatchError("unable to find user nobody-here: no matching entries in passwd file"))

		_, err = c.Run(garden.ProcessSpec{Path: "no-such-program"}, garden.ProcessIO{})
		var notFound garden.ExecutableNotFoundError
		Expect(errors.As(err, &notFound)).To(BeTrue(), fmt.Sprint(err))
		Expect(err).To(MatchError(`exec: "no-such-program": executable file not found in $PATH`))

		_, err = c.Run(garden.ProcessSpec{Path: "/bin/no-such-program"}, garden.ProcessIO{})
		Expect(errors.As(err, &notFound)).To(BeTrue(), fmt.Sprint(err))
		Expect(err).To(MatchError(`exec: "/bin/no-such-program": stat /bin/no-such-program: no such file or directory`))

		err = c.StreamIn(garden.StreamInSpec{Path: "/etc", User: "vcap", TarStream: tarOf(map[string]string{"x": "y"})})
		Expect(err).To(MatchError(MatchRegexp(`^error streaming in: exit status [1-9][0-9]*\. Output: .*permission denied`)))
	})

	It("serves expvar beside pprof on the debug address", func() {
		debug := ports.Addr()
		runningGarden(func(c *gardenconfig.Config) { c.DebugAddress = debug })

		resp, err := http.Get("http://" + debug + "/debug/vars")
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		body, err := io.ReadAll(resp.Body)
		Expect(err).NotTo(HaveOccurred())
		var vars map[string]json.RawMessage
		Expect(json.Unmarshal(body, &vars)).To(Succeed(), string(body))
		Expect(vars).To(HaveKey("memstats"))
		Expect(vars).To(HaveKey("cmdline"))

		pprof, err := http.Get("http://" + debug + "/debug/pprof/")
		Expect(err).NotTo(HaveOccurred())
		pprof.Body.Close()
		Expect(pprof.StatusCode).To(Equal(http.StatusOK))
	})
})
