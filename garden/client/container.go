package client

import (
	"io"
	"net/url"
	"time"

	"diego/deploy/routes"
	"diego/garden"
)

// container is a garden.Container reached through the client. It holds
// only the handle: every call goes to the server.
type container struct {
	handle string
	client *Client
}

var _ garden.Container = (*container)(nil)

func (ct *container) Handle() string { return ct.handle }

func (ct *container) params() routes.Params { return routes.Params{"handle": ct.handle} }

func (ct *container) do(route string, query url.Values, body, out any) error {
	return ct.client.do(route, ct.params(), query, body, out)
}

func (ct *container) Stop(kill bool) error {
	return ct.do(garden.StopRoute, nil, garden.StopRequest{Kill: kill}, nil)
}

func (ct *container) Info() (garden.ContainerInfo, error) {
	var info garden.ContainerInfo
	err := ct.do(garden.InfoRoute, nil, nil, &info)
	return info, err
}

func (ct *container) StreamIn(spec garden.StreamInSpec) error {
	query := url.Values{"destination": {spec.Path}, "user": {spec.User}}
	var body io.Reader = spec.TarStream
	if body == nil {
		body = eofReader{}
	}
	return ct.do(garden.StreamInRoute, query, body, nil)
}

// StreamOut returns the tar stream; a failure after it has started shows
// as a read error (the server cuts the connection).
func (ct *container) StreamOut(spec garden.StreamOutSpec) (io.ReadCloser, error) {
	query := url.Values{"source": {spec.Path}, "user": {spec.User}}
	resp, err := ct.client.send(garden.StreamOutRoute, ct.params(), query, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func (ct *container) CurrentBandwidthLimits() (garden.BandwidthLimits, error) {
	var limits garden.BandwidthLimits
	err := ct.do(garden.CurrentBandwidthLimitsRoute, nil, nil, &limits)
	return limits, err
}

func (ct *container) CurrentCPULimits() (garden.CPULimits, error) {
	var limits garden.CPULimits
	err := ct.do(garden.CurrentCPULimitsRoute, nil, nil, &limits)
	return limits, err
}

func (ct *container) CurrentDiskLimits() (garden.DiskLimits, error) {
	var limits garden.DiskLimits
	err := ct.do(garden.CurrentDiskLimitsRoute, nil, nil, &limits)
	return limits, err
}

func (ct *container) CurrentMemoryLimits() (garden.MemoryLimits, error) {
	var limits garden.MemoryLimits
	err := ct.do(garden.CurrentMemoryLimitsRoute, nil, nil, &limits)
	return limits, err
}

func (ct *container) NetIn(hostPort, containerPort uint32) (uint32, uint32, error) {
	var resp garden.NetInResponse
	req := garden.NetInRequest{Handle: ct.handle, HostPort: hostPort, ContainerPort: containerPort}
	if err := ct.do(garden.NetInRoute, nil, req, &resp); err != nil {
		return 0, 0, err
	}
	return resp.HostPort, resp.ContainerPort, nil
}

func (ct *container) NetOut(rule garden.NetOutRule) error {
	return ct.do(garden.NetOutRoute, nil, rule, nil)
}

func (ct *container) BulkNetOut(rules []garden.NetOutRule) error {
	if rules == nil {
		rules = []garden.NetOutRule{}
	}
	return ct.do(garden.BulkNetOutRoute, nil, rules, nil)
}

func (ct *container) Metrics() (garden.Metrics, error) {
	var m garden.Metrics
	err := ct.do(garden.MetricsRoute, nil, nil, &m)
	return m, err
}

// SetGraceTime sends the duration as a JSON integer of nanoseconds.
func (ct *container) SetGraceTime(d time.Duration) error {
	return ct.do(garden.SetGraceTimeRoute, nil, int64(d), nil)
}

func (ct *container) Properties() (garden.Properties, error) {
	props := garden.Properties{}
	err := ct.do(garden.PropertiesRoute, nil, nil, &props)
	return props, err
}

func (ct *container) Property(name string) (string, error) {
	var v garden.PropertyValue
	err := ct.client.do(garden.PropertyRoute, routes.Params{"handle": ct.handle, "key": name}, nil, nil, &v)
	return v.Value, err
}

func (ct *container) SetProperty(name, value string) error {
	return ct.client.do(garden.SetPropertyRoute, routes.Params{"handle": ct.handle, "key": name}, nil,
		garden.PropertyValue{Value: value}, nil)
}

func (ct *container) RemoveProperty(name string) error {
	return ct.client.do(garden.RemovePropertyRoute, routes.Params{"handle": ct.handle, "key": name}, nil, nil, nil)
}

func (ct *container) Run(spec garden.ProcessSpec, pio garden.ProcessIO) (garden.Process, error) {
	return ct.client.openProcess(garden.RunRoute, ct.params(), spec, pio)
}

func (ct *container) Attach(processID string, pio garden.ProcessIO) (garden.Process, error) {
	return ct.client.openProcess(garden.AttachRoute, routes.Params{"handle": ct.handle, "pid": processID}, nil, pio)
}

// eofReader is an empty body.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
