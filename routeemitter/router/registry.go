package router

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"diego/routeemitter"
)

// Endpoint is one registered backend of a route.
type Endpoint struct {
	Addr          string
	TLS           bool
	App           string
	InstanceID    string
	InstanceIndex string
	ServerCertSAN string
	Tags          map[string]string
	// StaleThreshold is this endpoint's prune threshold.
	StaleThreshold time.Duration
	Updated        time.Time
}

// pool is one route's endpoints, served round-robin.
type pool struct {
	byAddr map[string]*Endpoint
	order  []string
	next   int
}

// Registry is the router's table: routes (host, or host/path) to
// endpoints, refreshed by registrations and pruned when stale (spec bridge
// §7). It is safe for concurrent use.
type Registry struct {
	mu        sync.Mutex
	pools     map[string]*pool
	threshold time.Duration
}

// NewRegistry returns an empty registry whose endpoints go stale after
// threshold unless a registration asks for less.
func NewRegistry(threshold time.Duration) *Registry {
	return &Registry{pools: map[string]*pool{}, threshold: threshold}
}

// normalizeURI lowercases a route and drops a trailing slash and any port
// on its host: "App.Example.com:80/Path/" → "app.example.com/path".
func normalizeURI(uri string) string {
	uri = strings.ToLower(strings.TrimSpace(uri))
	host, path, _ := strings.Cut(uri, "/")
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	path = strings.Trim(path, "/")
	if path == "" {
		return host
	}
	return host + "/" + path
}

// validate checks what a registration must have.
func validate(m routeemitter.RegistryMessage) error {
	switch {
	case m.Host == "":
		return fmt.Errorf("no host")
	case m.Port == 0 && m.TLSPort == 0:
		return fmt.Errorf("no port")
	case len(m.URIs) == 0:
		return fmt.Errorf("no uris")
	case m.RouteServiceURL != "" && !strings.HasPrefix(m.RouteServiceURL, "https://"):
		return fmt.Errorf("route_service_url %q is not https", m.RouteServiceURL)
	}
	return nil
}

func address(m routeemitter.RegistryMessage) (string, bool) {
	if m.TLSPort != 0 {
		return net.JoinHostPort(m.Host, strconv.Itoa(int(m.TLSPort))), true
	}
	return net.JoinHostPort(m.Host, strconv.Itoa(int(m.Port))), false
}

// Register adds or refreshes the message's endpoint under each of its URIs.
func (r *Registry) Register(m routeemitter.RegistryMessage, now time.Time) error {
	if err := validate(m); err != nil {
		return err
	}
	addr, tls := address(m)
	threshold := r.threshold
	if s := time.Duration(m.StaleThresholdInSeconds) * time.Second; s > 0 && s < threshold {
		threshold = s
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, uri := range m.URIs {
		key := normalizeURI(uri)
		if key == "" {
			continue
		}
		p := r.pools[key]
		if p == nil {
			p = &pool{byAddr: map[string]*Endpoint{}}
			r.pools[key] = p
		}
		if _, ok := p.byAddr[addr]; !ok {
			p.order = append(p.order, addr)
		}
		p.byAddr[addr] = &Endpoint{Addr: addr, TLS: tls, App: m.App, InstanceID: m.PrivateInstanceID,
			InstanceIndex: m.PrivateInstanceIndex, ServerCertSAN: m.ServerCertDomainSAN, Tags: m.Tags,
			StaleThreshold: threshold, Updated: now}
	}
	return nil
}

// Unregister removes the message's endpoint from each of its URIs.
func (r *Registry) Unregister(m routeemitter.RegistryMessage) error {
	if m.Host == "" || (m.Port == 0 && m.TLSPort == 0) || len(m.URIs) == 0 {
		return fmt.Errorf("unregistration needs host, port and uris")
	}
	addr, _ := address(m)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, uri := range m.URIs {
		key := normalizeURI(uri)
		if p := r.pools[key]; p != nil {
			r.remove(key, p, addr)
		}
	}
	return nil
}

func (r *Registry) remove(key string, p *pool, addr string) {
	if _, ok := p.byAddr[addr]; !ok {
		return
	}
	delete(p.byAddr, addr)
	for i, a := range p.order {
		if a == addr {
			p.order = append(p.order[:i], p.order[i+1:]...)
			break
		}
	}
	if len(p.order) == 0 {
		delete(r.pools, key)
	}
}

// Prune removes every non-TLS endpoint not refreshed within its stale
// threshold, and returns how many it removed.
func (r *Registry) Prune(now time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for key, p := range r.pools {
		for _, addr := range append([]string(nil), p.order...) {
			e := p.byAddr[addr]
			if !e.TLS && now.Sub(e.Updated) > e.StaleThreshold {
				r.remove(key, p, addr)
				n++
			}
		}
	}
	return n
}

// Lookup finds the route for a request: host (any port dropped, any case)
// and the longest registered path prefix, and returns its endpoints in
// round-robin order (the first is this request's, the rest its fallbacks),
// or nil for an unknown route.
func (r *Registry) Lookup(host, path string) []Endpoint {
	host = normalizeURI(host)
	segments := strings.Split(strings.Trim(strings.ToLower(path), "/"), "/")
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(segments); i >= 0; i-- {
		key := host
		if i > 0 && segments[0] != "" {
			key = host + "/" + strings.Join(segments[:i], "/")
		} else if i > 0 {
			continue
		}
		p := r.pools[key]
		if p == nil {
			continue
		}
		out := make([]Endpoint, 0, len(p.order))
		start := p.next % len(p.order)
		p.next = start + 1
		for j := range p.order {
			out = append(out, *p.byAddr[p.order[(start+j)%len(p.order)]])
		}
		return out
	}
	return nil
}

// RouteJSON is one endpoint in the /routes dump.
type RouteJSON struct {
	Address              string            `json:"address"`
	TLS                  bool              `json:"tls"`
	TTL                  int               `json:"ttl"`
	App                  string            `json:"app,omitempty"`
	PrivateInstanceID    string            `json:"private_instance_id,omitempty"`
	PrivateInstanceIndex string            `json:"private_instance_index,omitempty"`
	ServerCertDomainSAN  string            `json:"server_cert_domain_san,omitempty"`
	Tags                 map[string]string `json:"tags,omitempty"`
}

// Routes is the table as GET /routes shows it: each route with its
// endpoints, sorted by address.
func (r *Registry) Routes() map[string][]RouteJSON {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]RouteJSON, len(r.pools))
	for key, p := range r.pools {
		list := make([]RouteJSON, 0, len(p.order))
		for _, e := range p.byAddr {
			list = append(list, RouteJSON{Address: e.Addr, TLS: e.TLS, TTL: int(e.StaleThreshold / time.Second),
				App: e.App, PrivateInstanceID: e.InstanceID, PrivateInstanceIndex: e.InstanceIndex,
				ServerCertDomainSAN: e.ServerCertSAN, Tags: e.Tags})
		}
		sort.Slice(list, func(i, j int) bool { return list[i].Address < list[j].Address })
		out[key] = list
	}
	return out
}
