package models_test

import (
	"math/rand/v2"

	"diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"
)

var _ = Describe("Splitting and assembling desired LRPs", func() {
	It("round-trips every stored field through scheduling info and run info", func() {
		d := &models.DesiredLRP{}
		fill(d.ProtoReflect(), rand.New(rand.NewPCG(3, 4)), 3)
		d.UpdateStrategy = models.DesiredLRP_ROLLING // not stored in either record
		d.VolumeMounts = []*models.VolumeMount{{Driver: "nfs"}}
		s := d.DesiredLRPSchedulingInfo()
		r := d.DesiredLRPRunInfo(42)
		Expect(r.CreatedAt).To(Equal(int64(42)))
		Expect(s.VolumePlacement.DriverNames).To(Equal([]string{"nfs"}))
		Expect(proto.Equal(models.NewDesiredLRP(s, r), d)).To(BeTrue())
	})

	It("applies an update, leaving absent fields alone", func() {
		s := &models.DesiredLRPSchedulingInfo{Instances: 2, Annotation: "a", ModificationTag: &models.ModificationTag{Epoch: "e", Index: 4}}
		s.ApplyUpdate(&models.DesiredLRPUpdate{Instances: proto.Int32(5)})
		Expect(s.Instances).To(Equal(int32(5)))
		Expect(s.Annotation).To(Equal("a"))
		Expect(s.ModificationTag.Index).To(Equal(uint32(5)))
		s.ApplyUpdate(&models.DesiredLRPUpdate{Annotation: proto.String("")})
		Expect(s.Annotation).To(BeEmpty())
		Expect(s.Instances).To(Equal(int32(5)))
	})

	It("down-converts to the V0 form without changing the original", func() {
		inner := models.WrapAction(&models.TimeoutAction{TimeoutMs: 1500, Action: run()})
		d := &models.DesiredLRP{StartTimeoutMs: 61000, Action: models.WrapAction(&models.SerialAction{Actions: []*models.Action{inner}})}
		v0 := d.VersionDownTo0()
		Expect(v0.DeprecatedStartTimeoutS).To(Equal(uint32(61)))
		Expect(v0.Action.SerialAction.Actions[0].TimeoutAction.DeprecatedTimeoutNs).To(Equal(int64(1_500_000_000)))
		Expect(d.Action.SerialAction.Actions[0].TimeoutAction.DeprecatedTimeoutNs).To(BeZero())
	})

	It("keeps only routing fields in a routing info", func() {
		d := validDesiredLRP()
		d.Routes = &models.ProtoRoutes{Routes: map[string][]byte{"cf-router": []byte("[]")}}
		r := d.RoutingInfo()
		Expect(r.ProcessGuid).To(Equal(d.ProcessGuid))
		Expect(r.Routes).To(Equal(d.Routes))
		Expect(r.Action).To(BeNil())
	})
})
