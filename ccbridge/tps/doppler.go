package tps

import (
	"context"
	"fmt"
	"time"

	metronclient "diego/metron/client"
	"diego/metron/events"
)

// DopplerClient reads an app's container metrics from doppler's
// /apps/:id/containermetrics (spec cell §7.5, bridge §9.2) through the
// doppler's own client, metron/client, passing each caller's
// Authorization header through.
type DopplerClient struct {
	doppler *metronclient.Client
}

// NewDopplerClient builds a client for the doppler at baseURL
// (http://host:port).
func NewDopplerClient(baseURL string, timeout time.Duration) (*DopplerClient, error) {
	c, err := metronclient.New(metronclient.Config{URL: baseURL, Timeout: timeout})
	if err != nil {
		return nil, err
	}
	return &DopplerClient{doppler: c}, nil
}

// ContainerMetrics returns the latest metric of each instance index of the
// app whose metrics guid is appID, asking as authorization.
func (c *DopplerClient) ContainerMetrics(ctx context.Context, appID, authorization string) (map[int32]ContainerMetric, error) {
	envs, err := c.doppler.As(authorization).ContainerMetrics(ctx, appID)
	if err != nil {
		return nil, fmt.Errorf("doppler containermetrics: %w", err)
	}
	return newestPerIndex(envs), nil
}

// newestPerIndex keeps, per instance index, the container metric of the
// newest envelope; envelopes of other types are skipped.
func newestPerIndex(envs []*events.Envelope) map[int32]ContainerMetric {
	out := map[int32]ContainerMetric{}
	newest := map[int32]int64{}
	for _, env := range envs {
		m := env.GetContainerMetric()
		if env.GetEventType() != events.Envelope_ContainerMetric || m == nil {
			continue
		}
		index := m.GetInstanceIndex()
		if seen, ok := newest[index]; ok && seen > env.GetTimestamp() {
			continue
		}
		newest[index] = env.GetTimestamp()
		out[index] = ContainerMetric{CPUPercentage: m.GetCpuPercentage(), MemoryBytes: m.GetMemoryBytes(), DiskBytes: m.GetDiskBytes()}
	}
	return out
}
