package models_test

import (
	"diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"
)

var _ = Describe("Down-converting for older route revisions", func() {
	layers := []*models.ImageLayer{
		{Name: "shared", Url: "http://s", DestinationPath: "/s", LayerType: models.ImageLayer_SHARED,
			MediaType: models.ImageLayer_TGZ, DigestAlgorithm: models.ImageLayer_SHA256, DigestValue: "abc"},
		{Name: "mine", Url: "http://m", DestinationPath: "/m", LayerType: models.ImageLayer_EXCLUSIVE,
			MediaType: models.ImageLayer_TGZ, DigestAlgorithm: models.ImageLayer_SHA256, DigestValue: "def"},
	}

	It("folds an LRP's layers into cached dependencies and setup downloads", func() {
		setup := models.WrapAction(&models.RunAction{Path: "/setup", User: "vcap"})
		d := &models.DesiredLRP{ProcessGuid: "pg", ImageLayers: layers, Setup: setup, LegacyDownloadUser: "vcap"}
		v2 := d.VersionDownTo2()
		Expect(v2.ImageLayers).To(BeNil())
		Expect(v2.CachedDependencies).To(HaveLen(1))
		Expect(v2.CachedDependencies[0].From).To(Equal("http://s"))
		Expect(v2.CachedDependencies[0].CacheKey).To(Equal("SHA256:abc"))
		Expect(v2.CachedDependencies[0].ChecksumAlgorithm).To(Equal("sha256"))
		steps := v2.Setup.SerialAction.Actions
		Expect(steps[0].ParallelAction.Actions[0].DownloadAction.From).To(Equal("http://m"))
		Expect(steps[0].ParallelAction.Actions[0].DownloadAction.User).To(Equal("vcap"))
		Expect(proto.Equal(steps[1], setup)).To(BeTrue())
		Expect(d.ImageLayers).To(HaveLen(2), "the original is left alone")
		Expect(v2.VersionDownTo2()).To(BeIdenticalTo(v2), "nothing to do without layers")
	})

	It("runs a task's exclusive layers before its action", func() {
		t := &models.Task{TaskGuid: "t", TaskDefinition: &models.TaskDefinition{ImageLayers: layers[1:], Action: run()}}
		v2 := t.VersionDownTo2()
		Expect(v2.TaskDefinition.ImageLayers).To(BeNil())
		Expect(v2.TaskDefinition.Action.SerialAction.Actions).To(HaveLen(2))
		Expect(v2.TaskDefinition.Action.SerialAction.Actions[0].ParallelAction).NotTo(BeNil())
	})

	It("includes the r2 folding in the r0 form", func() {
		v0 := (&models.DesiredLRP{ImageLayers: layers[:1], StartTimeoutMs: 2000}).VersionDownTo0()
		Expect(v0.ImageLayers).To(BeNil())
		Expect(v0.DeprecatedStartTimeoutS).To(Equal(uint32(2)))
	})
})
