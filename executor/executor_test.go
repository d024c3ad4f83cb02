package executor_test

import (
	"encoding/json"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/executor"
	"diego/models"
)

// keys is the set of top-level JSON keys v marshals to.
func keys(v any) []string {
	b, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	var m map[string]json.RawMessage
	Expect(json.Unmarshal(b, &m)).To(Succeed())
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

var _ = Describe("the wire format (spec cell §3.1, §3.2)", func() {
	It("gives a Container the spec's keys", func() {
		c := executor.Container{
			Guid:     "g",
			Resource: executor.Resource{MemoryMB: 1, DiskMB: 2, MaxPids: 3},
			RunInfo: executor.RunInfo{
				Env:         []executor.EnvironmentVariable{{Name: "A", Value: "b"}},
				EgressRules: []*models.SecurityGroupRule{{}},
			},
			Tags: executor.Tags{"k": "v"},
		}
		Expect(keys(c)).To(ConsistOf(
			"guid", "memory_mb", "disk_mb", "max_pids", "Tags", "state", "allocated_at", "rootfs", "cpu_weight",
			"privileged", "ports", "external_ip", "internal_ip", "log_config", "metrics_config", "start_timeout_ms",
			"setup", "run", "monitor", "env", "egress_rules", "cached_dependencies", "run_result", "routable",
			"memory_limit", "disk_limit"))
		Expect(keys(c.RunResult)).To(ConsistOf("failed", "failure_reason", "stopped", "Retryable"))
		Expect(keys(executor.LogConfig{Tags: map[string]string{"a": "b"}})).To(ConsistOf("guid", "index", "source_name", "tags"))
		Expect(keys(executor.MetricsConfig{Tags: map[string]string{"a": "b"}})).To(ConsistOf("guid", "index", "tags"))
		Expect(keys(executor.PortMapping{ContainerPort: 1, HostPort: 2, ContainerTLSProxyPort: 3, HostTLSProxyPort: 4})).
			To(ConsistOf("container_port", "host_port", "container_tls_proxy_port", "host_tls_proxy_port"))
		Expect(keys(executor.CachedDependency{})).To(ConsistOf(
			"name", "from", "to", "cache_key", "log_source", "checksum_algorithm", "checksum_value"))
		Expect(keys(executor.ExecutorResources{})).To(ConsistOf("memory_mb", "disk_mb", "containers"))
	})

	It("carries a desired LRP's sidecars as `sidecars` [{action, disk_mb, memory_mb}] (spec cell §3.1)", func() {
		c := executor.Container{RunInfo: executor.RunInfo{Sidecars: []executor.Sidecar{{DiskMB: 1, MemoryMB: 2}}}}
		Expect(keys(c)).To(ContainElement("sidecars"))
		Expect(keys(c.Sidecars[0])).To(ConsistOf("action", "disk_mb", "memory_mb"))
		copied := c.Copy()
		copied.Sidecars[0].MemoryMB = 9
		Expect(c.Sidecars[0].MemoryMB).To(Equal(2), "Copy does not share the sidecars")
	})

	It("gives allocation requests and failures the spec's keys", func() {
		req := executor.AllocationRequest{Guid: "g", GenerateLogMetrics: true}
		Expect(keys(req)).To(ConsistOf("Guid", "memory_mb", "disk_mb", "max_pids", "Tags", "GenerateLogMetrics"))
		Expect(keys(executor.AllocationFailure{AllocationRequest: req, ErrorMsg: "x"})).To(ConsistOf(
			"Guid", "memory_mb", "disk_mb", "max_pids", "Tags", "GenerateLogMetrics", "ErrorMsg"))
		Expect(keys(executor.RunRequest{Guid: "g"})).To(ContainElements("Guid", "Tags", "run", "rootfs"))
	})

	It("wraps events as {\"container\": …}", func() {
		Expect(keys(executor.Event{Type: executor.EventTypeContainerRunning})).To(ConsistOf("container"))
	})

	DescribeTable("names errors with the spec's statuses",
		func(err *executor.Error, name string, status int, message string) {
			Expect(err.Name).To(Equal(name))
			Expect(executor.StatusOf(err)).To(Equal(status))
			Expect(err.Error()).To(Equal(message))
			Expect(executor.ErrorByName(name)).To(BeIdenticalTo(err))
		},
		Entry(nil, executor.ErrContainerGuidNotAvailable, "ContainerGuidNotAvailable", 400, "container guid not available"),
		Entry(nil, executor.ErrContainerNotCompleted, "ContainerNotCompleted", 400, "container must be stopped before it can be deleted"),
		Entry(nil, executor.ErrInsufficientResourcesAvailable, "InsufficientResourcesAvailable", 503, "insufficient resources available"),
		Entry(nil, executor.ErrContainerNotFound, "ContainerNotFound", 404, "container not found"),
		Entry(nil, executor.ErrStepsInvalid, "StepsInvalid", 400, "steps invalid"),
		Entry(nil, executor.ErrLimitsInvalid, "LimitsInvalid", 400, "container limits invalid"),
		Entry(nil, executor.ErrGuidNotSpecified, "GuidNotSpecified", 400, "container guid not specified"),
		Entry(nil, executor.ErrInvalidTransition, "InvalidStateTransition", 409, "container cannot transition to given state"),
		Entry(nil, executor.ErrFailureToCheckSpace, "ErrFailureToCheckSpace", 500, "failed to check available space"),
		Entry(nil, executor.ErrInvalidSecurityGroup, "ErrInvalidSecurityGroup", 400, "security group has invalid values"),
	)

	It("serves any other error as a 500 and knows no other names", func() {
		Expect(executor.StatusOf(http.ErrBodyNotAllowed)).To(Equal(500))
		Expect(executor.ErrorByName("")).To(BeNil())
		Expect(executor.ErrorByName("Nope")).To(BeNil())
	})
})
