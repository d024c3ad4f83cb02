package cloudcontroller

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"diego/ccbridge/ccclient"
	"diego/ccbridge/cloudcontroller/config"
	"diego/ccbridge/stager"
	"diego/ccbridge/tps"
	"diego/deploy/clock"
	"diego/deploy/routes"
)

// Bridge is what the CC calls in the CC bridge (spec §8.3, §8.5, §5.5).
type Bridge interface {
	Stage(ctx context.Context, stagingGuid string, req stager.StagingRequestFromCC) error
	StopStaging(ctx context.Context, stagingGuid string) error
	Desire(ctx context.Context, processGuid string, req ccclient.DesireAppRequestFromCC) error
	StopApp(ctx context.Context, processGuid string) error
	KillIndex(ctx context.Context, processGuid string, index int) error
	Instances(ctx context.Context, processGuid string) ([]tps.LRPInstance, error)
	Stats(ctx context.Context, processGuid, authorization string) ([]tps.LRPInstance, error)
	BulkStatus(ctx context.Context, processGuids []string) (map[string][]tps.LRPInstance, error)
}

// Server is the Cloud Controller.
type Server struct {
	cfg    config.Config
	store  *Store
	tokens Tokens
	logger *slog.Logger
	clock  clock.Clock
	bridge Bridge
	user   User
}

// New seeds the store (spec §1.4), sweeps unreferenced blobs and returns
// the server.
func New(cfg config.Config, store *Store, logger *slog.Logger, clk clock.Clock, bridge Bridge) (*Server, error) {
	s := &Server{cfg: cfg, store: store, logger: logger, clock: clk, bridge: bridge,
		tokens: Tokens{secret: []byte(cfg.TokenSigningSecret), issuer: cfg.ExternalURL + "/uaa/oauth/token"}}
	if err := s.seed(); err != nil {
		return nil, fmt.Errorf("seeding the store: %w", err)
	}
	if err := store.Sweep(); err != nil {
		return nil, fmt.Errorf("sweeping blobs: %w", err)
	}
	return s, nil
}

// apiError is a CC error (spec §2.4).
type apiError struct {
	status int
	code   int
	name   string
	desc   string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.code, e.name, e.desc) }

func cfErr(status, code int, name, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, name: name, desc: fmt.Sprintf(format, args...)}
}

func errParse(detail string) *apiError {
	return cfErr(400, 1001, "MessageParseError", "Request invalid due to parse error: %s", detail)
}
func errQuery(detail string) *apiError {
	return cfErr(400, 10005, "BadQueryParameter", "The query parameter is invalid: %s", detail)
}
func errNotFound() *apiError { return cfErr(404, 10000, "NotFound", "Unknown request") }
func errAppNotFound(g string) *apiError {
	return cfErr(404, 100004, "AppNotFound", "The app could not be found: %s", g)
}
func errAppInvalid(detail string) *apiError {
	return cfErr(400, 100001, "AppInvalid", "The app is invalid: %s", detail)
}
func errRelation(detail string) *apiError { return cfErr(400, 1002, "InvalidRelation", "%s", detail) }
func errUpload(detail string) *apiError {
	return cfErr(400, 160001, "AppBitsUploadInvalid", "The app upload is invalid: %s", detail)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	if status != http.StatusNoContent {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// fail answers err in the CC's error shape; an unexpected error is a 10001
// logged here.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		s.logger.Error("request-failed", "method", r.Method, "path", r.URL.Path, "error", err)
		ae = cfErr(500, 10001, "ServerError", "Server error")
	}
	writeJSON(w, ae.status, map[string]any{"code": ae.code, "description": ae.desc, "error_code": "CF-" + ae.name})
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handler serves every realm on one listener (spec §2.1).
func (s *Server) Handler() (http.Handler, error) {
	bearer := func(h handlerFunc) http.Handler { return s.wrap(s.bearer(h)) }
	basic := func(h handlerFunc) http.Handler { return s.wrap(s.basic(h, false)) }
	open := func(h handlerFunc) http.Handler { return s.wrap(h) }
	noop := bearer(s.roleNoop)
	handlers := map[string]http.Handler{
		InfoRoute: open(s.info), UAALoginRoute: http.HandlerFunc(s.uaaLogin), UAATokenRoute: http.HandlerFunc(s.uaaToken),
		ListOrgsRoute: bearer(s.listOrgs), GetOrgRoute: bearer(s.getOrg), CreateOrgRoute: bearer(s.createOrg),
		OrgSpacesRoute: bearer(s.orgSpaces), OrgPrivateDomainsRoute: bearer(s.emptyList), OrgUserRoute: noop,
		GetSpaceRoute: bearer(s.getSpace), CreateSpaceRoute: bearer(s.createSpace),
		SpaceManagerRoute: noop, SpaceDeveloperRoute: noop, SpaceAuditorRoute: noop,
		SpaceAppsRoute: bearer(s.spaceApps), SpaceRoutesRoute: bearer(s.spaceRoutes), SpaceSummaryRoute: bearer(s.spaceSummary),
		SharedDomainsRoute: bearer(s.listDomains), SharedDomainRoute: bearer(s.getDomain), PrivateDomainsRoute: bearer(s.emptyList),
		StacksRoute: bearer(s.listStacks), StackRoute: bearer(s.getStack), BuildpacksRoute: bearer(s.listBuildpacks),
		FeatureFlagRoute: bearer(s.featureFlag),
		ListAppsRoute:    bearer(s.listApps), CreateAppRoute: bearer(s.createApp), GetAppRoute: bearer(s.getApp),
		UpdateAppRoute: bearer(s.updateApp), DeleteAppRoute: bearer(s.deleteApp), RestageAppRoute: bearer(s.restageApp),
		AppSummaryRoute: bearer(s.appSummary), AppInstancesRoute: bearer(s.appInstances), AppStatsRoute: bearer(s.appStats),
		KillInstanceRoute: bearer(s.killInstance), MapRouteRoute: bearer(s.mapRoute), UnmapRouteRoute: bearer(s.unmapRoute),
		UploadBitsRoute: bearer(s.uploadBits), ResourceMatchRoute: bearer(s.resourceMatch),
		ListRoutesRoute: bearer(s.listRoutes), GetRouteRoute: bearer(s.getRoute), CreateRouteRoute: bearer(s.createRoute),
		DeleteRouteRoute: bearer(s.deleteRoute), ReservedRouteRoute: bearer(s.reservedRoute),
		JobRoute: bearer(s.getJob), EventsRoute: bearer(s.listEvents), LogAccessRoute: bearer(s.logAccess),

		StagingAppBitsRoute: basic(s.stagingAppBits), StagingDropletUploadRoute: basic(s.dropletUpload),
		StagingJobRoute: basic(s.stagingJob), StagingDropletDownloadRute: basic(s.dropletDownload),
		StagingCacheUploadRoute: basic(s.cacheUpload), StagingCacheDownloadRoute: basic(s.cacheDownload),
		StagingCompletedRoute: basic(s.stagingCompleted),
	}
	table := slices.Clone(Routes)
	for _, rt := range ccclient.AppRoutes {
		table = append(table, rt)
	}
	handlers[ccclient.BulkAppsRoute] = basic(s.bulkApps)
	handlers[ccclient.BulkAppsByGuidsRoute] = basic(s.bulkAppsByGuids)
	watcher := func(h handlerFunc) http.Handler { return s.wrap(s.basic(h, true)) }
	handlers[ccclient.AppCrashedRoute] = watcher(s.appCrashed)
	handlers[ccclient.LegacyAppCrashedRoute] = watcher(s.appCrashed)
	handlers[ccclient.AppReschedulingRoute] = watcher(s.appNoted)
	handlers[ccclient.AppReadinessChangedRoute] = watcher(s.appNoted)
	h, err := routes.NewRouter(table, handlers)
	if err != nil {
		return nil, err
	}
	h.NotFound(s.wrap(func(http.ResponseWriter, *http.Request) error { return errNotFound() }))
	return h, nil
}

func (s *Server) wrap(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

type ctxKey struct{}

// bearer checks the JWT of every /v2 request (spec §3.5).
func (s *Server) bearer(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		auth := r.Header.Get("Authorization")
		if auth == "" {
			return cfErr(401, 10002, "NotAuthenticated", "Authentication error")
		}
		scheme, token, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "bearer") {
			return cfErr(401, 1000, "InvalidAuthToken", "Invalid Auth Token")
		}
		claims, err := s.tokens.Verify(strings.TrimSpace(token), "access", s.clock.Now())
		if err != nil || claims.UserID != s.user.Guid {
			return cfErr(401, 1000, "InvalidAuthToken", "Invalid Auth Token")
		}
		if !claims.HasAdminScope() {
			return cfErr(403, 10003, "NotAuthorized", "You are not authorized to perform the requested action")
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, claims)))
	}
}

// basic checks the internal credentials; optional lets a request without
// an Authorization header through (the TPS watcher's routes, §2.1).
func (s *Server) basic(h handlerFunc, optional bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if optional && r.Header.Get("Authorization") == "" {
			return h(w, r)
		}
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(s.cfg.InternalAPIUser)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(s.cfg.InternalAPIPassword)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="cloud-controller"`)
			return cfErr(401, 10002, "NotAuthenticated", "Authentication error")
		}
		return h(w, r)
	}
}

// decode reads a JSON object body of at most max_json_body_bytes into v;
// raw also returns the keys sent.
func (s *Server) decode(r *http.Request, v any) (map[string]json.RawMessage, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxJSONBodyBytes+1))
	if err != nil {
		return nil, errParse(err.Error())
	}
	if int64(len(body)) > s.cfg.MaxJSONBodyBytes {
		return nil, tooLarge(s.cfg.MaxJSONBodyBytes)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, errParse("the body must be a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, errParse(err.Error())
	}
	return raw, nil
}

func (s *Server) now() time.Time { return s.clock.Now().UTC().Truncate(time.Second) }

func (s *Server) view(f func(tx *bolt.Tx) error) error   { return s.store.db.View(f) }
func (s *Server) update(f func(tx *bolt.Tx) error) error { return s.store.db.Update(f) }

// ---- envelopes and lists (spec §2.2, §2.3)

func rfc(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func envelope(m Meta, url string, entity map[string]any) map[string]any {
	return map[string]any{
		"metadata": map[string]any{"guid": m.Guid, "url": url, "created_at": m.CreatedAt.UTC().Format(time.RFC3339), "updated_at": rfc(m.UpdatedAt)},
		"entity":   entity,
	}
}

// item is one candidate of a list: its filterable attributes and a renderer.
type item struct {
	seq    uint64
	name   string
	attrs  map[string]string
	render func(depth int) map[string]any
}

// listQuery is a parsed list request.
type listQuery struct {
	filters  map[string]string
	page     int
	perPage  int
	desc     bool
	byName   bool
	depth    int
	rawQuery url.Values
}

func parseList(r *http.Request, allowed []string, orderByName bool) (listQuery, error) {
	q := r.URL.Query()
	lq := listQuery{filters: map[string]string{}, page: 1, perPage: 50, rawQuery: q}
	for _, qv := range q["q"] {
		for _, part := range strings.Split(qv, ";") {
			attr, val, ok := strings.Cut(part, ":")
			if !ok || strings.ContainsAny(attr, "<>=") || strings.Contains(attr, " IN ") || strings.HasPrefix(val, ">") || strings.HasPrefix(val, "<") || !slices.Contains(allowed, attr) {
				return lq, errQuery("q " + part)
			}
			lq.filters[attr] = val
		}
	}
	num := func(key string, def, lo, hi int) (int, error) {
		v := q.Get(key)
		if v == "" {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return 0, errQuery(key)
		}
		return n, nil
	}
	var err error
	if lq.page, err = num("page", 1, 1, 1<<30); err != nil {
		return lq, err
	}
	if lq.perPage, err = num("results-per-page", 50, 1, 100); err != nil {
		return lq, err
	}
	if lq.depth, err = num("inline-relations-depth", 0, 0, 3); err != nil {
		return lq, err
	}
	switch q.Get("order-direction") {
	case "", "asc":
	case "desc":
		lq.desc = true
	default:
		return lq, errQuery("order-direction")
	}
	switch ob := q.Get("order-by"); {
	case ob == "":
	case ob == "name" && orderByName:
		lq.byName = true
	case ob == "id" || ob == "timestamp":
	default:
		return lq, errQuery("order-by")
	}
	return lq, nil
}

var caseless = map[string]bool{"name": true, "host": true}

func (lq listQuery) render(path string, items []item) map[string]any {
	var kept []item
	for _, it := range items {
		ok := true
		for k, v := range lq.filters {
			got := it.attrs[k]
			if caseless[k] {
				ok = ok && strings.EqualFold(got, v)
			} else {
				ok = ok && got == v
			}
		}
		if ok {
			kept = append(kept, it)
		}
	}
	slices.SortStableFunc(kept, func(a, b item) int {
		c := 0
		if lq.byName {
			c = strings.Compare(a.name, b.name)
		}
		if c == 0 {
			c = int(a.seq) - int(b.seq)
			if a.seq > b.seq {
				c = 1
			} else if a.seq < b.seq {
				c = -1
			}
		}
		if lq.desc {
			c = -c
		}
		return c
	})
	total := len(kept)
	pages := max(1, (total+lq.perPage-1)/lq.perPage)
	resources := []map[string]any{}
	for i := (lq.page - 1) * lq.perPage; i < total && i < lq.page*lq.perPage; i++ {
		resources = append(resources, kept[i].render(lq.depth))
	}
	link := func(page int) any {
		if page < 1 || page > pages {
			return nil
		}
		v := url.Values{}
		for k, vals := range lq.rawQuery {
			v[k] = vals
		}
		v.Set("page", strconv.Itoa(page))
		v.Set("results-per-page", strconv.Itoa(lq.perPage))
		return path + "?" + v.Encode()
	}
	var prev any
	if lq.page > 1 {
		prev = link(min(lq.page-1, pages))
	}
	return map[string]any{"total_results": total, "total_pages": pages, "prev_url": prev, "next_url": link(lq.page + 1), "resources": resources}
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, allowed []string, byName bool, items func(tx *bolt.Tx, lq listQuery) ([]item, error)) error {
	lq, err := parseList(r, allowed, byName)
	if err != nil {
		return err
	}
	var out map[string]any
	err = s.view(func(tx *bolt.Tx) error {
		its, err := items(tx, lq)
		if err != nil {
			return err
		}
		out = lq.render(r.URL.Path, its)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, 200, out)
	return nil
}

func (s *Server) emptyList(w http.ResponseWriter, r *http.Request) error {
	return s.list(w, r, []string{"name"}, true, func(*bolt.Tx, listQuery) ([]item, error) { return nil, nil })
}

func depthOf(r *http.Request) int {
	n, _ := strconv.Atoi(r.URL.Query().Get("inline-relations-depth"))
	return min(max(n, 0), 3)
}

// readAll reads a limited body for non-JSON uses.
func readAll(r io.Reader, limit int64) ([]byte, bool, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	return b, int64(len(b)) > limit, err
}

// readJSON decodes a body of at most limit bytes into v, as decode does for
// /v2 (spec §2.2): 413 code 1001 when longer, 400 code 1001 saying what was
// expected when it is not that JSON.
func readJSON(r *http.Request, limit int64, v any, what string) error {
	body, over, err := readAll(r.Body, limit)
	if err != nil {
		return errParse(err.Error())
	}
	if over {
		return tooLarge(limit)
	}
	if json.Unmarshal(body, v) != nil {
		return errParse(what)
	}
	return nil
}

func tooLarge(limit int64) error {
	return cfErr(413, 1001, "MessageParseError", "Request invalid due to parse error: body exceeds %d bytes", limit)
}
