package depot

// What the API reads from garden about a container: its files and its
// usage.

import (
	"io"

	"diego/executor"
	"diego/garden"
)

// GetFiles streams a path of the container as a tar.
func (d *Depot) GetFiles(guid, source string) (io.ReadCloser, error) {
	c, err := d.GetContainer(guid)
	if err != nil {
		return nil, err
	}
	if c.State == executor.StateReserved || c.State == executor.StateInitializing {
		return nil, executor.ErrContainerNotFound
	}
	gc, err := d.garden.Lookup(guid)
	if err != nil {
		return nil, executor.ErrContainerNotFound
	}
	return gc.StreamOut(garden.StreamOutSpec{Path: source, User: "root"})
}

// GetMetrics is one container's usage.
func (d *Depot) GetMetrics(guid string) (executor.ContainerMetrics, error) {
	all, err := d.metricsFor([]string{guid})
	if err != nil {
		return executor.ContainerMetrics{}, err
	}
	m, ok := all[guid]
	if !ok {
		return executor.ContainerMetrics{}, executor.ErrContainerNotFound
	}
	return m, nil
}

// GetAllMetrics is the usage of every container created in garden.
func (d *Depot) GetAllMetrics() (map[string]executor.ContainerMetrics, error) {
	var guids []string
	for _, c := range d.ListContainers(nil) {
		if c.State == executor.StateCreated || c.State == executor.StateRunning {
			guids = append(guids, c.Guid)
		}
	}
	return d.metricsFor(guids)
}

func (d *Depot) metricsFor(guids []string) (map[string]executor.ContainerMetrics, error) {
	out := map[string]executor.ContainerMetrics{}
	if len(guids) == 0 {
		return out, nil
	}
	entries, err := d.garden.BulkMetrics(guids)
	if err != nil {
		return nil, err
	}
	for guid, entry := range entries {
		if entry.Err != nil {
			continue
		}
		c, err := d.GetContainer(guid)
		if err != nil {
			continue
		}
		m := entry.Metrics
		out[guid] = executor.ContainerMetrics{
			MemoryUsageInBytes: m.MemoryStat.TotalUsageTowardLimit,
			DiskUsageInBytes:   m.DiskStat.TotalBytesUsed,
			MemoryLimitInBytes: c.MemoryLimit,
			DiskLimitInBytes:   c.DiskLimit,
			TimeSpentInCPU:     int64(m.CPUStat.Usage),
			AbsoluteCPUUsage:   m.CPUStat.Usage,
			ContainerAgeInNs:   uint64(m.Age),
		}
	}
	return out, nil
}
