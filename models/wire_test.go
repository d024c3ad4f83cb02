package models_test

import (
	"diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// These messages are built by hand from the field numbers in the spec's
// tables (core §1.1–§1.3), not from our generated code, so they prove that we
// read what Diego writes.

type wire []byte

func (w wire) str(n protowire.Number, s string) wire {
	w = protowire.AppendTag(w, n, protowire.BytesType)
	return protowire.AppendString(w, s)
}

func (w wire) varint(n protowire.Number, v uint64) wire {
	w = protowire.AppendTag(w, n, protowire.VarintType)
	return protowire.AppendVarint(w, v)
}

func (w wire) msg(n protowire.Number, inner wire) wire {
	w = protowire.AppendTag(w, n, protowire.BytesType)
	return protowire.AppendBytes(w, inner)
}

var _ = Describe("Wire compatibility with Diego's field numbers", func() {
	It("decodes a Task", func() {
		run := wire{}.str(1, "/bin/sh").str(2, "-c").str(2, "echo hi").str(6, "vcap")
		action := wire{}.msg(3, run) // Action.run_action = 3
		def := wire{}.
			str(1, "preloaded:cflinuxfs4").                      // root_fs
			msg(2, wire{}.str(1, "LANG").str(2, "en_US.UTF-8")). // environment_variables
			msg(3, action).                                      // action
			varint(4, 1024).                                     // disk_mb
			varint(5, 256).                                      // memory_mb
			varint(6, 50).                                       // cpu_weight
			varint(7, 1).                                        // privileged
			str(11, "/tmp/result").                              // result_file
			str(12, "http://cc/callback").                       // completion_callback_url
			varint(21, 100)                                      // max_pids
		b := wire{}.
			msg(1, def).
			str(2, "task-guid").
			str(3, "cf-tasks").
			varint(4, 1700000000000000000).
			varint(7, 2). // Running
			str(8, "cell-1").
			str(9, "42").
			varint(10, 1).
			str(11, "boom").
			varint(12, 2).
			str(13, "no room")

		t := &models.Task{}
		Expect(proto.Unmarshal(b, t)).To(Succeed())
		Expect(t.TaskGuid).To(Equal("task-guid"))
		Expect(t.Domain).To(Equal("cf-tasks"))
		Expect(t.CreatedAt).To(Equal(int64(1700000000000000000)))
		Expect(t.State).To(Equal(models.Task_Running))
		Expect(t.CellId).To(Equal("cell-1"))
		Expect(t.Result).To(Equal("42"))
		Expect(t.Failed).To(BeTrue())
		Expect(t.FailureReason).To(Equal("boom"))
		Expect(t.RejectionCount).To(Equal(int32(2)))
		Expect(t.RejectionReason).To(Equal("no room"))
		d := t.TaskDefinition
		Expect(d.RootFs).To(Equal("preloaded:cflinuxfs4"))
		Expect(d.EnvironmentVariables[0].Name).To(Equal("LANG"))
		Expect(d.DiskMb).To(Equal(int32(1024)))
		Expect(d.MemoryMb).To(Equal(int32(256)))
		Expect(d.CpuWeight).To(Equal(uint32(50)))
		Expect(d.Privileged).To(BeTrue())
		Expect(d.ResultFile).To(Equal("/tmp/result"))
		Expect(d.CompletionCallbackUrl).To(Equal("http://cc/callback"))
		Expect(d.MaxPids).To(Equal(int32(100)))
		Expect(d.Action.RunAction.Path).To(Equal("/bin/sh"))
		Expect(d.Action.RunAction.Args).To(Equal([]string{"-c", "echo hi"}))
		Expect(d.Action.RunAction.User).To(Equal("vcap"))
		Expect(t.Validate()).To(Succeed())

		// And we write the same bytes back (field order and encoding match).
		out, err := proto.MarshalOptions{Deterministic: true}.Marshal(t)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal([]byte(b)))
	})

	It("decodes a DesiredLRP", func() {
		b := wire{}.
			str(1, "process-guid").
			str(2, "cf-apps").
			str(3, "docker:///busybox").
			varint(4, 3).
			msg(7, wire{}.msg(3, wire{}.str(1, "/bin/server").str(6, "vcap"))). // action
			varint(8, 60).                                                      // deprecated_start_timeout_s
			varint(10, 512).
			varint(11, 128).
			varint(14, 8080).
			varint(14, 2222).
			msg(15, wire{}.msg(1, wire{}.str(1, "cf-router").str(2, `[{"hostnames":["a.example.com"],"port":8080}]`))).
			str(17, "log-guid").
			str(19, "annotated").
			msg(21, wire{}.str(1, "epoch-1").varint(2, 7)).
			varint(27, 60000).
			str(28, "gpu").
			varint(29, 1024)

		d := &models.DesiredLRP{}
		Expect(proto.Unmarshal(b, d)).To(Succeed())
		Expect(d.ProcessGuid).To(Equal("process-guid"))
		Expect(d.Domain).To(Equal("cf-apps"))
		Expect(d.RootFs).To(Equal("docker:///busybox"))
		Expect(d.Instances).To(Equal(int32(3)))
		Expect(d.Action.RunAction.Path).To(Equal("/bin/server"))
		Expect(d.DeprecatedStartTimeoutS).To(Equal(uint32(60)))
		Expect(d.DiskMb).To(Equal(int32(512)))
		Expect(d.MemoryMb).To(Equal(int32(128)))
		Expect(d.Ports).To(Equal([]uint32{8080, 2222}))
		Expect(string(d.Routes.Routes["cf-router"])).To(ContainSubstring("a.example.com"))
		Expect(d.LogGuid).To(Equal("log-guid"))
		Expect(d.Annotation).To(Equal("annotated"))
		Expect(d.ModificationTag.Epoch).To(Equal("epoch-1"))
		Expect(d.ModificationTag.Index).To(Equal(uint32(7)))
		Expect(d.StartTimeoutMs).To(Equal(int64(60000)))
		Expect(d.PlacementTags).To(Equal([]string{"gpu"}))
		Expect(d.MaxPids).To(Equal(int32(1024)))
		Expect(d.Validate()).To(Succeed())
	})

	It("decodes an ActualLRP", func() {
		b := wire{}.
			msg(1, wire{}.str(1, "process-guid").varint(2, 2).str(3, "cf-apps")).
			msg(2, wire{}.str(1, "instance-guid").str(2, "cell-7")).
			msg(3, wire{}.
				str(1, "10.0.0.5").
				msg(2, wire{}.varint(1, 8080).varint(2, 61001)).
				str(3, "10.255.0.2").
				varint(4, 2)). // HOST
			varint(4, 1).
			str(5, "exited").
			str(6, "RUNNING").
			varint(8, 1700000000000000001).
			msg(9, wire{}.str(1, "epoch").varint(2, 3)).
			varint(10, 1). // EVACUATING
			varint(13, 1).
			str(14, "z1")

		a := &models.ActualLRP{}
		Expect(proto.Unmarshal(b, a)).To(Succeed())
		Expect(a.ActualLrpKey.ProcessGuid).To(Equal("process-guid"))
		Expect(a.ActualLrpKey.Index).To(Equal(int32(2)))
		Expect(a.ActualLrpKey.Domain).To(Equal("cf-apps"))
		Expect(a.ActualLrpInstanceKey.InstanceGuid).To(Equal("instance-guid"))
		Expect(a.ActualLrpInstanceKey.CellId).To(Equal("cell-7"))
		Expect(a.ActualLrpNetInfo.Address).To(Equal("10.0.0.5"))
		Expect(a.ActualLrpNetInfo.Ports[0].ContainerPort).To(Equal(uint32(8080)))
		Expect(a.ActualLrpNetInfo.Ports[0].HostPort).To(Equal(uint32(61001)))
		Expect(a.ActualLrpNetInfo.InstanceAddress).To(Equal("10.255.0.2"))
		Expect(a.ActualLrpNetInfo.PreferredAddress).To(Equal(models.ActualLRPNetInfo_HOST))
		Expect(a.CrashCount).To(Equal(int32(1)))
		Expect(a.CrashReason).To(Equal("exited"))
		Expect(a.State).To(Equal(models.ActualLRPStateRunning))
		Expect(a.Since).To(Equal(int64(1700000000000000001)))
		Expect(a.ModificationTag.Index).To(Equal(uint32(3)))
		Expect(a.Presence).To(Equal(models.ActualLRP_EVACUATING))
		Expect(a.Routable).NotTo(BeNil())
		Expect(*a.Routable).To(BeTrue())
		Expect(a.AvailabilityZone).To(Equal("z1"))
		Expect(a.Validate()).To(Succeed())
	})
})
