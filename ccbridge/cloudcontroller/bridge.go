package cloudcontroller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"diego/ccbridge/ccclient"
	"diego/ccbridge/nsync"
	"diego/ccbridge/stager"
	"diego/ccbridge/tps"
	"diego/deploy/routes"
)

// HTTPBridge calls the stager, nsync and TPS over HTTP with their route
// tables, retrying a refused connection 3× (spec §8.3, §8.5).
type HTTPBridge struct {
	Stager, Nsync, TPS *routes.RequestGenerator
	Client             *http.Client
}

// NewHTTPBridge builds the bridge client.
func NewHTTPBridge(stagerURL, nsyncURL, tpsURL string, timeout time.Duration) *HTTPBridge {
	return &HTTPBridge{
		Stager: routes.NewRequestGenerator(stagerURL, stager.Routes), Nsync: routes.NewRequestGenerator(nsyncURL, nsync.Routes),
		TPS: routes.NewRequestGenerator(tpsURL, tps.Routes), Client: &http.Client{Timeout: timeout},
	}
}

func (b *HTTPBridge) do(ctx context.Context, g *routes.RequestGenerator, name string, params routes.Params, body any, header http.Header, ok ...int) ([]byte, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	var lastErr error
	for attempt := 0; attempt < 4; attempt++ {
		req, err := g.CreateRequest(name, params, bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		req = req.WithContext(ctx)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := b.Client.Do(req)
		if err != nil {
			lastErr = fmt.Errorf("%s: %w", name, err)
			if errors.Is(err, syscall.ECONNREFUSED) {
				continue
			}
			return nil, lastErr
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		for _, c := range ok {
			if resp.StatusCode == c {
				return data, nil
			}
		}
		return nil, fmt.Errorf("%s: status %d", name, resp.StatusCode)
	}
	return nil, lastErr
}

func (b *HTTPBridge) Stage(ctx context.Context, guid string, req stager.StagingRequestFromCC) error {
	_, err := b.do(ctx, b.Stager, stager.StageRoute, routes.Params{"staging_guid": guid}, req, nil, 202)
	return err
}

func (b *HTTPBridge) StopStaging(ctx context.Context, guid string) error {
	_, err := b.do(ctx, b.Stager, stager.StopStagingRoute, routes.Params{"staging_guid": guid}, nil, nil, 202, 200, 404)
	return err
}

func (b *HTTPBridge) Desire(ctx context.Context, pg string, req ccclient.DesireAppRequestFromCC) error {
	_, err := b.do(ctx, b.Nsync, nsync.DesireAppRoute, routes.Params{"process_guid": pg}, req, nil, 202)
	return err
}

func (b *HTTPBridge) StopApp(ctx context.Context, pg string) error {
	_, err := b.do(ctx, b.Nsync, nsync.StopAppRoute, routes.Params{"process_guid": pg}, nil, nil, 202, 404)
	return err
}

func (b *HTTPBridge) KillIndex(ctx context.Context, pg string, index int) error {
	_, err := b.do(ctx, b.Nsync, nsync.KillIndexRoute, routes.Params{"process_guid": pg, "index": strconv.Itoa(index)}, nil, nil, 202, 404)
	return err
}

func (b *HTTPBridge) Instances(ctx context.Context, pg string) ([]tps.LRPInstance, error) {
	data, err := b.do(ctx, b.TPS, tps.LRPStatusRoute, routes.Params{"guid": pg}, nil, nil, 200)
	if err != nil {
		return nil, err
	}
	var out []tps.LRPInstance
	return out, json.Unmarshal(data, &out)
}

func (b *HTTPBridge) Stats(ctx context.Context, pg, auth string) ([]tps.LRPInstance, error) {
	h := http.Header{}
	if auth != "" {
		h.Set("Authorization", auth)
	}
	data, err := b.do(ctx, b.TPS, tps.LRPStatsRoute, routes.Params{"guid": pg}, nil, h, 200)
	if err != nil {
		return nil, err
	}
	var out []tps.LRPInstance
	return out, json.Unmarshal(data, &out)
}

func (b *HTTPBridge) BulkStatus(ctx context.Context, pgs []string) (map[string][]tps.LRPInstance, error) {
	req, err := b.TPS.CreateRequest(tps.BulkLRPStatusRoute, nil, nil)
	if err != nil {
		return nil, err
	}
	req.URL.RawQuery = url.Values{"guids": {strings.Join(pgs, ",")}}.Encode()
	resp, err := b.Client.Do(req.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("bulk status: status %d", resp.StatusCode)
	}
	out := map[string][]tps.LRPInstance{}
	return out, json.NewDecoder(resp.Body).Decode(&out)
}
