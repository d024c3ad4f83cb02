package main_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"

	"diego/ccbridge/ccclient"
	"diego/ccbridge/stager"
	"diego/ccbridge/tps"
)

// bridgeFakes stand in for the stager, nsync and TPS: the stager fake
// really fetches the package, uploads a droplet and posts the completion,
// so the CC's staging endpoints are exercised end to end.
type bridgeFakes struct {
	Stager, Nsync, TPS *httptest.Server

	mu         sync.Mutex
	stagings   []stager.StagingRequestFromCC
	stopped    []string
	desired    map[string]ccclient.DesireAppRequestFromCC
	packages   map[string][]byte
	stagingErr string // when set, the stager posts this error id
	noStart    bool   // when set, the result has no web process type
}

func newBridgeFakes() *bridgeFakes {
	f := &bridgeFakes{desired: map[string]ccclient.DesireAppRequestFromCC{}, packages: map[string][]byte{}}
	f.Stager = httptest.NewServer(http.HandlerFunc(f.stager))
	f.Nsync = httptest.NewServer(http.HandlerFunc(f.nsync))
	f.TPS = httptest.NewServer(http.HandlerFunc(f.tps))
	DeferCleanup(func() { f.Stager.Close(); f.Nsync.Close(); f.TPS.Close() })
	return f
}

func (f *bridgeFakes) stager(w http.ResponseWriter, r *http.Request) {
	guid := strings.TrimPrefix(r.URL.Path, "/v1/staging/")
	if r.Method == http.MethodDelete {
		w.WriteHeader(202)
		return
	}
	var req stager.StagingRequestFromCC
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		w.WriteHeader(400)
		return
	}
	f.mu.Lock()
	f.stagings = append(f.stagings, req)
	stagingErr, noStart := f.stagingErr, f.noStart
	f.mu.Unlock()
	w.WriteHeader(202)
	go func() {
		defer GinkgoRecover()
		var data stager.BuildpackStagingData
		_ = json.Unmarshal(*req.LifecycleData, &data)
		resp, err := http.Get(data.AppBitsDownloadUri)
		if err != nil {
			return
		}
		pkg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		f.mu.Lock()
		f.packages[req.AppId] = pkg
		f.mu.Unlock()
		body := &bytes.Buffer{}
		mw := multipart.NewWriter(body)
		part, _ := mw.CreateFormFile("upload[droplet]", "droplet.tgz")
		_, _ = part.Write([]byte("droplet for " + req.AppId))
		_ = mw.Close()
		up, err := http.Post(data.DropletUploadUri, mw.FormDataContentType(), body)
		if err != nil {
			return
		}
		up.Body.Close()
		var completion string
		switch {
		case stagingErr != "":
			completion = `{"error":{"id":"` + stagingErr + `","message":"it failed"}}`
		case noStart:
			completion = `{"result":{"lifecycle_type":"buildpack","lifecycle_metadata":{"buildpack_key":"binary_buildpack","detected_buildpack":""},"process_types":{},"execution_metadata":""}}`
		default:
			completion = `{"result":{"lifecycle_type":"buildpack","lifecycle_metadata":{"buildpack_key":"shell_buildpack","detected_buildpack":"shell"},"process_types":{"web":"./run.sh"},"execution_metadata":""}}`
		}
		done, err := http.Post(req.CompletionCallback, "application/json", strings.NewReader(completion))
		if err == nil {
			done.Body.Close()
		}
		_ = guid
	}()
}

func (f *bridgeFakes) nsync(w http.ResponseWriter, r *http.Request) {
	pg := strings.TrimPrefix(r.URL.Path, "/v1/apps/")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Method {
	case http.MethodPut:
		var d ccclient.DesireAppRequestFromCC
		if err := json.NewDecoder(r.Body).Decode(&d); err != nil {
			w.WriteHeader(400)
			return
		}
		f.desired[pg] = d
	case http.MethodDelete:
		delete(f.desired, pg)
		f.stopped = append(f.stopped, pg)
	}
	w.WriteHeader(202)
}

// tps answers every desired index RUNNING, plus one stray index 99.
func (f *bridgeFakes) tps(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	instances := func(pg string) []tps.LRPInstance {
		d, ok := f.desired[pg]
		if !ok {
			return []tps.LRPInstance{}
		}
		out := []tps.LRPInstance{}
		for i := 0; i < d.NumInstances; i++ {
			out = append(out, tps.LRPInstance{ProcessGuid: pg, Index: uint(i), State: tps.StateRunning, Since: 1700000000, Uptime: 5,
				Host: "10.0.0.5", Port: 61001, Stats: &tps.InstanceStats{CPU: 0.01, Mem: 1234, Disk: 5678}})
		}
		return append(out, tps.LRPInstance{ProcessGuid: pg, Index: 99, State: tps.StateRunning})
	}
	if r.URL.Path == "/v1/bulk_actual_lrp_status" {
		out := map[string][]tps.LRPInstance{}
		for _, pg := range strings.Split(r.URL.Query().Get("guids"), ",") {
			out[pg] = instances(pg)
		}
		_ = json.NewEncoder(w).Encode(out)
		return
	}
	pg := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/actual_lrps/"), "/stats")
	_ = json.NewEncoder(w).Encode(instances(pg))
}

func (f *bridgeFakes) desiredApp(pg string) (ccclient.DesireAppRequestFromCC, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.desired[pg]
	return d, ok
}

func (f *bridgeFakes) desiredCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.desired)
}

func (f *bridgeFakes) package_(app string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.packages[app]
}

func (f *bridgeFakes) stagingRequests() []stager.StagingRequestFromCC {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]stager.StagingRequestFromCC{}, f.stagings...)
}
