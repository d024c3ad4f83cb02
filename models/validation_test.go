package models_test

import (
	"errors"
	"strings"

	"diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"
)

func run() *models.Action {
	return models.WrapAction(&models.RunAction{Path: "/bin/true", User: "vcap"})
}

func validTask() *models.Task {
	return &models.Task{TaskGuid: "task-1", Domain: "d", TaskDefinition: &models.TaskDefinition{
		RootFs: "preloaded:cflinuxfs4", Action: run(),
	}}
}

func validDesiredLRP() *models.DesiredLRP {
	return &models.DesiredLRP{ProcessGuid: "pg-1", Domain: "d", RootFs: "docker:///busybox", Instances: 1, Action: run()}
}

// expectInvalid asserts an InvalidRequest models.Error whose message is
// exactly the given problems, in order, joined with ", ".
func expectInvalid(err error, problems ...string) {
	GinkgoHelper()
	var e *models.Error
	Expect(errors.As(err, &e)).To(BeTrue(), "expected a *models.Error, got %v", err)
	Expect(e.GetType()).To(Equal(models.Error_InvalidRequest))
	Expect(e.GetMessage()).To(Equal(strings.Join(problems, ", ")))
}

var _ = Describe("Validation", func() {
	Describe("Task", func() {
		It("accepts a valid task", func() {
			Expect(validTask().Validate()).To(Succeed())
		})

		It("names every bad field at once", func() {
			t := &models.Task{TaskGuid: "bad guid!", TaskDefinition: &models.TaskDefinition{
				RootFs: "no-scheme", MemoryMb: -1, DiskMb: -1, MaxPids: -1,
				Annotation: strings.Repeat("a", 10*1024+1),
			}}
			expectInvalid(t.Validate(), "Invalid field: domain", "Invalid field: task_guid",
				"Invalid field: rootfs", "invalid action type", "Invalid field: memory_mb",
				"Invalid field: disk_mb", "Invalid field: max_pids", "Invalid field: annotation")
		})

		DescribeTable("single rules",
			func(mutate func(*models.Task), problems ...string) {
				t := validTask()
				mutate(t)
				expectInvalid(t.Validate(), problems...)
			},
			Entry("missing definition", func(t *models.Task) { t.TaskDefinition = nil }, "Invalid field: task_definition"),
			Entry("empty rootfs", func(t *models.Task) { t.TaskDefinition.RootFs = "" }, "Invalid field: rootfs"),
			Entry("invalid action", func(t *models.Task) { t.TaskDefinition.Action.RunAction.User = "" },
				"Invalid field: action", "Invalid field: user"),
			Entry("cpu weight over 100", func(t *models.Task) { t.TaskDefinition.CpuWeight = 101 }, "Invalid field: cpu_weight"),
			Entry("log rate limit", func(t *models.Task) {
				t.TaskDefinition.LogRateLimit = &models.LogRateLimit{BytesPerSecond: -2}
			}, "Invalid field: log_rate_limit"),
			Entry("image password without user", func(t *models.Task) { t.TaskDefinition.ImagePassword = "p" },
				"Invalid field: image_username"),
			Entry("image user without password", func(t *models.Task) { t.TaskDefinition.ImageUsername = "u" },
				"Invalid field: image_password"),
			Entry("bad egress rule", func(t *models.Task) {
				t.TaskDefinition.EgressRules = []*models.SecurityGroupRule{{Protocol: "tcp", Destinations: []string{"1.2.3.4"}}}
			}, "Invalid field: egress_rules"),
			Entry("bad cached dependency", func(t *models.Task) {
				t.TaskDefinition.LegacyDownloadUser = "vcap"
				t.TaskDefinition.CachedDependencies = []*models.CachedDependency{{To: "/y", ChecksumValue: "abc"}}
			}, "Invalid field: cached_dependency", "Invalid field: from", "Invalid field: checksum algorithm"),
		)

		It("accepts the URL forms of rootfs", func() {
			for _, r := range []string{"preloaded:cflinuxfs4", "docker:///busybox", "docker://registry/img#tag", "preloaded+layer:x?layer=y"} {
				t := validTask()
				t.TaskDefinition.RootFs = r
				Expect(t.Validate()).To(Succeed(), r)
			}
		})
	})

	Describe("DesiredLRP", func() {
		It("accepts a valid LRP", func() {
			Expect(validDesiredLRP().Validate()).To(Succeed())
		})

		It("names every bad field at once", func() {
			d := &models.DesiredLRP{ProcessGuid: "", RootFs: "", Instances: -1, MemoryMb: -1, DiskMb: -1,
				CpuWeight: 101, MaxPids: -1, LogRateLimit: &models.LogRateLimit{BytesPerSecond: -5},
				Annotation: strings.Repeat("a", 10*1024+1),
				Routes:     &models.ProtoRoutes{Routes: map[string][]byte{"cf-router": []byte(`"` + strings.Repeat("r", 4*1024) + `"`)}},
				Setup:      &models.Action{}, Monitor: models.WrapAction(&models.RunAction{}),
			}
			expectInvalid(d.Validate(),
				"Invalid field: domain", "Invalid field: rootfs",
				"Invalid field: instances", "Invalid field: memory_mb", "Invalid field: disk_mb",
				"Invalid field: log_rate_limit_bytes_per_second", "Invalid field: annotation", "Invalid field: max_pids",
				"Invalid field: routes", "Invalid field: process_guid", "Invalid field: setup", "Invalid field: inner-action", "invalid action type",
				"Invalid field: monitor", "Invalid field: path", "Invalid field: user", "Invalid field: cpu_weight")
		})

		It("accepts routes of exactly 4 KiB", func() {
			d := validDesiredLRP()
			d.Routes = &models.ProtoRoutes{Routes: map[string][]byte{"a": []byte(`"` + strings.Repeat("r", 4*1024-2) + `"`)}}
			Expect(d.Validate()).To(Succeed())
		})

		DescribeTable("nested parts",
			func(mutate func(*models.DesiredLRP), problems ...string) {
				d := validDesiredLRP()
				mutate(d)
				expectInvalid(d.Validate(), problems...)
			},
			Entry("blank env name", func(d *models.DesiredLRP) {
				d.EnvironmentVariables = []*models.EnvironmentVariable{{Value: "x"}}
			}, "invalid field: name cannot be blank"),
			Entry("check definition", func(d *models.DesiredLRP) {
				d.CheckDefinition = &models.CheckDefinition{Checks: []*models.Check{{}, {TcpCheck: &models.TCPCheck{}}}}
			}, "Invalid field: check_definition", "Invalid field: check", "Invalid field: port"),
			Entry("sidecar", func(d *models.DesiredLRP) {
				d.Sidecars = []*models.Sidecar{{MemoryMb: -1}}
			}, "Invalid field: sidecars", "invalid action type", "Invalid field: memory_mb"),
			Entry("image layer", func(d *models.DesiredLRP) {
				d.LegacyDownloadUser = "vcap"
				d.ImageLayers = []*models.ImageLayer{{LayerType: models.ImageLayer_EXCLUSIVE}}
			}, "Invalid field: image_layer", "Invalid field: url", "Invalid field: destination_path",
				"Invalid field: media_type", "Invalid field: digest_algorithm", "Invalid field: digest_value"),
		)
	})

	Describe("DesiredLRPUpdate, scheduling info and run info", func() {
		It("checks an update", func() {
			Expect((&models.DesiredLRPUpdate{}).Validate()).To(Succeed())
			Expect((&models.DesiredLRPUpdate{Instances: proto.Int32(0)}).Validate()).To(Succeed())
			expectInvalid((&models.DesiredLRPUpdate{Instances: proto.Int32(-1), Annotation: proto.String(strings.Repeat("a", 10241))}).Validate(),
				"Invalid field: instances", "Invalid field: annotation")
		})

		It("checks a scheduling info", func() {
			s := &models.DesiredLRPSchedulingInfo{
				DesiredLrpKey:      &models.DesiredLRPKey{ProcessGuid: "pg", Domain: "d"},
				DesiredLrpResource: &models.DesiredLRPResource{RootFs: "preloaded:x"},
			}
			Expect(s.Validate()).To(Succeed())
			s.DesiredLrpResource.MemoryMb = -1
			s.Instances = -1
			expectInvalid(s.Validate(), "Invalid field: memory_mb", "Invalid field: instances")
		})

		It("checks a run info", func() {
			r := &models.DesiredLRPRunInfo{DesiredLrpKey: &models.DesiredLRPKey{ProcessGuid: "pg", Domain: "d"}, Action: run()}
			Expect(r.Validate()).To(Succeed())
			r.Action = nil
			r.CpuWeight = 200
			expectInvalid(r.Validate(), "invalid action type", "Invalid field: cpu_weight")
		})
	})

	Describe("actions", func() {
		DescribeTable("rules",
			func(a *models.Action, problems ...string) {
				if len(problems) == 0 {
					Expect(a.Validate()).To(Succeed())
					return
				}
				expectInvalid(a.Validate(), problems...)
			},
			Entry("nil action is valid on its own", (*models.Action)(nil)),
			Entry("empty action", &models.Action{}, "Invalid field: inner-action"),
			Entry("two actions", &models.Action{RunAction: &models.RunAction{Path: "x", User: "u"}, TryAction: &models.TryAction{}}, "invalid action type"),
			Entry("download", models.WrapAction(&models.DownloadAction{}), "Invalid field: from", "Invalid field: to", "Invalid field: user"),
			Entry("download checksum value only", models.WrapAction(&models.DownloadAction{From: "f", To: "t", User: "u", ChecksumValue: "v"}), "Invalid field: checksum algorithm"),
			Entry("download checksum algorithm only", models.WrapAction(&models.DownloadAction{From: "f", To: "t", User: "u", ChecksumAlgorithm: "md5"}), "Invalid field: checksum value"),
			Entry("download bad algorithm", models.WrapAction(&models.DownloadAction{From: "f", To: "t", User: "u", ChecksumAlgorithm: "crc", ChecksumValue: "v"}), "Invalid field: invalid algorithm"),
			Entry("download good checksum", models.WrapAction(&models.DownloadAction{From: "f", To: "t", User: "u", ChecksumAlgorithm: "SHA256", ChecksumValue: "v"})),
			Entry("upload", models.WrapAction(&models.UploadAction{}), "Invalid field: to", "Invalid field: from", "Invalid field: user"),
			Entry("run", models.WrapAction(&models.RunAction{}), "Invalid field: path", "Invalid field: user"),
			Entry("timeout", models.WrapAction(&models.TimeoutAction{}), "Invalid field: action", "Invalid field: timeout_ms"),
			Entry("timeout with bad inner", models.WrapAction(&models.TimeoutAction{Action: &models.Action{}, TimeoutMs: 1}), "Invalid field: inner-action"),
			Entry("try", models.WrapAction(&models.TryAction{}), "Invalid field: action"),
			Entry("emit progress", models.WrapAction(&models.EmitProgressAction{}), "Invalid field: action"),
			Entry("parallel empty", models.WrapAction(&models.ParallelAction{}), "Invalid field: actions"),
			Entry("serial nil element", models.WrapAction(&models.SerialAction{Actions: []*models.Action{run(), nil}}), "Invalid field: action at index 1"),
			Entry("codependent bad inner", models.WrapAction(&models.CodependentAction{Actions: []*models.Action{models.WrapAction(&models.RunAction{User: "u"})}}), "Invalid field: path"),
			Entry("deep tree", models.WrapAction(&models.SerialAction{Actions: []*models.Action{
				models.WrapAction(&models.TimeoutAction{TimeoutMs: 5, Action: models.WrapAction(&models.TryAction{Action: run()})}),
				models.WrapAction(&models.EmitProgressAction{Action: models.WrapAction(&models.ParallelAction{Actions: []*models.Action{run()}})}),
			}})),
		)
	})

	Describe("security group rules", func() {
		DescribeTable("rules",
			func(r *models.SecurityGroupRule, problems ...string) {
				if len(problems) == 0 {
					Expect(r.Validate()).To(Succeed())
					return
				}
				expectInvalid(r.Validate(), problems...)
			},
			Entry("tcp with ports", &models.SecurityGroupRule{Protocol: "tcp", Destinations: []string{"10.0.0.0/8"}, Ports: []uint32{80, 443}}),
			Entry("udp with range", &models.SecurityGroupRule{Protocol: "udp", Destinations: []string{"1.1.1.1-1.1.1.9"}, PortRange: &models.PortRange{Start: 1, End: 9}}),
			Entry("tcp with both", &models.SecurityGroupRule{Protocol: "tcp", Destinations: []string{"1.2.3.4"}, Ports: []uint32{1}, PortRange: &models.PortRange{Start: 1, End: 2}}, "Invalid: ports and port_range provided"),
			Entry("tcp with neither", &models.SecurityGroupRule{Protocol: "tcp", Destinations: []string{"1.2.3.4"}}, "Missing required field: ports or port_range"),
			Entry("tcp bad range", &models.SecurityGroupRule{Protocol: "tcp", Destinations: []string{"1.2.3.4"}, PortRange: &models.PortRange{Start: 9, End: 1}}, "Invalid field: port_range"),
			Entry("tcp port zero", &models.SecurityGroupRule{Protocol: "tcp", Destinations: []string{"1.2.3.4"}, Ports: []uint32{0}}, "Invalid field: ports"),
			Entry("tcp with icmp info", &models.SecurityGroupRule{Protocol: "tcp", Destinations: []string{"1.2.3.4"}, Ports: []uint32{1}, IcmpInfo: &models.ICMPInfo{}}, "Invalid field: icmp_info"),
			Entry("udp with log", &models.SecurityGroupRule{Protocol: "udp", Destinations: []string{"1.2.3.4"}, Ports: []uint32{53}, Log: true}),
			Entry("icmp", &models.SecurityGroupRule{Protocol: "icmp", Destinations: []string{"0.0.0.0/0"}, IcmpInfo: &models.ICMPInfo{Type: 8}}),
			Entry("icmp without info", &models.SecurityGroupRule{Protocol: "icmp", Destinations: []string{"0.0.0.0/0"}, Ports: []uint32{1}}, "Invalid field: ports", "Invalid field: icmp_info"),
			Entry("icmpv6", &models.SecurityGroupRule{Protocol: "icmpv6", Destinations: []string{"::/0"}, IcmpInfo: &models.ICMPInfo{}}),
			Entry("all", &models.SecurityGroupRule{Protocol: "all", Destinations: []string{"1.2.3.4,5.6.7.8"}, Log: true}),
			Entry("all with ports", &models.SecurityGroupRule{Protocol: "all", Destinations: []string{"1.2.3.4"}, Ports: []uint32{1}}, "Invalid field: ports"),
			Entry("unknown protocol", &models.SecurityGroupRule{Protocol: "sctp", Destinations: []string{"1.2.3.4"}}, "Invalid field: protocol"),
			Entry("no destination", &models.SecurityGroupRule{Protocol: "all"}, "Invalid field: destinations [ Must have at least 1 destination ]"),
			Entry("bad destination", &models.SecurityGroupRule{Protocol: "all", Destinations: []string{"nope"}}, "Invalid field: destinations [ Invalid IP ]"),
			Entry("reversed range", &models.SecurityGroupRule{Protocol: "all", Destinations: []string{"1.1.1.9-1.1.1.1"}}, "Invalid field: destinations [ Invalid IP ]"),
		)
	})

	Describe("ActualLRP records", func() {
		key := func() *models.ActualLRPKey { return &models.ActualLRPKey{ProcessGuid: "pg", Index: 0, Domain: "d"} }
		ik := func() *models.ActualLRPInstanceKey {
			return &models.ActualLRPInstanceKey{InstanceGuid: "ig", CellId: "c"}
		}
		net := func() *models.ActualLRPNetInfo { return &models.ActualLRPNetInfo{Address: "1.2.3.4"} }

		DescribeTable("consistency with the state",
			func(a *models.ActualLRP, problems ...string) {
				if len(problems) == 0 {
					Expect(a.Validate()).To(Succeed())
					return
				}
				expectInvalid(a.Validate(), problems...)
			},
			Entry("unclaimed", &models.ActualLRP{ActualLrpKey: key(), State: "UNCLAIMED", Since: 1}),
			Entry("unclaimed with keys", &models.ActualLRP{ActualLrpKey: key(), ActualLrpInstanceKey: ik(), ActualLrpNetInfo: net(), State: "UNCLAIMED", Since: 1, Presence: models.ActualLRP_EVACUATING},
				"instance key cannot be set when state is unclaimed", "net info cannot be set when state is unclaimed", "presence cannot be set when state is unclaimed"),
			Entry("claimed", &models.ActualLRP{ActualLrpKey: key(), ActualLrpInstanceKey: ik(), State: "CLAIMED", Since: 1}),
			Entry("claimed without key", &models.ActualLRP{ActualLrpKey: key(), ActualLrpNetInfo: net(), State: "CLAIMED", Since: 1, PlacementError: "x"},
				"Invalid field: cell_id", "Invalid field: instance_guid", "net info cannot be set when state is claimed", "placement error cannot be set when state is claimed"),
			Entry("running", &models.ActualLRP{ActualLrpKey: key(), ActualLrpInstanceKey: ik(), ActualLrpNetInfo: net(), State: "RUNNING", Since: 1}),
			Entry("running without net info", &models.ActualLRP{ActualLrpKey: key(), ActualLrpInstanceKey: ik(), State: "RUNNING", Since: 1},
				"Invalid field: address"),
			Entry("crashed", &models.ActualLRP{ActualLrpKey: key(), State: "CRASHED", Since: 1, CrashCount: 3}),
			Entry("crashed with key", &models.ActualLRP{ActualLrpKey: key(), ActualLrpInstanceKey: ik(), State: "CRASHED", Since: 1},
				"instance key cannot be set when state is crashed"),
			Entry("bad key, no since, bad state", &models.ActualLRP{ActualLrpKey: &models.ActualLRPKey{Index: -1}, State: "SLEEPING"},
				"Invalid field: process_guid", "Invalid field: index", "Invalid field: domain", "Invalid field: since", "Invalid field: state"),
		)
	})

	Describe("requests", func() {
		key := &models.ActualLRPKey{ProcessGuid: "pg", Domain: "d"}
		ik := &models.ActualLRPInstanceKey{InstanceGuid: "ig", CellId: "c"}
		DescribeTable("rules",
			func(r models.Validator, problems ...string) {
				if len(problems) == 0 {
					Expect(r.Validate()).To(Succeed())
					return
				}
				expectInvalid(r.Validate(), problems...)
			},
			Entry("claim ok", &models.ClaimActualLRPRequest{ProcessGuid: "pg", ActualLrpInstanceKey: ik}),
			Entry("claim", &models.ClaimActualLRPRequest{Index: -1}, "Invalid field: process_guid", "Invalid field: index", "Invalid field: actual_lrp_instance_key"),
			Entry("start", &models.StartActualLRPRequest{ActualLrpKey: key, ActualLrpInstanceKey: ik}, "Invalid field: actual_lrp_net_info"),
			Entry("start bad net info", &models.StartActualLRPRequest{ActualLrpKey: key, ActualLrpInstanceKey: ik, ActualLrpNetInfo: &models.ActualLRPNetInfo{}}, "Invalid field: address"),
			Entry("crash", &models.CrashActualLRPRequest{}, "Invalid field: actual_lrp_key", "Invalid field: actual_lrp_instance_key"),
			Entry("fail", &models.FailActualLRPRequest{ActualLrpKey: key}, "Invalid field: error_message"),
			Entry("retire", &models.RetireActualLRPRequest{}, "Invalid field: actual_lrp_key"),
			Entry("remove without instance key", &models.RemoveActualLRPRequest{ProcessGuid: "pg"}),
			Entry("remove with partial instance key", &models.RemoveActualLRPRequest{ProcessGuid: "pg", ActualLrpInstanceKey: &models.ActualLRPInstanceKey{CellId: "c"}}, "Invalid field: instance_guid"),
			Entry("evacuate running", &models.EvacuateRunningActualLRPRequest{ActualLrpKey: key, ActualLrpInstanceKey: ik}, "Invalid field: actual_lrp_net_info"),
			Entry("evacuate claimed", &models.EvacuateClaimedActualLRPRequest{ActualLrpKey: key}, "Invalid field: actual_lrp_instance_key"),
			Entry("evacuate stopped", &models.EvacuateStoppedActualLRPRequest{ActualLrpKey: key, ActualLrpInstanceKey: ik}),
			Entry("evacuate crashed", &models.EvacuateCrashedActualLRPRequest{ActualLrpInstanceKey: ik}, "Invalid field: actual_lrp_key"),
			Entry("remove evacuating", &models.RemoveEvacuatingActualLRPRequest{ActualLrpKey: &models.ActualLRPKey{}, ActualLrpInstanceKey: ik}, "Invalid field: process_guid", "Invalid field: domain"),
			Entry("group by index", &models.ActualLRPGroupByProcessGuidAndIndexRequest{Index: -1}, "Invalid field: process_guid", "Invalid field: index"),
			Entry("groups by guid", &models.ActualLRPGroupsByProcessGuidRequest{}, "Invalid field: process_guid"),
			Entry("desire lrp", &models.DesireLRPRequest{}, "Invalid field: desired_lrp"),
			Entry("desire invalid lrp", &models.DesireLRPRequest{DesiredLrp: &models.DesiredLRP{ProcessGuid: "pg", Domain: "d", RootFs: "x:y"}}, "invalid action type"),
			Entry("update lrp", &models.UpdateDesiredLRPRequest{}, "Invalid field: process_guid", "Invalid field: update"),
			Entry("remove lrp", &models.RemoveDesiredLRPRequest{}, "Invalid field: process_guid"),
			Entry("lrp by guid", &models.DesiredLRPByProcessGuidRequest{}, "Invalid field: process_guid"),
			Entry("desire task", &models.DesireTaskRequest{TaskGuid: "a b"}, "Invalid field: task_guid", "Invalid field: domain", "Invalid field: task_definition"),
			Entry("start task", &models.StartTaskRequest{TaskGuid: "t"}, "Invalid field: cell_id"),
			Entry("complete task", &models.CompleteTaskRequest{CellId: "c"}, "Invalid field: task_guid"),
			Entry("fail task", &models.FailTaskRequest{TaskGuid: "t"}, "Invalid field: failure_reason"),
			Entry("reject task names failure_reason", &models.RejectTaskRequest{TaskGuid: "t"}, "Invalid field: failure_reason"),
			Entry("task guid", &models.TaskGuidRequest{}, "Invalid field: task_guid"),
			Entry("task by guid", &models.TaskByGuidRequest{}, "Invalid field: task_guid"),
			Entry("upsert domain", &models.UpsertDomainRequest{}, "Invalid field: domain"),
			Entry("converge tasks", &models.ConvergeTasksRequest{KickTaskDuration: 1}, "Invalid field: expire_pending_task_duration", "Invalid field: expire_completed_task_duration"),
			Entry("lists take anything", &models.ActualLRPsRequest{}),
		)
	})
})
