package models_test

import (
	"diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"
)

var _ = Describe("Events", func() {
	task := &models.Task{TaskGuid: "tg"}
	desired := &models.DesiredLRP{ProcessGuid: "pg"}
	lrp := &models.ActualLRP{State: "RUNNING", ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: "ig", CellId: "c"}}
	group := &models.ActualLRPGroup{Instance: lrp}
	info := &models.ActualLRPInfo{State: "RUNNING"}

	DescribeTable("name, key and decoding round trip",
		func(e models.Event, name, key string) {
			Expect(e.EventType()).To(Equal(name))
			Expect(e.Key()).To(Equal(key))
			payload, err := proto.Marshal(e)
			Expect(err).NotTo(HaveOccurred())
			decoded, err := models.DecodeEvent(name, payload)
			Expect(err).NotTo(HaveOccurred())
			Expect(proto.Equal(decoded, e)).To(BeTrue())
		},
		Entry(nil, &models.DesiredLRPCreatedEvent{DesiredLrp: desired}, "desired_lrp_created", "pg"),
		Entry(nil, &models.DesiredLRPChangedEvent{Before: desired, After: desired}, "desired_lrp_changed", "pg"),
		Entry(nil, &models.DesiredLRPRemovedEvent{DesiredLrp: desired}, "desired_lrp_removed", "pg"),
		Entry(nil, &models.ActualLRPCreatedEvent{ActualLrpGroup: group}, "actual_lrp_created", "ig"),
		Entry(nil, &models.ActualLRPChangedEvent{Before: group, After: group}, "actual_lrp_changed", "ig"),
		Entry(nil, &models.ActualLRPRemovedEvent{ActualLrpGroup: group}, "actual_lrp_removed", "ig"),
		Entry(nil, &models.ActualLRPCrashedEvent{ActualLrpInstanceKey: lrp.ActualLrpInstanceKey, CrashCount: 1}, "actual_lrp_crashed", "ig"),
		Entry(nil, &models.ActualLRPInstanceCreatedEvent{ActualLrp: lrp}, "actual_lrp_instance_created", "ig"),
		Entry(nil, &models.ActualLRPInstanceChangedEvent{ActualLrpInstanceKey: lrp.ActualLrpInstanceKey, Before: info, After: info}, "actual_lrp_instance_changed", "ig"),
		Entry(nil, &models.ActualLRPInstanceRemovedEvent{ActualLrp: lrp}, "actual_lrp_instance_removed", "ig"),
		Entry(nil, &models.TaskCreatedEvent{Task: task}, "task_created", "tg"),
		Entry(nil, &models.TaskChangedEvent{Before: task, After: task}, "task_changed", "tg"),
		Entry(nil, &models.TaskRemovedEvent{Task: task}, "task_removed", "tg"),
	)

	It("refuses unknown names and bad payloads", func() {
		_, err := models.DecodeEvent("lrp_exploded", nil)
		Expect(err).To(MatchError(ContainSubstring("unknown event type")))
		_, err = models.DecodeEvent("task_created", []byte{0x0a, 0xff})
		Expect(err).To(HaveOccurred())
	})
})
