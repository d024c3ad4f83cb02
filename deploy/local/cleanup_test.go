package local_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/local"
)

var _ = Describe("PurgeRules", func() {
	It("deletes the tag's chains and the jumps to them, and nothing of other tags", func() {
		listing := `-P INPUT ACCEPT
-P FORWARD ACCEPT
-N w-a-forward
-N w-a-input
-N w-a-instance-0afb0000
-N w-ab-input
-A INPUT -i wa+ -j w-a-input
-A INPUT -i wab+ -j w-ab-input
-A FORWARD -i wa+ -j w-a-forward
-A w-a-forward -j w-a-instance-0afb0000
-A w-a-input -j REJECT
-A w-ab-input -j REJECT
-N w-a-forward
`
		Expect(local.PurgeRules(listing, "w-a-")).To(Equal(`-D INPUT -i wa+ -j w-a-input
-D FORWARD -i wa+ -j w-a-forward
-F w-a-forward
-F w-a-input
-F w-a-instance-0afb0000
-X w-a-forward
-X w-a-input
-X w-a-instance-0afb0000
`))
	})

	It("is empty when the tag has nothing", func() {
		Expect(local.PurgeRules("-P INPUT ACCEPT\n-N w-b-input\n", "w-a-")).To(BeEmpty())
	})
})
