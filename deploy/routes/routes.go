// Package routes is a small route table shared by an API's server and its
// client, so both sides build paths from one definition and cannot drift.
//
// Paths are literal except for whole segments written ":name", which match
// one path segment (dots included, so "list.r3" is just text).
package routes

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gorilla/mux"
)

// Route names an endpoint of an API, e.g.
// {Name: "DesireTask", Method: "POST", Path: "/v1/tasks/desire.r2"}.
type Route struct {
	Name   string
	Method string
	Path   string
}

// Table is an API's routes.
type Table []Route

// Params holds the values of a route's ":name" path segments.
type Params map[string]string

// Lookup finds the route called name.
func (t Table) Lookup(name string) (Route, bool) {
	for _, r := range t {
		if r.Name == name {
			return r, true
		}
	}
	return Route{}, false
}

// CreatePath fills in the route's path parameters, escaping each value so
// that it stays one path segment.
func (r Route) CreatePath(params Params) (string, error) {
	segments := strings.Split(r.Path, "/")
	for i, seg := range segments {
		name, ok := paramName(seg)
		if !ok {
			continue
		}
		value := params[name]
		if value == "" {
			return "", fmt.Errorf("route %s: missing param %q", r.Name, name)
		}
		segments[i] = url.PathEscape(value)
	}
	return strings.Join(segments, "/"), nil
}

// NewRouter serves each route of t with the handler of the same name. Every
// route needs a handler and every handler a route, so that a missing or
// misspelt name fails at startup rather than as a 404 in production.
// Unknown paths get 404; a known path with the wrong method gets 405.
func NewRouter(t Table, handlers map[string]http.Handler) (*Router, error) {
	router := mux.NewRouter()
	// Match on the escaped path so an escaped "/" inside a param value does
	// not split the segment; Param unescapes.
	router.UseEncodedPath()
	exact := map[methodPath]http.Handler{}

	seen := map[string]bool{}
	for _, r := range t {
		if seen[r.Name] {
			return nil, fmt.Errorf("duplicate route name %q", r.Name)
		}
		seen[r.Name] = true
		if r.Name == "" || r.Method == "" || !strings.HasPrefix(r.Path, "/") {
			return nil, fmt.Errorf("invalid route %+v: needs a name, a method and a path starting with /", r)
		}

		h, ok := handlers[r.Name]
		if !ok || h == nil {
			return nil, fmt.Errorf("no handler for route %q", r.Name)
		}
		router.Path(muxTemplate(r.Path)).Methods(r.Method).Handler(h).Name(r.Name)
		if !strings.Contains(r.Path, "/:") {
			exact[methodPath{r.Method, r.Path}] = h
		}
	}

	var extra []string
	for name := range handlers {
		if !seen[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return nil, fmt.Errorf("no route for handlers %q", extra)
	}
	return &Router{exact: exact, mux: router}, nil
}

// Router serves a route table. A request for a route without parameters,
// on its exact path and method, goes straight to its handler: most calls of
// a busy API (the BBS's) skip gorilla's regexp matching. Anything else (a
// parameter, an escaped or unclean path, a wrong method) goes through
// gorilla, which answers it as it always has.
type Router struct {
	exact map[methodPath]http.Handler
	mux   *mux.Router
}

type methodPath struct{ method, path string }

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := rt.exact[methodPath{r.Method, r.URL.Path}]; ok && r.URL.RawPath == "" {
		h.ServeHTTP(w, r)
		return
	}
	rt.mux.ServeHTTP(w, r)
}

// NotFound makes h answer an unknown path and a known path's wrong method,
// for an API whose errors have a body of their own (the Cloud Controller's).
func (rt *Router) NotFound(h http.Handler) {
	rt.mux.NotFoundHandler = h
	rt.mux.MethodNotAllowedHandler = h
}

// Param returns the unescaped value of the ":name" path segment of the
// route that matched r, or "" if there is none.
func Param(r *http.Request, name string) string {
	raw := mux.Vars(r)[name]
	value, err := url.PathUnescape(raw)
	if err != nil {
		return raw
	}
	return value
}

// RequestGenerator builds requests for the routes of one API at one address.
type RequestGenerator struct {
	baseURL string
	table   Table
}

// NewRequestGenerator returns a RequestGenerator for t rooted at baseURL
// (e.g. "https://bbs.service.cf.internal:8889").
func NewRequestGenerator(baseURL string, t Table) *RequestGenerator {
	return &RequestGenerator{baseURL: strings.TrimSuffix(baseURL, "/"), table: t}
}

// CreateRequest builds a request for the named route, with params filling
// its path and body as the request body.
func (g *RequestGenerator) CreateRequest(name string, params Params, body io.Reader) (*http.Request, error) {
	route, ok := g.table.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("unknown route %q", name)
	}
	path, err := route.CreatePath(params)
	if err != nil {
		return nil, err
	}
	return http.NewRequest(route.Method, g.baseURL+path, body)
}

// muxTemplate turns "/v1/tasks/:task_guid" into gorilla's "/v1/tasks/{task_guid}".
func muxTemplate(path string) string {
	segments := strings.Split(path, "/")
	for i, seg := range segments {
		if name, ok := paramName(seg); ok {
			segments[i] = "{" + name + "}"
		}
	}
	return strings.Join(segments, "/")
}

func paramName(segment string) (string, bool) {
	name, ok := strings.CutPrefix(segment, ":")
	return name, ok && name != ""
}
