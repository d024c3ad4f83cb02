// Package standincc is a STAND-IN for the Cloud Controller's internal app
// API (spec bridge §9.1): the bulk app routes the nsync bulker pages and
// the crash, rescheduling and readiness routes the TPS watcher calls,
// served from memory (optionally seeded from a JSON file). It exists until
// the Cloud Controller (ccbridge/cloudcontroller) lands; tests use it as
// their httptest CC.
package standincc

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"

	"diego/ccbridge/ccclient"
	"diego/deploy/routes"
)

// Report is one crash, rescheduling or readiness report as received.
type Report struct {
	Route       string
	ProcessGuid string
	Body        json.RawMessage
}

// CC holds apps by DB-like id, in creation order, and the reports it got.
type CC struct {
	username, password string

	mu        sync.Mutex
	nextID    uint64
	ids       map[string]uint64 // process guid → id
	apps      map[uint64]ccclient.DesireAppRequestFromCC
	reports   []Report
	bulkFails bool
}

// New builds an empty stand-in; with a username, every route requires
// that basic auth.
func New(username, password string) *CC {
	return &CC{username: username, password: password, ids: map[string]uint64{}, apps: map[uint64]ccclient.DesireAppRequestFromCC{}}
}

// LoadFile adds the apps of a JSON array of desire-app messages.
func (c *CC) LoadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var apps []ccclient.DesireAppRequestFromCC
	if err := json.Unmarshal(data, &apps); err != nil {
		return fmt.Errorf("stand-in CC apps file %s: %w", path, err)
	}
	for _, a := range apps {
		c.SetApp(a)
	}
	return nil
}

// SetApp adds an app, or replaces the one with the same process guid
// (keeping its id, as a CC update keeps the row).
func (c *CC) SetApp(app ccclient.DesireAppRequestFromCC) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.ids[app.ProcessGuid]
	if !ok {
		c.nextID++
		id = c.nextID
		c.ids[app.ProcessGuid] = id
	}
	c.apps[id] = app
}

// RemoveApp forgets an app (a stop or a delete in the CC).
func (c *CC) RemoveApp(processGuid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id, ok := c.ids[processGuid]; ok {
		delete(c.apps, id)
		delete(c.ids, processGuid)
	}
}

// FailBulk makes the bulk routes answer 500 (spec bridge §9.6 tests).
func (c *CC) FailBulk(fail bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bulkFails = fail
}

// Reports returns a copy of the reports received so far.
func (c *CC) Reports() []Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.reports)
}

// Handler serves the routes of ccclient.AppRoutes.
func (c *CC) Handler() http.Handler {
	report := func(route string) http.Handler {
		return c.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.report(route, w, r) }))
	}
	h, err := routes.NewRouter(ccclient.AppRoutes, map[string]http.Handler{
		ccclient.BulkAppsRoute:            c.auth(http.HandlerFunc(c.bulkApps)),
		ccclient.BulkAppsByGuidsRoute:     c.auth(http.HandlerFunc(c.bulkAppsByGuids)),
		ccclient.AppCrashedRoute:          report(ccclient.AppCrashedRoute),
		ccclient.LegacyAppCrashedRoute:    report(ccclient.AppCrashedRoute),
		ccclient.AppReschedulingRoute:     report(ccclient.AppReschedulingRoute),
		ccclient.AppReadinessChangedRoute: report(ccclient.AppReadinessChangedRoute),
	})
	if err != nil {
		panic(err) // the table and the handlers above are fixed
	}
	return h
}

func (c *CC) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.username != "" {
			u, p, ok := r.BasicAuth()
			if !ok || u != c.username || p != c.password {
				writeError(w, http.StatusUnauthorized, 1000, "Invalid Auth Token")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// writeError answers in the CC's error shape.
func writeError(w http.ResponseWriter, status, code int, description string) {
	writeJSON(w, status, map[string]any{"code": code, "description": description, "error_code": "CF-Error"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (c *CC) failing(w http.ResponseWriter) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bulkFails {
		writeError(w, http.StatusInternalServerError, 10001, "stand-in CC told to fail bulk requests")
	}
	return c.bulkFails
}

// bulkApps pages apps by id (cloud-controller.md §8.6).
func (c *CC) bulkApps(w http.ResponseWriter, r *http.Request) {
	if c.failing(w) {
		return
	}
	q := r.URL.Query()
	batch, err := strconv.Atoi(q.Get("batch_size"))
	if err != nil || batch < 1 {
		writeError(w, http.StatusBadRequest, 1001, "Request invalid due to parse error: batch_size must be a positive integer")
		return
	}
	var token struct {
		ID *uint64 `json:"id"`
	}
	if err := json.Unmarshal([]byte(q.Get("token")), &token); err != nil {
		writeError(w, http.StatusBadRequest, 1001, "Request invalid due to parse error: token must be JSON")
		return
	}
	after := uint64(0)
	if token.ID != nil {
		after = *token.ID
	}

	c.mu.Lock()
	ids := make([]uint64, 0, len(c.apps))
	for id := range c.apps {
		if id > after {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if len(ids) > batch {
		ids = ids[:batch]
	}
	apps := make([]ccclient.DesireAppRequestFromCC, 0, len(ids))
	for _, id := range ids {
		apps = append(apps, c.apps[id])
	}
	c.mu.Unlock()

	last := after
	if len(ids) > 0 {
		last = ids[len(ids)-1]
	}
	next := ccclient.CCBulkToken{Id: last}
	if q.Get("format") == "fingerprint" {
		fps := make([]ccclient.CCDesiredAppFingerprint, 0, len(apps))
		for _, a := range apps {
			fps = append(fps, ccclient.CCDesiredAppFingerprint{ProcessGuid: a.ProcessGuid, ETag: a.ETag})
		}
		writeJSON(w, http.StatusOK, map[string]any{"fingerprints": fps, "token": next})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"apps": apps, "token": next})
}

func (c *CC) bulkAppsByGuids(w http.ResponseWriter, r *http.Request) {
	if c.failing(w) {
		return
	}
	var guids []string
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err == nil {
		err = json.Unmarshal(body, &guids)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, 1001, "Request invalid due to parse error: the body must be a JSON array of process guids")
		return
	}
	c.mu.Lock()
	out := []ccclient.DesireAppRequestFromCC{}
	for _, g := range guids {
		if id, ok := c.ids[g]; ok {
			out = append(out, c.apps[id])
		}
	}
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// report records a JSON object for a known app (first 36 characters of the
// process guid, spec bridge §9.7) and answers 200 {}.
func (c *CC) report(route string, w http.ResponseWriter, r *http.Request) {
	processGuid := routes.Param(r, "process_guid")
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var obj map[string]any
	if err == nil {
		err = json.Unmarshal(body, &obj)
	}
	if err != nil || obj == nil {
		writeError(w, http.StatusBadRequest, 1001, "Request invalid due to parse error: the body must be a JSON object")
		return
	}
	c.mu.Lock()
	known := false
	for g := range c.ids {
		if len(g) >= 36 && len(processGuid) >= 36 && g[:36] == processGuid[:36] {
			known = true
			break
		}
	}
	if known {
		c.reports = append(c.reports, Report{Route: route, ProcessGuid: processGuid, Body: body})
	}
	c.mu.Unlock()
	if !known {
		writeError(w, http.StatusNotFound, 100004, "The app could not be found: "+processGuid)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}
