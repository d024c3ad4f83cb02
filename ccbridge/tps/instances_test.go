package tps_test

import (
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/ccbridge/tps"
	"diego/receptor"
)

var now = time.Date(2024, 1, 1, 0, 0, 42, 500_000_000, time.UTC)

// since is 42.5 s before now.
var since = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

func running() receptor.ActualLRPResponse {
	return receptor.ActualLRPResponse{
		ProcessGuid: "pg-1", InstanceGuid: "ig-1", CellID: "cell-1", Domain: "cf-apps", Index: 2,
		Address: "10.0.0.5",
		Ports: []receptor.PortMapping{
			{ContainerPort: 9090, HostPort: 61002},
			{ContainerPort: 8080, HostPort: 61001},
		},
		State: receptor.ActualLRPStateRunning, Since: since,
	}
}

func toJSON(v any) string {
	GinkgoHelper()
	b, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

var _ = Describe("LRP instances (spec bridge §4.1)", func() {
	It("matches the golden JSON of the instances route", func() {
		Expect(toJSON(tps.Instance(running(), now))).To(MatchJSON(`{
			"process_guid":"pg-1","instance_guid":"ig-1","index":2,"state":"RUNNING",
			"net_info":{"address":"10.0.0.5","ports":[{"container_port":9090,"host_port":61002},{"container_port":8080,"host_port":61001}]},
			"uptime":42,"since":1704067200
		}`))
	})

	It("matches the golden JSON of the stats route: host, the 8080 host port and usage with cpu as a fraction", func() {
		metric := &tps.ContainerMetric{CPUPercentage: 1.23, MemoryBytes: 12345678, DiskBytes: 23456789}
		Expect(toJSON(tps.StatsInstance(running(), metric, now))).To(MatchJSON(`{
			"process_guid":"pg-1","instance_guid":"ig-1","index":2,"state":"RUNNING",
			"host":"10.0.0.5","port":61001,
			"net_info":{"address":"10.0.0.5","ports":[{"container_port":9090,"host_port":61002},{"container_port":8080,"host_port":61001}]},
			"uptime":42,"since":1704067200,
			"stats":{"time":"2024-01-01T00:00:42.5Z","cpu":0.0123,"mem":12345678,"disk":23456789}
		}`))
	})

	It("zeroes uptime and usage of a crashed instance, and reports port 0 without an 8080 mapping", func() {
		a := running()
		a.State, a.CrashCount, a.CrashReason = receptor.ActualLRPStateCrashed, 1, "Exited with status 1"
		a.Ports = []receptor.PortMapping{{ContainerPort: 9090, HostPort: 61002}}
		inst := tps.StatsInstance(a, &tps.ContainerMetric{CPUPercentage: 50, MemoryBytes: 1, DiskBytes: 2}, now)
		Expect(inst.State).To(Equal("CRASHED"))
		Expect(inst.Uptime).To(BeZero())
		Expect(inst.Port).To(BeZero())
		Expect(*inst.Stats).To(Equal(tps.InstanceStats{Time: now}))
	})

	It("reports zero usage for an index doppler has no metric for", func() {
		inst := tps.StatsInstance(running(), nil, now)
		Expect(*inst.Stats).To(Equal(tps.InstanceStats{Time: now}))
	})

	It("gives the placement error as details", func() {
		a := receptor.ActualLRPResponse{ProcessGuid: "pg-1", Index: 0, State: receptor.ActualLRPStateUnclaimed,
			PlacementError: "insufficient resources", Since: since}
		Expect(toJSON(tps.Instance(a, now))).To(MatchJSON(`{
			"process_guid":"pg-1","instance_guid":"","index":0,"state":"DOWN","details":"insufficient resources",
			"net_info":{"address":"","ports":[]},"uptime":42,"since":1704067200
		}`))
	})

	DescribeTable("maps states", func(state, placementError, want string) {
		Expect(tps.State(receptor.ActualLRPResponse{State: state, PlacementError: placementError})).To(Equal(want))
	},
		Entry("UNCLAIMED", "UNCLAIMED", "", "STARTING"),
		Entry("UNCLAIMED with a placement error", "UNCLAIMED", "no cells", "DOWN"),
		Entry("CLAIMED", "CLAIMED", "", "STARTING"),
		Entry("RUNNING", "RUNNING", "", "RUNNING"),
		Entry("CRASHED", "CRASHED", "", "CRASHED"),
		Entry("anything else", "BOGUS", "", "UNKNOWN"),
	)
})
