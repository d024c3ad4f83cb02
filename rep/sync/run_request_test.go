package sync_test

import (
	"diego/executor"
	"diego/models"
	repsync "diego/rep/sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("RunRequests", func() {
	stacks := map[string]string{"cflinuxfs3": "/var/lib/rootfs/cflinuxfs3"}

	Describe("RootFSPath", func() {
		It("maps preloaded:<stack> to the stack's path", func() {
			Expect(repsync.RootFSPath("preloaded:cflinuxfs3", stacks)).To(Equal("/var/lib/rootfs/cflinuxfs3"))
		})

		It("refuses a stack it does not know", func() {
			_, err := repsync.RootFSPath("preloaded:windows2012R2", stacks)
			Expect(err).To(MatchError(repsync.ErrUnknownStack))
			Expect(err).To(MatchError(ContainSubstring("windows2012R2")))
		})

		It("passes other rootfs values through", func() {
			for _, r := range []string{"docker:///busybox", "/some/dir", "raw:///dir", ""} {
				Expect(repsync.RootFSPath(r, stacks)).To(Equal(r))
			}
		})
	})

	Describe("from a desired LRP", func() {
		var desired *models.DesiredLRP

		BeforeEach(func() {
			desired = &models.DesiredLRP{
				ProcessGuid: "pg-1",
				Domain:      "cf-apps",
				RootFs:      "preloaded:cflinuxfs3",
				EnvironmentVariables: []*models.EnvironmentVariable{
					{Name: "PORT", Value: "8080"}, {Name: "FOO", Value: "bar"},
				},
				Setup:          models.WrapAction(&models.DownloadAction{From: "http://x/droplet", To: "/home/vcap", User: "vcap"}),
				Action:         models.WrapAction(&models.RunAction{Path: "/bin/app", User: "vcap"}),
				Monitor:        models.WrapAction(&models.RunAction{Path: "/bin/healthcheck", User: "vcap"}),
				CpuWeight:      42,
				Privileged:     true,
				Ports:          []uint32{8080, 2222},
				LogSource:      "APP",
				LogGuid:        "log-guid",
				MetricsGuid:    "metrics-guid",
				StartTimeoutMs: 60000,
				EgressRules:    []*models.SecurityGroupRule{{Protocol: "tcp", Destinations: []string{"0.0.0.0/0"}, Ports: []uint32{80}}},
				CachedDependencies: []*models.CachedDependency{{
					Name: "buildpack", From: "http://x/bp.tgz", To: "/tmp/bp", CacheKey: "bp-key",
					LogSource: "CACHE", ChecksumAlgorithm: "sha256", ChecksumValue: "abc",
				}},
				CheckDefinition: &models.CheckDefinition{LogSource: "HEALTH"},
				Sidecars: []*models.Sidecar{{Action: models.WrapAction(&models.RunAction{Path: "/bin/side", User: "vcap"}),
					DiskMb: 8, MemoryMb: 16}},
			}
		})

		build := func() executor.RunRequest {
			req, err := repsync.NewLRPRunRequest(desired,
				&models.ActualLRPKey{ProcessGuid: "pg-1", Index: 3, Domain: "cf-apps"},
				&models.ActualLRPInstanceKey{InstanceGuid: "ig-1", CellId: cellID}, stacks)
			Expect(err).NotTo(HaveOccurred())
			return req
		}

		It("maps every field", func() {
			req := build()
			Expect(req.Guid).To(Equal("ig-1"))
			Expect(req.RootFSPath).To(Equal("/var/lib/rootfs/cflinuxfs3"))
			Expect(req.CPUWeight).To(Equal(uint(42)))
			Expect(req.Ports).To(Equal([]executor.PortMapping{{ContainerPort: 8080}, {ContainerPort: 2222}}))
			Expect(req.LogConfig).To(Equal(executor.LogConfig{Guid: "log-guid", Index: 3, SourceName: "APP"}))
			Expect(req.MetricsConfig).To(Equal(executor.MetricsConfig{Guid: "metrics-guid", Index: 3}))
			Expect(req.StartTimeoutMs).To(Equal(uint(60000)))
			Expect(req.Privileged).To(BeTrue())
			Expect(req.Setup).To(BeIdenticalTo(desired.Setup))
			Expect(req.Action).To(BeIdenticalTo(desired.Action))
			Expect(req.Monitor).To(BeIdenticalTo(desired.Monitor))
			Expect(req.CheckDefinition).To(BeIdenticalTo(desired.CheckDefinition))
			Expect(req.Sidecars).To(Equal([]executor.Sidecar{{Action: desired.Sidecars[0].Action, DiskMB: 8, MemoryMB: 16}}))
			Expect(req.EgressRules).To(Equal(desired.EgressRules))
			Expect(req.CachedDependencies).To(Equal([]executor.CachedDependency{{
				Name: "buildpack", From: "http://x/bp.tgz", To: "/tmp/bp", CacheKey: "bp-key",
				LogSource: "CACHE", ChecksumAlgorithm: "sha256", ChecksumValue: "abc",
			}}))
			Expect(req.Tags).To(BeEmpty())
		})

		It("puts the instance variables before the desired environment", func() {
			Expect(build().Env).To(Equal([]executor.EnvironmentVariable{
				{Name: "INSTANCE_GUID", Value: "ig-1"},
				{Name: "INSTANCE_INDEX", Value: "3"},
				{Name: "CF_INSTANCE_GUID", Value: "ig-1"},
				{Name: "CF_INSTANCE_INDEX", Value: "3"},
				{Name: "PORT", Value: "8080"},
				{Name: "FOO", Value: "bar"},
			}))
		})

		It("gives a cpu weight of at least 1", func() {
			desired.CpuWeight = 0
			Expect(build().CPUWeight).To(Equal(uint(1)))
		})

		It("falls back to the deprecated start timeout in seconds", func() {
			desired.StartTimeoutMs = 0
			desired.DeprecatedStartTimeoutS = 30
			Expect(build().StartTimeoutMs).To(Equal(uint(30000)))
		})

		It("passes a non-preloaded rootfs through", func() {
			desired.RootFs = "docker:///cloudfoundry/grace"
			Expect(build().RootFSPath).To(Equal("docker:///cloudfoundry/grace"))
		})

		It("fails on an unknown stack", func() {
			desired.RootFs = "preloaded:nope"
			_, err := repsync.NewLRPRunRequest(desired, &models.ActualLRPKey{ProcessGuid: "pg-1"},
				&models.ActualLRPInstanceKey{InstanceGuid: "ig-1"}, stacks)
			Expect(err).To(MatchError(repsync.ErrUnknownStack))
		})
	})

	Describe("from a task", func() {
		var task *models.Task

		BeforeEach(func() {
			task = &models.Task{TaskGuid: "tg-1", Domain: "cf-tasks", TaskDefinition: &models.TaskDefinition{
				RootFs:               "preloaded:cflinuxfs3",
				EnvironmentVariables: []*models.EnvironmentVariable{{Name: "FOO", Value: "bar"}},
				Action:               models.WrapAction(&models.RunAction{Path: "/bin/stage", User: "vcap"}),
				CpuWeight:            7,
				Privileged:           true,
				LogSource:            "STG",
				LogGuid:              "log-guid",
				MetricsGuid:          "metrics-guid",
				ResultFile:           "/tmp/result.json",
				EgressRules:          []*models.SecurityGroupRule{{Protocol: "all", Destinations: []string{"10.0.0.0-10.0.0.255"}}},
				CachedDependencies:   []*models.CachedDependency{{From: "http://x/lc.tgz", To: "/tmp/lifecycle", CacheKey: "lc"}},
			}}
		})

		It("maps every field with index 0 and tags the result file", func() {
			req, err := repsync.NewTaskRunRequest(task, stacks)
			Expect(err).NotTo(HaveOccurred())
			Expect(req.Guid).To(Equal("tg-1"))
			Expect(req.RootFSPath).To(Equal("/var/lib/rootfs/cflinuxfs3"))
			Expect(req.CPUWeight).To(Equal(uint(7)))
			Expect(req.Ports).To(BeEmpty())
			Expect(req.LogConfig).To(Equal(executor.LogConfig{Guid: "log-guid", Index: 0, SourceName: "STG"}))
			Expect(req.MetricsConfig).To(Equal(executor.MetricsConfig{Guid: "metrics-guid", Index: 0}))
			Expect(req.Privileged).To(BeTrue())
			Expect(req.Action).To(BeIdenticalTo(task.TaskDefinition.Action))
			Expect(req.Setup).To(BeNil())
			Expect(req.Monitor).To(BeNil())
			Expect(req.StartTimeoutMs).To(BeZero())
			Expect(req.Env).To(Equal([]executor.EnvironmentVariable{{Name: "FOO", Value: "bar"}}))
			Expect(req.EgressRules).To(Equal(task.TaskDefinition.EgressRules))
			Expect(req.CachedDependencies).To(Equal([]executor.CachedDependency{{From: "http://x/lc.tgz", To: "/tmp/lifecycle", CacheKey: "lc"}}))
			Expect(req.Tags).To(Equal(executor.Tags{repsync.ResultFileTag: "/tmp/result.json"}))
		})

		It("gives a cpu weight of at least 1", func() {
			task.TaskDefinition.CpuWeight = 0
			req, err := repsync.NewTaskRunRequest(task, stacks)
			Expect(err).NotTo(HaveOccurred())
			Expect(req.CPUWeight).To(Equal(uint(1)))
		})

		It("fails on an unknown stack", func() {
			task.TaskDefinition.RootFs = "preloaded:nope"
			_, err := repsync.NewTaskRunRequest(task, stacks)
			Expect(err).To(MatchError(repsync.ErrUnknownStack))
		})
	})

	Describe("NetInfo", func() {
		It("is the host address and mappings plus the container address", func() {
			c := executor.Container{
				ExternalIP: "10.0.0.5", InternalIP: "10.254.0.2", InternalIPv6: "fd00::2",
				RunInfo: executor.RunInfo{Ports: []executor.PortMapping{
					{ContainerPort: 8080, HostPort: 61001, ContainerTLSProxyPort: 61443, HostTLSProxyPort: 61002},
				}},
			}
			Expect(repsync.NetInfo(c)).To(Equal(&models.ActualLRPNetInfo{
				Address:             "10.0.0.5",
				InstanceAddress:     "10.254.0.2",
				InstanceIpv6Address: "fd00::2",
				PreferredAddress:    models.ActualLRPNetInfo_HOST,
				Ports: []*models.PortMapping{
					{ContainerPort: 8080, HostPort: 61001, ContainerTlsProxyPort: 61443, HostTlsProxyPort: 61002},
				},
			}))
		})
	})
})
