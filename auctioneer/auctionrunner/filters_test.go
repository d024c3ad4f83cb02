package auctionrunner_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/auctioneer/auctionrunner"
	"diego/rep"
)

var _ = Describe("Filters", func() {
	var cell rep.CellState

	BeforeEach(func() {
		cell = newCell("c", "z", 100, 100, 10)
		cell.VolumeDrivers = []string{"nfs"}
		cell.PlacementTags = []string{"req"}
		cell.OptionalPlacementTags = []string{"opt"}
	})

	Describe("FilterRootFS", func() {
		DescribeTable("matching",
			func(rootfs string, ok bool) {
				got, reason := auctionrunner.FilterRootFS(&cell, rep.NewPlacementConstraint(rootfs, nil, nil))
				Expect(got).To(Equal(ok))
				if ok {
					Expect(reason).To(BeEmpty())
				} else {
					Expect(reason).To(Equal("found no compatible cell for required rootfs"))
				}
			},
			Entry("a preloaded stack in the set", "preloaded:linux", true),
			Entry("a preloaded stack not in the set", "preloaded:windows", false),
			Entry("anything docker", "docker:///busybox", true),
			Entry("an unknown scheme", "oci:///x", false),
		)
	})

	Describe("FilterVolumeDrivers", func() {
		It("needs every driver", func() {
			ok, _ := auctionrunner.FilterVolumeDrivers(&cell, rep.NewPlacementConstraint(linux, nil, []string{"nfs"}))
			Expect(ok).To(BeTrue())
			ok, reason := auctionrunner.FilterVolumeDrivers(&cell, rep.NewPlacementConstraint(linux, nil, []string{"nfs", "smb"}))
			Expect(ok).To(BeFalse())
			Expect(reason).To(Equal("found no compatible cell with required volume drivers"))
		})
	})

	Describe("FilterPlacementTags", func() {
		DescribeTable("required ⊆ wanted ⊆ required ∪ optional",
			func(tags []string, ok bool) {
				got, reason := auctionrunner.FilterPlacementTags(&cell, rep.NewPlacementConstraint(linux, tags, nil))
				Expect(got).To(Equal(ok))
				if !ok {
					Expect(reason).To(Equal(auctionrunner.PlacementTagsError(tags)))
				}
			},
			Entry("the required tag", []string{"req"}, true),
			Entry("required and optional", []string{"req", "opt"}, true),
			Entry("missing the required tag", []string{"opt"}, false),
			Entry("no tags", nil, false),
			Entry("an unknown tag", []string{"req", "other"}, false),
		)
	})

	Describe("PlacementTagsError", func() {
		It("words zero, one, two and three tags", func() {
			Expect(auctionrunner.PlacementTagsError(nil)).To(Equal("found no compatible cell with no placement tags"))
			Expect(auctionrunner.PlacementTagsError([]string{"x"})).To(Equal(`found no compatible cell with placement tag "x"`))
			Expect(auctionrunner.PlacementTagsError([]string{"a", "b"})).To(Equal(`found no compatible cell with placement tags "a" and "b"`))
			Expect(auctionrunner.PlacementTagsError([]string{"a", "b", "c"})).To(Equal(`found no compatible cell with placement tags "a", "b" and "c"`))
		})
	})

	It("applies rootfs, then volume drivers, then placement tags", func() {
		Expect(auctionrunner.Filters).To(HaveLen(3))
		pc := rep.NewPlacementConstraint("preloaded:windows", []string{"nope"}, []string{"smb"})
		_, reason := auctionrunner.Filters[0](&cell, pc)
		Expect(reason).To(Equal(auctionrunner.ErrIncompatibleRootFS))
		_, reason = auctionrunner.Filters[1](&cell, pc)
		Expect(reason).To(Equal(auctionrunner.ErrIncompatibleVolumes))
		_, reason = auctionrunner.Filters[2](&cell, pc)
		Expect(reason).To(Equal(`found no compatible cell with placement tag "nope"`))
	})
})
