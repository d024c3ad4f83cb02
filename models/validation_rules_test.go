package models_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	"diego/models"
)

// Every validation rule of every model, one valid and one invalid case each,
// named after the place in the spec (core §1.x) it comes from; where the spec
// is silent the rule is Diego's BBS's (decision 36) and the entry says so.

type validator interface{ Validate() error }

func checkTask(mutate func(*models.Task)) validator {
	t := validTask()
	mutate(t)
	return t
}

func checkLRP(mutate func(*models.DesiredLRP)) validator {
	d := validDesiredLRP()
	mutate(d)
	return d
}

func checkAction(v models.ValidatableAction) validator { return models.WrapAction(v) }

func checkRule(mutate func(*models.SecurityGroupRule)) validator {
	r := &models.SecurityGroupRule{Protocol: "tcp", Destinations: []string{"10.0.0.1"}, Ports: []uint32{80}}
	mutate(r)
	return r
}

func checkLayer(mutate func(*models.ImageLayer)) validator {
	l := &models.ImageLayer{Url: "http://fs/l.tgz", DestinationPath: "/l", LayerType: models.ImageLayer_SHARED,
		MediaType: models.ImageLayer_TGZ}
	mutate(l)
	return l
}

func exclusiveLayer() *models.ImageLayer {
	return &models.ImageLayer{Url: "http://fs/l.tgz", DestinationPath: "/l", LayerType: models.ImageLayer_EXCLUSIVE,
		MediaType: models.ImageLayer_TGZ, DigestAlgorithm: models.ImageLayer_SHA256, DigestValue: "abc"}
}

func routesOf(n int) *models.ProtoRoutes {
	return &models.ProtoRoutes{Routes: map[string][]byte{"cf-router": []byte(`"` + strings.Repeat("r", n-2) + `"`)}}
}

func actual(state string, ik *models.ActualLRPInstanceKey, net *models.ActualLRPNetInfo) *models.ActualLRP {
	return &models.ActualLRP{ActualLrpKey: &models.ActualLRPKey{ProcessGuid: "pg", Domain: "d"},
		ActualLrpInstanceKey: ik, ActualLrpNetInfo: net, State: state, Since: 1}
}

func lrpInstance() *models.ActualLRPInstanceKey {
	return &models.ActualLRPInstanceKey{InstanceGuid: "ig", CellId: "c"}
}

func lrpNet() *models.ActualLRPNetInfo { return &models.ActualLRPNetInfo{Address: "10.0.0.1"} }

func withPresence(a *models.ActualLRP, p models.ActualLRP_Presence) *models.ActualLRP {
	a.Presence = p
	return a
}

func withPlacementError(a *models.ActualLRP) *models.ActualLRP {
	a.PlacementError = "insufficient resources"
	return a
}

func withSince(a *models.ActualLRP, since int64) *models.ActualLRP {
	a.Since = since
	return a
}

var (
	bigAnnotation  = strings.Repeat("a", models.MaximumAnnotationLength+1)
	fullAnnotation = strings.Repeat("a", models.MaximumAnnotationLength)
	badRule        = &models.SecurityGroupRule{Protocol: "tcp", Destinations: []string{"10.0.0.1"}}
	shell          = &models.RunAction{Path: "/bin/sh", User: "vcap"}
)

var _ = Describe("Validation rules", func() {
	DescribeTable("each rule",
		func(subject validator, problems ...string) {
			if len(problems) == 0 {
				Expect(subject.Validate()).To(Succeed())
				return
			}
			expectInvalid(subject.Validate(), problems...)
		},

		// Task (core §1.10, §1.1).
		Entry("core §1.10 Task: a minimal task is valid", checkTask(func(*models.Task) {})),
		Entry("core §1.10 Task: domain required", checkTask(func(t *models.Task) { t.Domain = "" }), "Invalid field: domain"),
		Entry("core §0.1 Task: task_guid matches ^[a-zA-Z0-9_-]+$", checkTask(func(t *models.Task) { t.TaskGuid = "A-z_09" })),
		Entry("core §0.1 Task: task_guid with a space is invalid", checkTask(func(t *models.Task) { t.TaskGuid = "a b" }), "Invalid field: task_guid"),
		Entry("core §0.1 Task: empty task_guid is invalid", checkTask(func(t *models.Task) { t.TaskGuid = "" }), "Invalid field: task_guid"),
		Entry("core §1.10 Task: task_definition required", checkTask(func(t *models.Task) { t.TaskDefinition = nil }), "Invalid field: task_definition"),
		Entry("core §1.1 Task: rootfs docker:///img", checkTask(func(t *models.Task) { t.TaskDefinition.RootFs = "docker:///busybox" })),
		Entry("core §1.1 Task: rootfs without a scheme", checkTask(func(t *models.Task) { t.TaskDefinition.RootFs = "cflinuxfs4" }), "Invalid field: rootfs"),
		Entry("core §1.1 Task: empty rootfs", checkTask(func(t *models.Task) { t.TaskDefinition.RootFs = "" }), "Invalid field: rootfs"),
		Entry("core §1.10 Task: action required", checkTask(func(t *models.Task) { t.TaskDefinition.Action = nil }), "invalid action type"),
		Entry("core §1.10 Task: action must be valid", checkTask(func(t *models.Task) {
			t.TaskDefinition.Action = checkAction(&models.RunAction{User: "vcap"}).(*models.Action)
		}), "Invalid field: action", "Invalid field: path"),
		Entry("core §1.10 Task: memory_mb 0", checkTask(func(t *models.Task) { t.TaskDefinition.MemoryMb = 0 })),
		Entry("core §1.10 Task: memory_mb < 0", checkTask(func(t *models.Task) { t.TaskDefinition.MemoryMb = -1 }), "Invalid field: memory_mb"),
		Entry("core §1.10 Task: disk_mb < 0", checkTask(func(t *models.Task) { t.TaskDefinition.DiskMb = -1 }), "Invalid field: disk_mb"),
		Entry("core §1.10 Task: max_pids < 0", checkTask(func(t *models.Task) { t.TaskDefinition.MaxPids = -1 }), "Invalid field: max_pids"),
		Entry("core §1.10 Task: annotation of exactly 10 KiB", checkTask(func(t *models.Task) { t.TaskDefinition.Annotation = fullAnnotation })),
		Entry("core §1.10 Task: annotation over 10 KiB", checkTask(func(t *models.Task) { t.TaskDefinition.Annotation = bigAnnotation }), "Invalid field: annotation"),
		Entry("core §1.10 Task: cpu_weight 100 (2015 bound)", checkTask(func(t *models.Task) { t.TaskDefinition.CpuWeight = 100 })),
		Entry("core §1.10 Task: cpu_weight over 100 (2015 bound)", checkTask(func(t *models.Task) { t.TaskDefinition.CpuWeight = 101 }), "Invalid field: cpu_weight"),
		Entry("core §1.1 Task: log_rate_limit bytes_per_second -1", checkTask(func(t *models.Task) {
			t.TaskDefinition.LogRateLimit = &models.LogRateLimit{BytesPerSecond: -1}
		})),
		Entry("core §1.1 Task: log_rate_limit bytes_per_second below -1", checkTask(func(t *models.Task) {
			t.TaskDefinition.LogRateLimit = &models.LogRateLimit{BytesPerSecond: -2}
		}), "Invalid field: log_rate_limit"),
		Entry("core §1.10 Task: egress rules valid, a bad one named without details (Diego)", checkTask(func(t *models.Task) {
			t.TaskDefinition.EgressRules = []*models.SecurityGroupRule{badRule, badRule}
		}), "Invalid field: egress_rules", "Invalid field: egress_rules"),
		Entry("core §1.10 Task: image user and password together", checkTask(func(t *models.Task) {
			t.TaskDefinition.ImageUsername, t.TaskDefinition.ImagePassword = "u", "p"
		})),
		Entry("core §1.10 Task: image password without user", checkTask(func(t *models.Task) { t.TaskDefinition.ImagePassword = "p" }), "Invalid field: image_username"),
		Entry("core §1.10 Task: image user without password", checkTask(func(t *models.Task) { t.TaskDefinition.ImageUsername = "u" }), "Invalid field: image_password"),
		Entry("core §1.10 Task: cached_dependencies need no legacy_download_user", checkTask(func(t *models.Task) {
			t.TaskDefinition.CachedDependencies = []*models.CachedDependency{{From: "http://fs/a", To: "/a"}}
		})),
		Entry("core §1.9 Task: a bad cached dependency", checkTask(func(t *models.Task) {
			t.TaskDefinition.CachedDependencies = []*models.CachedDependency{{From: "http://fs/a"}}
		}), "Invalid field: cached_dependency", "Invalid field: to"),
		Entry("Diego Task: an exclusive image layer needs legacy_download_user", checkTask(func(t *models.Task) {
			t.TaskDefinition.ImageLayers = []*models.ImageLayer{exclusiveLayer()}
		}), "Invalid field: legacy_download_user"),
		Entry("Diego Task: an exclusive image layer with legacy_download_user", checkTask(func(t *models.Task) {
			t.TaskDefinition.ImageLayers = []*models.ImageLayer{exclusiveLayer()}
			t.TaskDefinition.LegacyDownloadUser = "vcap"
		})),
		Entry("Diego Task: volume mounts and metric tags are not checked on a task", checkTask(func(t *models.Task) {
			t.TaskDefinition.VolumeMounts = []*models.VolumeMount{{}}
			t.TaskDefinition.MetricTags = map[string]*models.MetricTagValue{"a": {}}
		})),

		// DesiredLRP (core §1.10, §1.2).
		Entry("core §1.10 DesiredLRP: a minimal LRP is valid", checkLRP(func(*models.DesiredLRP) {})),
		Entry("core §1.10 DesiredLRP: domain required", checkLRP(func(d *models.DesiredLRP) { d.Domain = "" }), "Invalid field: domain"),
		Entry("core §1.10 DesiredLRP: process_guid pattern", checkLRP(func(d *models.DesiredLRP) { d.ProcessGuid = "pg/1" }), "Invalid field: process_guid"),
		Entry("core §1.10 DesiredLRP: rootfs preloaded:stack", checkLRP(func(d *models.DesiredLRP) { d.RootFs = "preloaded:cflinuxfs4" })),
		Entry("core §1.10 DesiredLRP: rootfs without a scheme", checkLRP(func(d *models.DesiredLRP) { d.RootFs = "/var/rootfs" }), "Invalid field: rootfs"),
		Entry("core §1.10 DesiredLRP: action required", checkLRP(func(d *models.DesiredLRP) { d.Action = nil }), "invalid action type"),
		Entry("core §1.10 DesiredLRP: action must be valid", checkLRP(func(d *models.DesiredLRP) {
			d.Action = models.WrapAction(&models.RunAction{Path: "/bin/sh"})
		}), "Invalid field: action", "Invalid field: user"),
		Entry("core §1.10 DesiredLRP: setup and monitor valid when present", checkLRP(func(d *models.DesiredLRP) {
			d.Setup, d.Monitor = models.WrapAction(shell), models.WrapAction(shell)
		})),
		Entry("core §1.10 DesiredLRP: an invalid setup", checkLRP(func(d *models.DesiredLRP) { d.Setup = &models.Action{} }),
			"Invalid field: setup", "Invalid field: inner-action"),
		Entry("core §1.10 DesiredLRP: an invalid monitor", checkLRP(func(d *models.DesiredLRP) {
			d.Monitor = models.WrapAction(&models.TimeoutAction{Action: models.WrapAction(shell)})
		}), "Invalid field: monitor", "Invalid field: timeout_ms"),
		Entry("core §1.10 DesiredLRP: instances 0", checkLRP(func(d *models.DesiredLRP) { d.Instances = 0 })),
		Entry("core §1.10 DesiredLRP: instances < 0", checkLRP(func(d *models.DesiredLRP) { d.Instances = -1 }), "Invalid field: instances"),
		Entry("core §1.10 DesiredLRP: cpu_weight 100", checkLRP(func(d *models.DesiredLRP) { d.CpuWeight = 100 })),
		Entry("core §1.10 DesiredLRP: cpu_weight over 100", checkLRP(func(d *models.DesiredLRP) { d.CpuWeight = 101 }), "Invalid field: cpu_weight"),
		Entry("core §1.10 DesiredLRP: annotation over 10 KiB", checkLRP(func(d *models.DesiredLRP) { d.Annotation = bigAnnotation }), "Invalid field: annotation"),
		Entry("core §1.2 DesiredLRP: routes of exactly 4 KiB", checkLRP(func(d *models.DesiredLRP) { d.Routes = routesOf(4096) })),
		Entry("core §1.2 DesiredLRP: routes over 4 KiB", checkLRP(func(d *models.DesiredLRP) { d.Routes = routesOf(4097) }), "Invalid field: routes"),
		Entry("core §1.10 DesiredLRP: egress rules valid, a bad one with its details", checkLRP(func(d *models.DesiredLRP) {
			d.EgressRules = []*models.SecurityGroupRule{badRule}
		}), "Invalid field: egress_rules", "Missing required field: ports or port_range"),
		Entry("Diego DesiredLRP: memory_mb, disk_mb and max_pids ≥ 0", checkLRP(func(d *models.DesiredLRP) {
			d.MemoryMb, d.DiskMb, d.MaxPids = -1, -1, -1
		}), "Invalid field: memory_mb", "Invalid field: disk_mb", "Invalid field: max_pids"),
		Entry("core §1.1 DesiredLRP: log_rate_limit below -1", checkLRP(func(d *models.DesiredLRP) {
			d.LogRateLimit = &models.LogRateLimit{BytesPerSecond: -2}
		}), "Invalid field: log_rate_limit_bytes_per_second"),
		Entry("core §1.9 DesiredLRP: env names non-blank", checkLRP(func(d *models.DesiredLRP) {
			d.EnvironmentVariables = []*models.EnvironmentVariable{{Name: "A"}, {Value: "x"}}
		}), "invalid field: name cannot be blank"),
		Entry("core §1.10 DesiredLRP: cached_dependencies need no legacy_download_user (issue 14)", checkLRP(func(d *models.DesiredLRP) {
			d.CachedDependencies = []*models.CachedDependency{{Name: "bp", From: "http://fs/bp", To: "/tmp/bp", CacheKey: "bp"}}
		})),
		Entry("Diego DesiredLRP: an exclusive image layer needs legacy_download_user", checkLRP(func(d *models.DesiredLRP) {
			d.ImageLayers = []*models.ImageLayer{exclusiveLayer()}
		}), "Invalid field: legacy_download_user"),
		Entry("Diego DesiredLRP: a shared image layer needs no legacy_download_user", checkLRP(func(d *models.DesiredLRP) {
			d.ImageLayers = []*models.ImageLayer{{Url: "http://fs/l", DestinationPath: "/l", LayerType: models.ImageLayer_SHARED, MediaType: models.ImageLayer_TAR}}
		})),
		Entry("Diego DesiredLRP: bad sidecars are named once, then each problem", checkLRP(func(d *models.DesiredLRP) {
			d.Sidecars = []*models.Sidecar{{MemoryMb: -1}, {Action: models.WrapAction(shell), DiskMb: -1}}
		}), "Invalid field: sidecars", "invalid action type", "Invalid field: memory_mb", "Invalid field: disk_mb"),
		Entry("Diego DesiredLRP: a valid sidecar", checkLRP(func(d *models.DesiredLRP) {
			d.Sidecars = []*models.Sidecar{{Action: models.WrapAction(shell), MemoryMb: 16}}
		})),
		Entry("Diego DesiredLRP: volume mounts", checkLRP(func(d *models.DesiredLRP) {
			d.VolumeMounts = []*models.VolumeMount{{Driver: "nfs", Mode: "rw", Shared: &models.SharedDevice{}}}
		}), "invalid volume_mount volume id"),
		Entry("core §1.10 DesiredLRP: image password without user", checkLRP(func(d *models.DesiredLRP) { d.ImagePassword = "p" }), "Invalid field: image_username"),
		Entry("Diego DesiredLRP: check definition", checkLRP(func(d *models.DesiredLRP) {
			d.CheckDefinition = &models.CheckDefinition{ReadinessChecks: []*models.Check{{HttpCheck: &models.HTTPCheck{Port: 70000}}}}
		}), "Invalid field: check_definition", "Invalid field: port"),
		Entry("Diego DesiredLRP: metric tags, named once", checkLRP(func(d *models.DesiredLRP) {
			d.MetricTags = map[string]*models.MetricTagValue{"a": {}, "b": {Static: "x", Dynamic: models.MetricTagValue_INDEX}}
		}), "Invalid field: metric_tags", "Invalid field: static", "Invalid field: dynamic", "Invalid field: static", "Invalid field: dynamic"),
		Entry("Diego DesiredLRP: source_id must match metrics_guid", checkLRP(func(d *models.DesiredLRP) {
			d.MetricsGuid = "m-1"
			d.MetricTags = map[string]*models.MetricTagValue{"source_id": {Static: "m-2"}}
		}), "Invalid field: metric_tags", "Invalid field: source_id should match metrics_guid"),
		Entry("Diego DesiredLRP: source_id matching metrics_guid", checkLRP(func(d *models.DesiredLRP) {
			d.MetricsGuid = "m-1"
			d.MetricTags = map[string]*models.MetricTagValue{"source_id": {Static: "m-1"}, "i": {Dynamic: models.MetricTagValue_INSTANCE_GUID}}
		})),
		Entry("Diego DesiredLRP: volume_mounted_files up to 1 MiB", checkLRP(func(d *models.DesiredLRP) {
			d.VolumeMountedFiles = []*models.File{{Path: "/a", Content: strings.Repeat("x", 1024*1024)}}
		})),
		Entry("Diego DesiredLRP: volume_mounted_files over 1 MiB", checkLRP(func(d *models.DesiredLRP) {
			d.VolumeMountedFiles = []*models.File{{Path: "/a", Content: strings.Repeat("x", 1024*1024)}, {Path: "/b", Content: "y"}}
		}), "Invalid field: volumeMountedFiles"),

		// DesiredLRPUpdate, scheduling info, run info (core §1.2, §1.10).
		Entry("core §1.2 DesiredLRPUpdate: every part optional", &models.DesiredLRPUpdate{}),
		Entry("core §1.10 DesiredLRPUpdate: instances 0", &models.DesiredLRPUpdate{Instances: proto.Int32(0)}),
		Entry("core §1.10 DesiredLRPUpdate: instances < 0", &models.DesiredLRPUpdate{Instances: proto.Int32(-1)}, "Invalid field: instances"),
		Entry("core §1.10 DesiredLRPUpdate: annotation over 10 KiB", &models.DesiredLRPUpdate{Annotation: proto.String(bigAnnotation)}, "Invalid field: annotation"),
		Entry("core §1.10 DesiredLRPUpdate: routes over 4 KiB", &models.DesiredLRPUpdate{Routes: routesOf(4097)}, "Invalid field: routes"),
		Entry("Diego DesiredLRPUpdate: metric tags", &models.DesiredLRPUpdate{MetricTags: map[string]*models.MetricTagValue{"a": {}}},
			"Invalid field: metric_tags", "Invalid field: static", "Invalid field: dynamic"),
		Entry("core §1.2 DesiredLRPSchedulingInfo: key and resource", &models.DesiredLRPSchedulingInfo{
			DesiredLrpKey: &models.DesiredLRPKey{ProcessGuid: "pg", Domain: "d"}, DesiredLrpResource: &models.DesiredLRPResource{RootFs: "preloaded:x"},
		}),
		Entry("core §1.2 DesiredLRPSchedulingInfo: bad key, resource, routes, instances", &models.DesiredLRPSchedulingInfo{
			DesiredLrpKey: &models.DesiredLRPKey{}, DesiredLrpResource: &models.DesiredLRPResource{DiskMb: -1},
			Routes: routesOf(4097), Instances: -1,
		}, "Invalid field: domain", "Invalid field: process_guid", "Invalid field: rootfs", "Invalid field: disk_mb",
			"Invalid field: routes", "Invalid field: instances"),
		Entry("core §1.2 DesiredLRPRunInfo: cached dependencies without legacy_download_user", &models.DesiredLRPRunInfo{
			DesiredLrpKey: &models.DesiredLRPKey{ProcessGuid: "pg", Domain: "d"}, Action: models.WrapAction(shell),
			CachedDependencies: []*models.CachedDependency{{From: "http://fs/a", To: "/a"}},
		}),
		Entry("core §1.2 DesiredLRPRunInfo: action required, log_rate_limit", &models.DesiredLRPRunInfo{
			DesiredLrpKey: &models.DesiredLRPKey{ProcessGuid: "pg", Domain: "d"}, LogRateLimit: &models.LogRateLimit{BytesPerSecond: -3},
		}, "invalid action type", "Invalid field: log_rate_limit"),

		// ActualLRP keys (core §1.10).
		Entry("core §1.10 ActualLRPKey: valid", &models.ActualLRPKey{ProcessGuid: "pg", Index: 0, Domain: "d"}),
		Entry("core §1.10 ActualLRPKey: process_guid pattern, index ≥ 0, domain", &models.ActualLRPKey{ProcessGuid: "p g", Index: -1},
			"Invalid field: process_guid", "Invalid field: index", "Invalid field: domain"),
		Entry("core §1.10 ActualLRPInstanceKey: valid", &models.ActualLRPInstanceKey{InstanceGuid: "ig", CellId: "c"}),
		Entry("core §1.10 ActualLRPInstanceKey: both fields", &models.ActualLRPInstanceKey{}, "Invalid field: cell_id", "Invalid field: instance_guid"),

		// ActualLRP records (core §1.3): valid for their state, since never 0.
		Entry("core §1.3 ActualLRP: UNCLAIMED with no instance key or net info", actual("UNCLAIMED", nil, nil)),
		Entry("core §1.3 ActualLRP: UNCLAIMED with an instance key", actual("UNCLAIMED", lrpInstance(), nil),
			"instance key cannot be set when state is unclaimed"),
		Entry("core §1.3 ActualLRP: UNCLAIMED only ORDINARY", withPresence(actual("UNCLAIMED", nil, nil), models.ActualLRP_EVACUATING),
			"presence cannot be set when state is unclaimed"),
		Entry("core §1.3 ActualLRP: CLAIMED with an instance key", actual("CLAIMED", lrpInstance(), nil)),
		Entry("core §1.3 ActualLRP: CLAIMED without an instance key", actual("CLAIMED", nil, nil), "Invalid field: cell_id", "Invalid field: instance_guid"),
		Entry("core §1.3 ActualLRP: CLAIMED with net info", actual("CLAIMED", lrpInstance(), lrpNet()), "net info cannot be set when state is claimed"),
		Entry("core §1.3 ActualLRP: CLAIMED with a placement error", withPlacementError(actual("CLAIMED", lrpInstance(), nil)),
			"placement error cannot be set when state is claimed"),
		Entry("core §1.3 ActualLRP: RUNNING with instance key and net info", actual("RUNNING", lrpInstance(), lrpNet())),
		Entry("core §1.3 ActualLRP: RUNNING without net info", actual("RUNNING", lrpInstance(), nil), "Invalid field: address"),
		Entry("core §1.3 ActualLRP: RUNNING with a placement error", withPlacementError(actual("RUNNING", lrpInstance(), lrpNet())),
			"placement error cannot be set when state is running"),
		Entry("core §1.3 ActualLRP: CRASHED with neither", actual("CRASHED", nil, nil)),
		Entry("core §1.3 ActualLRP: CRASHED with net info", actual("CRASHED", nil, lrpNet()), "net info cannot be set when state is crashed"),
		Entry("core §1.3 ActualLRP: since is never 0", withSince(actual("UNCLAIMED", nil, nil), 0), "Invalid field: since"),
		Entry("core §1.3 ActualLRP: state is one of the four", actual("STOPPED", nil, nil), "Invalid field: state"),

		// Actions (core §1.7).
		Entry("core §1.7 Action: exactly one action", &models.Action{RunAction: shell, TryAction: &models.TryAction{Action: models.WrapAction(shell)}}, "invalid action type"),
		Entry("core §1.7 Action: an empty inner action", &models.Action{}, "Invalid field: inner-action"),
		Entry("core §1.7 download: valid", checkAction(&models.DownloadAction{From: "http://a", To: "/a", User: "vcap"})),
		Entry("core §1.7 download: from, to, user", checkAction(&models.DownloadAction{}), "Invalid field: from", "Invalid field: to", "Invalid field: user"),
		Entry("core §1.7 download: checksum value without algorithm", checkAction(&models.DownloadAction{From: "f", To: "t", User: "u", ChecksumValue: "v"}), "Invalid field: checksum algorithm"),
		Entry("core §1.7 download: checksum algorithm without value", checkAction(&models.DownloadAction{From: "f", To: "t", User: "u", ChecksumAlgorithm: "sha1"}), "Invalid field: checksum value"),
		Entry("core §1.7 download: algorithm outside md5/sha1/sha256", checkAction(&models.DownloadAction{From: "f", To: "t", User: "u", ChecksumAlgorithm: "sha512", ChecksumValue: "v"}), "Invalid field: invalid algorithm"),
		Entry("core §1.7 download: algorithm MD5 in any case", checkAction(&models.DownloadAction{From: "f", To: "t", User: "u", ChecksumAlgorithm: "MD5", ChecksumValue: "v"})),
		Entry("core §1.7 upload: valid", checkAction(&models.UploadAction{From: "/a", To: "http://a", User: "vcap"})),
		Entry("core §1.7 upload: from, to, user", checkAction(&models.UploadAction{}), "Invalid field: to", "Invalid field: from", "Invalid field: user"),
		Entry("core §1.7 run: valid", checkAction(shell)),
		Entry("core §1.7 run: path and user (decision 14)", checkAction(&models.RunAction{}), "Invalid field: path", "Invalid field: user"),
		Entry("core §1.7 timeout: valid", checkAction(&models.TimeoutAction{Action: models.WrapAction(shell), TimeoutMs: 1})),
		Entry("core §1.7 timeout: action and timeout_ms > 0", checkAction(&models.TimeoutAction{TimeoutMs: 0}), "Invalid field: action", "Invalid field: timeout_ms"),
		Entry("core §1.7 timeout: a 2015 timeout (ns) alone is not timeout_ms", checkAction(&models.TimeoutAction{Action: models.WrapAction(shell), DeprecatedTimeoutNs: 1e9}), "Invalid field: timeout_ms"),
		Entry("core §1.7 try: action", checkAction(&models.TryAction{}), "Invalid field: action"),
		Entry("core §1.7 try: an invalid inner action", checkAction(&models.TryAction{Action: models.WrapAction(&models.UploadAction{From: "a", To: "b"})}), "Invalid field: user"),
		Entry("core §1.7 emit_progress: action", checkAction(&models.EmitProgressAction{StartMessage: "go"}), "Invalid field: action"),
		Entry("core §1.7 emit_progress: valid", checkAction(&models.EmitProgressAction{Action: models.WrapAction(shell)})),
		Entry("core §1.7 parallel: at least one action", checkAction(&models.ParallelAction{}), "Invalid field: actions"),
		Entry("core §1.7 serial: at least one action", checkAction(&models.SerialAction{}), "Invalid field: actions"),
		Entry("core §1.7 codependent: at least one action", checkAction(&models.CodependentAction{}), "Invalid field: actions"),
		Entry("core §1.7 codependent: each inner action valid", checkAction(&models.CodependentAction{Actions: []*models.Action{
			models.WrapAction(shell), models.WrapAction(&models.RunAction{User: "u"}),
		}}), "Invalid field: path"),
		Entry("core §1.7 serial: a nil inner action", checkAction(&models.SerialAction{Actions: []*models.Action{nil}}), "Invalid field: action at index 0"),
		Entry("core §1.7 parallel: valid", checkAction(&models.ParallelAction{Actions: []*models.Action{models.WrapAction(shell)}})),

		// Small messages (core §1.9).
		Entry("core §1.9 EnvironmentVariable: an empty value is fine", &models.EnvironmentVariable{Name: "A"}),
		Entry("core §1.9 EnvironmentVariable: name required", &models.EnvironmentVariable{Value: "x"}, "invalid field: name cannot be blank"),
		Entry("core §1.9 CachedDependency: valid", &models.CachedDependency{From: "http://a", To: "/a", ChecksumAlgorithm: "sha256", ChecksumValue: "v"}),
		Entry("core §1.9 CachedDependency: from, to, checksum pair", &models.CachedDependency{ChecksumAlgorithm: "crc"},
			"Invalid field: from", "Invalid field: to", "Invalid field: checksum value"),
		Entry("Diego ImageLayer: a shared layer without digest", checkLayer(func(*models.ImageLayer) {})),
		Entry("Diego ImageLayer: url, destination_path, layer_type, media_type", &models.ImageLayer{},
			"Invalid field: url", "Invalid field: destination_path", "Invalid field: layer_type", "Invalid field: media_type"),
		Entry("Diego ImageLayer: an unknown media type number", checkLayer(func(l *models.ImageLayer) { l.MediaType = 9 }), "Invalid field: media_type"),
		Entry("Diego ImageLayer: an exclusive layer needs a digest", checkLayer(func(l *models.ImageLayer) { l.LayerType = models.ImageLayer_EXCLUSIVE }),
			"Invalid field: digest_algorithm", "Invalid field: digest_value"),
		Entry("Diego ImageLayer: a digest value needs an algorithm", checkLayer(func(l *models.ImageLayer) { l.DigestValue = "abc" }), "Invalid field: digest_algorithm"),
		Entry("Diego ImageLayer: an algorithm needs a value", checkLayer(func(l *models.ImageLayer) { l.DigestAlgorithm = models.ImageLayer_SHA512 }), "Invalid field: digest_value"),
		Entry("Diego ImageLayer: an unknown algorithm number with a value", checkLayer(func(l *models.ImageLayer) { l.DigestAlgorithm, l.DigestValue = 7, "abc" }),
			"Invalid field: digest_algorithm"),
		Entry("core §1.9 VolumeMount: valid", &models.VolumeMount{Driver: "nfs", Mode: "r", Shared: &models.SharedDevice{VolumeId: "v"}}),
		Entry("core §1.9 VolumeMount: driver, mode, volume id", &models.VolumeMount{Mode: "w", Shared: &models.SharedDevice{}},
			"invalid volume_mount driver", "invalid volume_mount mode", "invalid volume_mount volume id"),
		Entry("core §1.9 Sidecar: action required, resources ≥ 0", &models.Sidecar{MemoryMb: -1, DiskMb: -1},
			"invalid action type", "Invalid field: memory_mb", "Invalid field: disk_mb"),
		Entry("core §1.9 Sidecar: an invalid action", &models.Sidecar{Action: &models.Action{}}, "Invalid field: action", "Invalid field: inner-action"),
		Entry("core §1.9 MetricTagValue: static", &models.MetricTagValue{Static: "x"}),
		Entry("core §1.9 MetricTagValue: neither", &models.MetricTagValue{}, "Invalid field: static", "Invalid field: dynamic"),
		Entry("core §1.9 MetricTagValue: an unknown dynamic number is none (Diego)", &models.MetricTagValue{Static: "x", Dynamic: 9}),

		// Health checks (core §1.8).
		Entry("core §1.8 CheckDefinition: tcp and http checks", &models.CheckDefinition{Checks: []*models.Check{
			{TcpCheck: &models.TCPCheck{Port: 8080}}, {HttpCheck: &models.HTTPCheck{Port: 65535, Path: "/"}},
		}}),
		Entry("core §1.8 Check: exactly one of tcp_check and http_check", &models.CheckDefinition{Checks: []*models.Check{
			{}, {TcpCheck: &models.TCPCheck{Port: 1}, HttpCheck: &models.HTTPCheck{Port: 1}},
		}}, "Invalid field: check", "Invalid field: check"),
		Entry("core §1.8 TCPCheck: port 1-65535", &models.Check{TcpCheck: &models.TCPCheck{Port: 0}}, "Invalid field: port"),
		Entry("core §1.8 HTTPCheck: port 1-65535", &models.Check{HttpCheck: &models.HTTPCheck{Port: 65536}}, "Invalid field: port"),

		// Egress rules, PortRange, ICMPInfo (core §1.9).
		Entry("core §1.9 SecurityGroupRule: tcp with ports", checkRule(func(*models.SecurityGroupRule) {})),
		Entry("core §1.9 SecurityGroupRule: udp with a port range", checkRule(func(r *models.SecurityGroupRule) {
			r.Protocol, r.Ports, r.PortRange = "udp", nil, &models.PortRange{Start: 53, End: 53}
		})),
		Entry("core §1.9 SecurityGroupRule: tcp with neither ports nor range", checkRule(func(r *models.SecurityGroupRule) { r.Ports = nil }),
			"Missing required field: ports or port_range"),
		Entry("core §1.9 SecurityGroupRule: tcp with both", checkRule(func(r *models.SecurityGroupRule) { r.PortRange = &models.PortRange{Start: 1, End: 2} }),
			"Invalid: ports and port_range provided"),
		Entry("core §1.9 PortRange: each bad bound reported (Diego)", checkRule(func(r *models.SecurityGroupRule) {
			r.Ports, r.PortRange = nil, &models.PortRange{Start: 0, End: 0}
		}), "Invalid field: port_range", "Invalid field: port_range"),
		Entry("core §1.9 PortRange: start > end", checkRule(func(r *models.SecurityGroupRule) { r.Ports, r.PortRange = nil, &models.PortRange{Start: 9, End: 1} }),
			"Invalid field: port_range"),
		Entry("core §1.9 SecurityGroupRule: each port ≥ 1", checkRule(func(r *models.SecurityGroupRule) { r.Ports = []uint32{0, 80, 0} }),
			"Invalid field: ports", "Invalid field: ports"),
		Entry("core §1.9 SecurityGroupRule: no upper port bound in the spec", checkRule(func(r *models.SecurityGroupRule) { r.Ports = []uint32{70000} })),
		Entry("core §1.9 SecurityGroupRule: tcp takes no icmp_info", checkRule(func(r *models.SecurityGroupRule) { r.IcmpInfo = &models.ICMPInfo{} }),
			"Invalid field: icmp_info"),
		Entry("core §1.9 ICMPInfo: icmp needs it", checkRule(func(r *models.SecurityGroupRule) { r.Protocol, r.Ports = "icmp", nil }),
			"Invalid field: icmp_info"),
		Entry("core §1.9 ICMPInfo: icmpv6 with type and code", checkRule(func(r *models.SecurityGroupRule) {
			r.Protocol, r.Ports, r.Destinations, r.IcmpInfo = "icmpv6", nil, []string{"::/0"}, &models.ICMPInfo{Type: 128, Code: 0}
		})),
		Entry("core §1.9 SecurityGroupRule: icmp takes no ports or range", checkRule(func(r *models.SecurityGroupRule) {
			r.Protocol, r.PortRange, r.IcmpInfo = "icmp", &models.PortRange{Start: 1, End: 1}, &models.ICMPInfo{}
		}), "Invalid field: port_range", "Invalid field: ports"),
		Entry("core §1.9 SecurityGroupRule: all takes none of them", checkRule(func(r *models.SecurityGroupRule) {
			r.Protocol, r.IcmpInfo = "all", &models.ICMPInfo{}
		}), "Invalid field: ports", "Invalid field: icmp_info"),
		Entry("core §1.9 SecurityGroupRule: log on any protocol (the spec has no log rule)", checkRule(func(r *models.SecurityGroupRule) {
			r.Protocol, r.Ports, r.IcmpInfo, r.Log = "icmp", nil, &models.ICMPInfo{}, true
		})),
		Entry("core §1.9 SecurityGroupRule: protocol tcp/udp/icmp/icmpv6/all", checkRule(func(r *models.SecurityGroupRule) { r.Protocol = "TCP" }),
			"Invalid field: protocol"),
		Entry("core §1.9 SecurityGroupRule: at least one destination", checkRule(func(r *models.SecurityGroupRule) { r.Destinations = nil }),
			"Invalid field: destinations [ Must have at least 1 destination ]"),
		Entry("core §1.9 SecurityGroupRule: IP, CIDR, range, comma-joined", checkRule(func(r *models.SecurityGroupRule) {
			r.Destinations = []string{"10.0.0.1", "10.0.0.0/8", "10.0.0.1-10.0.0.9,192.168.0.1", "::1-::2"}
		})),
		Entry("core §1.9 SecurityGroupRule: every bad destination reported", checkRule(func(r *models.SecurityGroupRule) {
			r.Destinations = []string{"nope", "10.0.0.0/33", "10.0.0.9-10.0.0.1", "1.2.3.4,x"}
		}), "Invalid field: destinations [ Invalid IP, invalid CIDR address: 10.0.0.0/33, Invalid IP, Invalid IP ]"),

		// Requests (core §1.5, §1.10, §3.2).
		Entry("core §1.5 UpsertDomainRequest: domain required", &models.UpsertDomainRequest{Ttl: 10}, "Invalid field: domain"),
		Entry("core §1.5 UpsertDomainRequest: ttl 0 never expires", &models.UpsertDomainRequest{Domain: "cf-apps"}),
		Entry("core §1.10 DesireTaskRequest: guid, domain, definition", &models.DesireTaskRequest{TaskGuid: "t!"},
			"Invalid field: task_guid", "Invalid field: domain", "Invalid field: task_definition"),
		Entry("core §1.10 DesireTaskRequest: the definition's own rules", &models.DesireTaskRequest{TaskGuid: "t", Domain: "d", TaskDefinition: &models.TaskDefinition{RootFs: "preloaded:x"}},
			"invalid action type"),
		Entry("core §1.10 StartTaskRequest: guid and cell", &models.StartTaskRequest{TaskGuid: "t", CellId: "c"}),
		Entry("core §1.10 CompleteTaskRequest: guid pattern", &models.CompleteTaskRequest{TaskGuid: "t t", CellId: "c"}, "Invalid field: task_guid"),
		Entry("core §1.10 DesireLRPRequest: the LRP's own rules", &models.DesireLRPRequest{DesiredLrp: &models.DesiredLRP{ProcessGuid: "pg", Domain: "d", RootFs: "x:y", Action: models.WrapAction(shell),
			CachedDependencies: []*models.CachedDependency{{From: "http://a", To: "/a"}}}}),
		Entry("core §1.10 UpdateDesiredLRPRequest: the update's own rules", &models.UpdateDesiredLRPRequest{ProcessGuid: "pg", Update: &models.DesiredLRPUpdate{Instances: proto.Int32(-2)}},
			"Invalid field: instances"),
		Entry("core §1.10 ClaimActualLRPRequest: instance key whole", &models.ClaimActualLRPRequest{ProcessGuid: "pg", ActualLrpInstanceKey: &models.ActualLRPInstanceKey{CellId: "c"}},
			"Invalid field: instance_guid"),
	)
})
