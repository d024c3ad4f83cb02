package linux

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"diego/garden"
)

var _ = Describe("a process's limits", func() {
	Describe("rlimits", func() {
		It("refuses an unknown limit", func() {
			_, err := ociRlimits(map[string]uint64{"bogus": 1})
			Expect(err).To(MatchError(`unknown rlimit "bogus"`))
		})

		It("gives runc every limit the process spec carries, soft and hard", func() {
			one := uint64(1)
			names := rlimitMap(garden.ResourceLimits{
				As: &one, Core: &one, Cpu: &one, Data: &one, Fsize: &one, Locks: &one, Memlock: &one, Msgqueue: &one,
				Nice: &one, Nofile: &one, Nproc: &one, Rss: &one, Rtprio: &one, Sigpending: &one, Stack: &one,
			})
			Expect(names).To(HaveLen(15))
			limits, err := ociRlimits(names)
			Expect(err).NotTo(HaveOccurred())
			Expect(limits).To(HaveLen(15))
			Expect(limits).To(ContainElement(specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: 1, Soft: 1}))
		})
	})
})
