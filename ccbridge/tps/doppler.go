package tps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"diego/metron/events"
)

// DopplerClient reads an app's container metrics from doppler's
// /apps/:id/containermetrics (spec cell §7.5, bridge §9.2): a
// multipart/x-protobuf answer, one dropsonde Envelope per part.
type DopplerClient struct {
	baseURL string
	http    *http.Client
}

// NewDopplerClient builds a client for the doppler at baseURL
// (http://host:port).
func NewDopplerClient(baseURL string, timeout time.Duration) (*DopplerClient, error) {
	if !strings.HasPrefix(baseURL, "http://") && !strings.HasPrefix(baseURL, "https://") {
		return nil, fmt.Errorf("doppler URL %q must start with http:// or https://", baseURL)
	}
	return &DopplerClient{baseURL: strings.TrimSuffix(baseURL, "/"), http: &http.Client{Timeout: timeout}}, nil
}

// ContainerMetrics returns the latest metric of each instance index of the
// app whose metrics guid is appID, passing the caller's Authorization
// header through.
func (c *DopplerClient) ContainerMetrics(ctx context.Context, appID, authorization string) (map[int32]ContainerMetric, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+"/apps/"+url.PathEscape(appID)+"/containermetrics", nil)
	if err != nil {
		return nil, err
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("doppler containermetrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("doppler containermetrics: status %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return ParseContainerMetrics(resp.Header.Get("Content-Type"), resp.Body)
}

// ParseContainerMetrics reads a multipart/x-protobuf body and keeps, per
// instance index, the container metric of the newest envelope.
func ParseContainerMetrics(contentType string, body io.Reader) (map[int32]ContainerMetric, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "multipart/x-protobuf" || params["boundary"] == "" {
		return nil, fmt.Errorf("doppler containermetrics: content type %q is not multipart/x-protobuf with a boundary", contentType)
	}
	out := map[int32]ContainerMetric{}
	newest := map[int32]int64{}
	reader := multipart.NewReader(body, params["boundary"])
	for {
		part, err := reader.NextPart()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("doppler containermetrics: reading part: %w", err)
		}
		data, err := io.ReadAll(io.LimitReader(part, 1<<20))
		if err != nil {
			return nil, fmt.Errorf("doppler containermetrics: reading part: %w", err)
		}
		var env events.Envelope
		if err := proto.Unmarshal(data, &env); err != nil {
			return nil, fmt.Errorf("doppler containermetrics: decoding envelope: %w", err)
		}
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
}
