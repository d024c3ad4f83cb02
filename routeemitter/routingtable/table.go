// Package routingtable is the route-emitter's routing table (spec bridge
// §6.3, §6.4): for each process guid, the routes its DesiredLRP asks for
// (by container port) and its RUNNING instances with their host ports.
// Every change is computed as the difference between the (route, endpoint)
// pairs before and after it, so the messages it returns are exactly the
// registrations gained and lost. It does no I/O and keeps no clock.
package routingtable

import (
	"encoding/json"
	"sort"
	"strconv"

	"diego/receptor"
	"diego/routeemitter"
)

// Messages are what one change asks the emitter to publish.
type Messages struct {
	Registrations   []routeemitter.RegistryMessage
	Unregistrations []routeemitter.RegistryMessage
}

// Empty reports whether there is nothing to publish.
func (m Messages) Empty() bool { return len(m.Registrations) == 0 && len(m.Unregistrations) == 0 }

// Merge appends o's messages to m's.
func (m *Messages) Merge(o Messages) {
	m.Registrations = append(m.Registrations, o.Registrations...)
	m.Unregistrations = append(m.Unregistrations, o.Unregistrations...)
}

// EndpointKey tells one instance record from another: the ordinary and the
// evacuating record of the same instance are distinct endpoints, so an app
// stays routable while it evacuates.
type EndpointKey struct {
	InstanceGuid string
	Evacuating   bool
}

// route is one hostname on one container port.
type route struct {
	hostname        string
	routeServiceURL string
}

// instance is one RUNNING actual LRP record.
type instance struct {
	index   int32
	address string
	ports   []receptor.PortMapping
	since   int64
	tag     receptor.ModificationTag
}

// process is everything known about one process guid.
type process struct {
	desired   bool
	instances int32
	domain    string
	logGuid   string
	tag       receptor.ModificationTag
	// routes maps a container port to its routes by hostname.
	routes    map[uint32]map[string]route
	endpoints map[EndpointKey]instance
}

func (p *process) empty() bool { return !p.desired && len(p.endpoints) == 0 }

// pair is one registration: a hostname on a container port served by one
// endpoint.
type pair struct {
	port     uint32
	hostname string
	endpoint EndpointKey
}

// Table is the routing table. The zero value is not usable; use New.
type Table struct {
	processes map[string]*process
	// quiet skips computing messages while a sync builds a table whose
	// messages come from Swap.
	quiet bool
}

// New returns an empty table.
func New() *Table { return &Table{processes: map[string]*process{}} }

func (t *Table) get(pg string) *process {
	p := t.processes[pg]
	if p == nil {
		p = &process{routes: map[uint32]map[string]route{}, endpoints: map[EndpointKey]instance{}}
		t.processes[pg] = p
	}
	return p
}

// Build is a table made from a full sync's lists and the events seen
// while they were fetched; its messages come from Swap.
func Build(desired []receptor.DesiredLRPResponse, actual []receptor.ActualLRPResponse, replay []receptor.Event) *Table {
	t := &Table{processes: make(map[string]*process, len(desired)), quiet: true}
	for _, d := range desired {
		t.SetDesired(d)
	}
	for _, a := range actual {
		t.AddEndpoint(a)
	}
	for _, e := range replay {
		t.Handle(e)
	}
	t.quiet = false
	return t
}

// HasDesired reports whether the table knows pg's DesiredLRP (the watcher
// fetches it before an instance of an unknown process is added).
func (t *Table) HasDesired(pg string) bool {
	p := t.processes[pg]
	return p != nil && p.desired
}

// succeededBy is Diego's modification-tag order: a record replaces another
// unless both name the same epoch and the new index is not higher.
func succeededBy(old, next receptor.ModificationTag) bool {
	if old.Epoch == "" || next.Epoch == "" || old.Epoch != next.Epoch {
		return true
	}
	return old.Index < next.Index
}

// CFRoutes reads routes["cf-router"]; a DesiredLRP without that key, or
// with a value that is not a list of routes, has no HTTP routes.
func CFRoutes(info receptor.RoutingInfo) ([]routeemitter.CFRoute, error) {
	raw, ok := info[routeemitter.CFRouter]
	if !ok || len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var out []routeemitter.CFRoute
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// SetDesired records a created or changed DesiredLRP (routes, instances,
// domain); an update older than the one held is ignored.
func (t *Table) SetDesired(d receptor.DesiredLRPResponse) Messages {
	if p := t.processes[d.ProcessGuid]; p != nil && p.desired && !succeededBy(p.tag, d.ModificationTag) {
		return Messages{}
	}
	return t.change(d.ProcessGuid, func(p *process) { setDesired(p, d) })
}

func setDesired(p *process, d receptor.DesiredLRPResponse) {
	p.desired, p.instances, p.domain, p.logGuid, p.tag = true, d.Instances, d.Domain, d.LogGuid, d.ModificationTag
	p.routes = map[uint32]map[string]route{}
	cf, _ := CFRoutes(d.Routes) // unparseable routes route nowhere; the receptor validated them
	for _, r := range cf {
		for _, h := range r.Hostnames {
			if h == "" {
				continue
			}
			if p.routes[r.Port] == nil {
				p.routes[r.Port] = map[string]route{}
			}
			p.routes[r.Port][h] = route{hostname: h, routeServiceURL: r.RouteServiceURL}
		}
	}
}

// RemoveDesired forgets a DesiredLRP: its routes are unregistered from all
// its endpoints.
func (t *Table) RemoveDesired(d receptor.DesiredLRPResponse) Messages {
	p := t.processes[d.ProcessGuid]
	if p == nil || !p.desired || !(p.tag == d.ModificationTag || succeededBy(p.tag, d.ModificationTag)) {
		return Messages{}
	}
	return t.change(d.ProcessGuid, func(p *process) {
		p.desired, p.routes, p.tag, p.instances = false, map[uint32]map[string]route{}, receptor.ModificationTag{}, 0
	})
}

// AddEndpoint records a RUNNING actual LRP record; any other state, or an
// update older than the record held, is ignored.
func (t *Table) AddEndpoint(a receptor.ActualLRPResponse) Messages {
	if a.State != receptor.ActualLRPStateRunning {
		return Messages{}
	}
	key := EndpointKey{a.InstanceGuid, a.Evacuating}
	if p := t.processes[a.ProcessGuid]; p != nil {
		if old, ok := p.endpoints[key]; ok && old.tag != a.ModificationTag && !succeededBy(old.tag, a.ModificationTag) {
			return Messages{}
		}
	}
	return t.change(a.ProcessGuid, func(p *process) {
		p.endpoints[key] = instance{index: a.Index, address: a.Address, ports: a.Ports, since: a.Since, tag: a.ModificationTag}
		if p.domain == "" {
			p.domain = a.Domain
		}
	})
}

// RemoveEndpoint forgets an actual LRP record, unless the table holds a
// newer version of it.
func (t *Table) RemoveEndpoint(a receptor.ActualLRPResponse) Messages {
	key := EndpointKey{a.InstanceGuid, a.Evacuating}
	p := t.processes[a.ProcessGuid]
	if p == nil {
		return Messages{}
	}
	old, ok := p.endpoints[key]
	if !ok || (old.tag != a.ModificationTag && !succeededBy(old.tag, a.ModificationTag)) {
		return Messages{}
	}
	return t.change(a.ProcessGuid, func(p *process) { delete(p.endpoints, key) })
}

// Handle applies one receptor event (spec bridge §6.4).
func (t *Table) Handle(e receptor.Event) Messages {
	switch e := e.(type) {
	case *receptor.DesiredLRPCreatedEvent:
		return t.SetDesired(e.DesiredLRPResponse)
	case *receptor.DesiredLRPChangedEvent:
		return t.SetDesired(e.After)
	case *receptor.DesiredLRPRemovedEvent:
		return t.RemoveDesired(e.DesiredLRPResponse)
	case *receptor.ActualLRPCreatedEvent:
		return t.AddEndpoint(e.ActualLRPResponse)
	case *receptor.ActualLRPChangedEvent:
		return t.changeActual(e.Before, e.After)
	case *receptor.ActualLRPRemovedEvent:
		return t.RemoveEndpoint(e.ActualLRPResponse)
	}
	return Messages{}
}

// changeActual applies an actual LRP change as one step: the record after
// is added if it runs; the record before goes if it stopped running or is
// another record (ordinary → evacuating, a new instance at the index).
func (t *Table) changeActual(before, after receptor.ActualLRPResponse) Messages {
	running := func(a receptor.ActualLRPResponse) bool { return a.State == receptor.ActualLRPStateRunning }
	afterKey, beforeKey := EndpointKey{after.InstanceGuid, after.Evacuating}, EndpointKey{before.InstanceGuid, before.Evacuating}
	// notNewer: the table holds no version of key newer than tag.
	notNewer := func(key EndpointKey, tag receptor.ModificationTag) bool {
		p := t.processes[after.ProcessGuid]
		if p == nil {
			return true
		}
		old, ok := p.endpoints[key]
		return !ok || old.tag == tag || succeededBy(old.tag, tag)
	}
	add := running(after) && notNewer(afterKey, after.ModificationTag)
	remove := false
	if running(before) && (!running(after) || beforeKey != afterKey) {
		tag := after.ModificationTag
		if beforeKey != afterKey {
			tag = before.ModificationTag
		}
		remove = notNewer(beforeKey, tag)
	}
	if !add && !remove {
		return Messages{}
	}
	return t.change(after.ProcessGuid, func(p *process) {
		if remove {
			delete(p.endpoints, beforeKey)
		}
		if add {
			p.endpoints[afterKey] = instance{index: after.Index, address: after.Address, ports: after.Ports, since: after.Since, tag: after.ModificationTag}
			if p.domain == "" {
				p.domain = after.Domain
			}
		}
	})
}

// change applies f to pg's process and returns the difference it makes.
func (t *Table) change(pg string, f func(*process)) Messages {
	p := t.get(pg)
	if t.quiet {
		f(p)
		if p.empty() {
			delete(t.processes, pg)
		}
		return Messages{}
	}
	before := snapshot(p)
	f(p)
	m := diff(pg, before, p)
	if p.empty() {
		delete(t.processes, pg)
	}
	return m
}

// view is a process's pairs with what their messages need.
type view struct {
	p     *process
	pairs map[pair]struct{}
	ports map[uint32]map[string]bool
}

// snapshot copies what diff needs from p before it changes.
func snapshot(p *process) view {
	cp := &process{desired: p.desired, instances: p.instances, domain: p.domain, logGuid: p.logGuid, tag: p.tag,
		routes: map[uint32]map[string]route{}, endpoints: map[EndpointKey]instance{}}
	for port, rs := range p.routes {
		cp.routes[port] = map[string]route{}
		for h, r := range rs {
			cp.routes[port][h] = r
		}
	}
	for k, e := range p.endpoints {
		cp.endpoints[k] = e
	}
	return viewOf(cp)
}

func viewOf(p *process) view {
	if p == nil {
		p = &process{}
	}
	v := view{p: p, pairs: map[pair]struct{}{}, ports: map[uint32]map[string]bool{}}
	for port, rs := range p.routes {
		v.ports[port] = map[string]bool{}
		for h := range rs {
			v.ports[port][h] = true
		}
	}
	for key, e := range p.endpoints {
		// An index the DesiredLRP no longer wants (scale-down) is not routed.
		if p.desired && p.instances > 0 && e.index >= p.instances {
			continue
		}
		for _, pm := range e.ports {
			for h := range p.routes[pm.ContainerPort] {
				v.pairs[pair{pm.ContainerPort, h, key}] = struct{}{}
			}
		}
	}
	return v
}

// diff is the messages that take the router from before to after: pairs
// lost are unregistered (described as they were), pairs gained registered.
// A pair gained because an endpoint joined a route that already had
// endpoints' registrations carries endpoint_updated_at_ns.
func diff(pg string, before view, after *process) Messages {
	return diffViews(pg, before, viewOf(after), true)
}

// diffViews lists the pairs lost and gained. A router knows an endpoint
// only by route and address, so a pair lost while another pair keeps the
// same route and address (an instance and its own evacuating record) is
// not unregistered: the router would drop the address that still serves.
func diffViews(pg string, before, after view, stamp bool) Messages {
	var m Messages
	kept := map[[3]string]bool{}
	for pr := range after.pairs {
		kept[routerKey(after.p, pr)] = true
	}
	for _, pr := range sortedPairs(after.pairs) {
		if _, ok := before.pairs[pr]; ok {
			continue
		}
		_, endpointWasThere := before.p.endpoints[pr.endpoint]
		stamped := stamp && before.ports[pr.port][pr.hostname] && !endpointWasThere
		m.Registrations = append(m.Registrations, message(pg, after.p, pr, stamped))
	}
	for _, pr := range sortedPairs(before.pairs) {
		if _, ok := after.pairs[pr]; !ok && !kept[routerKey(before.p, pr)] {
			m.Unregistrations = append(m.Unregistrations, message(pg, before.p, pr, false))
		}
	}
	return m
}

// routerKey is what a router tells registrations apart by: the route and
// the address.
func routerKey(p *process, pr pair) [3]string {
	e := p.endpoints[pr.endpoint]
	return [3]string{pr.hostname, e.address, strconv.Itoa(int(hostPort(e, pr.port)))}
}

func hostPort(e instance, containerPort uint32) uint32 {
	for _, pm := range e.ports {
		if pm.ContainerPort == containerPort {
			return pm.HostPort
		}
	}
	return 0
}

func sortedPairs(s map[pair]struct{}) []pair {
	out := make([]pair, 0, len(s))
	for p := range s {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.hostname != b.hostname {
			return a.hostname < b.hostname
		}
		if a.port != b.port {
			return a.port < b.port
		}
		if a.endpoint.InstanceGuid != b.endpoint.InstanceGuid {
			return a.endpoint.InstanceGuid < b.endpoint.InstanceGuid
		}
		return !a.endpoint.Evacuating && b.endpoint.Evacuating
	})
	return out
}

// message is the registry message of one pair (spec bridge §6.1): one URI,
// the endpoint's address and the host port mapped to the route's port.
func message(pg string, p *process, pr pair, stamped bool) routeemitter.RegistryMessage {
	e := p.endpoints[pr.endpoint]
	r := p.routes[pr.port][pr.hostname]
	m := routeemitter.RegistryMessage{
		Host:                 e.address,
		Port:                 hostPort(e, pr.port),
		URIs:                 []string{pr.hostname},
		App:                  p.logGuid,
		RouteServiceURL:      r.routeServiceURL,
		PrivateInstanceID:    pr.endpoint.InstanceGuid,
		PrivateInstanceIndex: strconv.Itoa(int(e.index)),
		ServerCertDomainSAN:  pr.endpoint.InstanceGuid,
		Tags:                 routeemitter.ComponentTag,
	}
	if stamped {
		m.EndpointUpdatedAtNs = e.since
	}
	return m
}

// Registrations is every registration the table stands for: the periodic
// re-emit that keeps routers from pruning (spec bridge §6.2).
func (t *Table) Registrations() Messages {
	var m Messages
	for _, pg := range t.sortedGuids() {
		p := t.processes[pg]
		for _, pr := range sortedPairs(viewOf(p).pairs) {
			m.Registrations = append(m.Registrations, message(pg, p, pr, false))
		}
	}
	return m
}

// RouteCount is how many (route, endpoint) pairs the table registers.
func (t *Table) RouteCount() int {
	n := 0
	for _, p := range t.processes {
		n += len(viewOf(p).pairs)
	}
	return n
}

func (t *Table) sortedGuids() []string {
	out := make([]string, 0, len(t.processes))
	for pg := range t.processes {
		out = append(out, pg)
	}
	sort.Strings(out)
	return out
}

// Swap replaces the table's contents with next (built by a full sync) and
// returns the difference. A process whose domain is not fresh keeps the
// routes that next lacks: an unconfirmed desired state never deletes
// routes (spec bridge §6.5, §9.6).
func (t *Table) Swap(next *Table, fresh func(domain string) bool) Messages {
	for pg, old := range t.processes {
		if !old.desired || fresh(old.domain) {
			continue
		}
		p := next.get(pg)
		if !p.desired {
			p.desired, p.instances, p.domain, p.logGuid, p.tag = true, old.instances, old.domain, old.logGuid, old.tag
		}
		for port, rs := range old.routes {
			if p.routes[port] == nil {
				p.routes[port] = map[string]route{}
			}
			for h, r := range rs {
				if _, ok := p.routes[port][h]; !ok {
					p.routes[port][h] = r
				}
			}
		}
	}
	var m Messages
	seen := map[string]bool{}
	for _, pg := range append(t.sortedGuids(), next.sortedGuids()...) {
		if seen[pg] {
			continue
		}
		seen[pg] = true
		m.Merge(diffViews(pg, viewOf(t.processes[pg]), viewOf(next.processes[pg]), false))
	}
	for pg, p := range next.processes {
		if p.empty() {
			delete(next.processes, pg)
		}
	}
	t.processes = next.processes
	return m
}
