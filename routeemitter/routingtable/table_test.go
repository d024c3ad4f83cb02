package routingtable_test

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/receptor"
	"diego/routeemitter"
	"diego/routeemitter/routingtable"
)

func desired(pg string, instances int32, index uint32, routes ...routeemitter.CFRoute) receptor.DesiredLRPResponse {
	d := receptor.DesiredLRPResponse{ModificationTag: receptor.ModificationTag{Epoch: "e", Index: index}}
	d.ProcessGuid, d.Domain, d.Instances, d.LogGuid = pg, "cf-apps", instances, "log-"+pg
	if routes != nil {
		raw, _ := json.Marshal(routes)
		d.Routes = receptor.RoutingInfo{routeemitter.CFRouter: raw}
	}
	return d
}

func route(port uint32, hosts ...string) routeemitter.CFRoute {
	return routeemitter.CFRoute{Hostnames: hosts, Port: port}
}

func actual(pg, ig string, index int32, state string, tag uint32) receptor.ActualLRPResponse {
	return receptor.ActualLRPResponse{
		ProcessGuid: pg, InstanceGuid: ig, Index: index, State: state, Domain: "cf-apps",
		Address: "10.0.0." + string(rune('1'+index)), Since: 1000 + int64(index),
		Ports:           []receptor.PortMapping{{ContainerPort: 8080, HostPort: 61000 + uint32(index)}, {ContainerPort: 9090, HostPort: 62000 + uint32(index)}},
		ModificationTag: receptor.ModificationTag{Epoch: "a-" + ig, Index: tag},
	}
}

func running(pg, ig string, index int32) receptor.ActualLRPResponse {
	return actual(pg, ig, index, receptor.ActualLRPStateRunning, 1)
}

// reg is the message the table must send for hostname on an instance.
func reg(host, pg, ig string, index int32, hostPort uint32) routeemitter.RegistryMessage {
	return routeemitter.RegistryMessage{
		Host: "10.0.0." + string(rune('1'+index)), Port: hostPort, URIs: []string{host}, App: "log-" + pg,
		PrivateInstanceID: ig, PrivateInstanceIndex: string(rune('0' + index)), ServerCertDomainSAN: ig,
		Tags: map[string]string{"component": "route-emitter"},
	}
}

func stamped(m routeemitter.RegistryMessage, since int64) routeemitter.RegistryMessage {
	m.EndpointUpdatedAtNs = since
	return m
}

var _ = Describe("The routing table", func() {
	var table *routingtable.Table

	BeforeEach(func() { table = routingtable.New() })

	Describe("the registry message", func() {
		It("has the spec's JSON keys, a string index and no empty optional fields", func() {
			table.SetDesired(desired("pg", 1, 1, route(8080, "app.example.com")))
			m := table.AddEndpoint(running("pg", "ig-0", 0))
			body, err := json.Marshal(m.Registrations[0])
			Expect(err).NotTo(HaveOccurred())
			Expect(string(body)).To(Equal(`{"host":"10.0.0.1","port":61000,"uris":["app.example.com"],"app":"log-pg",` +
				`"private_instance_id":"ig-0","private_instance_index":"0","server_cert_domain_san":"ig-0",` +
				`"endpoint_updated_at_ns":1000,"tags":{"component":"route-emitter"}}`))
		})

		It("carries the route service url", func() {
			r := route(8080, "a.example.com")
			r.RouteServiceURL = "https://rs.example.com"
			table.SetDesired(desired("pg", 1, 1, r))
			m := table.AddEndpoint(running("pg", "ig-0", 0))
			Expect(m.Registrations[0].RouteServiceURL).To(Equal("https://rs.example.com"))
		})
	})

	Describe("desired LRP events", func() {
		It("registers nothing for routes without instances, then each route for a new instance", func() {
			Expect(table.Handle(&receptor.DesiredLRPCreatedEvent{DesiredLRPResponse: desired("pg", 2, 1,
				route(8080, "a.example.com", "b.example.com"))}).Empty()).To(BeTrue())
			m := table.Handle(&receptor.ActualLRPCreatedEvent{ActualLRPResponse: running("pg", "ig-0", 0)})
			Expect(m.Unregistrations).To(BeEmpty())
			Expect(m.Registrations).To(ConsistOf(
				stamped(reg("a.example.com", "pg", "ig-0", 0, 61000), 1000),
				stamped(reg("b.example.com", "pg", "ig-0", 0, 61000), 1000)))
		})

		It("registers added routes and unregisters removed ones on a change", func() {
			table.SetDesired(desired("pg", 1, 1, route(8080, "a.example.com")))
			table.AddEndpoint(running("pg", "ig-0", 0))
			before, after := desired("pg", 1, 1, route(8080, "a.example.com")), desired("pg", 1, 2, route(8080, "b.example.com"))
			m := table.Handle(&receptor.DesiredLRPChangedEvent{Before: before, After: after})
			Expect(m.Unregistrations).To(ConsistOf(reg("a.example.com", "pg", "ig-0", 0, 61000)))
			Expect(m.Registrations).To(ConsistOf(reg("b.example.com", "pg", "ig-0", 0, 61000)))
		})

		It("moves a route to the host port of its new container port", func() {
			table.SetDesired(desired("pg", 1, 1, route(8080, "a.example.com")))
			table.AddEndpoint(running("pg", "ig-0", 0))
			m := table.SetDesired(desired("pg", 1, 2, route(9090, "a.example.com")))
			Expect(m.Unregistrations).To(ConsistOf(reg("a.example.com", "pg", "ig-0", 0, 61000)))
			Expect(m.Registrations).To(ConsistOf(reg("a.example.com", "pg", "ig-0", 0, 62000)))
		})

		It("unregisters every route of every instance when the LRP is removed", func() {
			d := desired("pg", 2, 1, route(8080, "a.example.com"))
			table.SetDesired(d)
			table.AddEndpoint(running("pg", "ig-0", 0))
			table.AddEndpoint(running("pg", "ig-1", 1))
			m := table.Handle(&receptor.DesiredLRPRemovedEvent{DesiredLRPResponse: d})
			Expect(m.Registrations).To(BeEmpty())
			Expect(m.Unregistrations).To(ConsistOf(reg("a.example.com", "pg", "ig-0", 0, 61000), reg("a.example.com", "pg", "ig-1", 1, 61001)))
			Expect(table.RouteCount()).To(BeZero())
		})

		It("drops the instances above a scale-down and routes them again on a scale-up", func() {
			table.SetDesired(desired("pg", 2, 1, route(8080, "a.example.com")))
			table.AddEndpoint(running("pg", "ig-0", 0))
			table.AddEndpoint(running("pg", "ig-1", 1))
			m := table.SetDesired(desired("pg", 1, 2, route(8080, "a.example.com")))
			Expect(m.Registrations).To(BeEmpty())
			Expect(m.Unregistrations).To(ConsistOf(reg("a.example.com", "pg", "ig-1", 1, 61001)))
			m = table.SetDesired(desired("pg", 2, 3, route(8080, "a.example.com")))
			Expect(m.Registrations).To(ConsistOf(reg("a.example.com", "pg", "ig-1", 1, 61001)))
		})

		It("ignores a change older than the one it holds (out of order)", func() {
			table.SetDesired(desired("pg", 1, 5, route(8080, "new.example.com")))
			table.AddEndpoint(running("pg", "ig-0", 0))
			Expect(table.SetDesired(desired("pg", 1, 4, route(8080, "old.example.com"))).Empty()).To(BeTrue())
			Expect(table.Registrations().Registrations).To(ConsistOf(reg("new.example.com", "pg", "ig-0", 0, 61000)))
		})

		It("contributes nothing without a cf-router key or with unreadable routes", func() {
			d := desired("pg", 1, 1)
			d.Routes = receptor.RoutingInfo{"tcp-router": json.RawMessage(`[]`)}
			table.SetDesired(d)
			Expect(table.AddEndpoint(running("pg", "ig-0", 0)).Empty()).To(BeTrue())
			d.Routes = receptor.RoutingInfo{routeemitter.CFRouter: json.RawMessage(`{"not":"a list"}`)}
			d.ModificationTag.Index = 2
			Expect(table.SetDesired(d).Empty()).To(BeTrue())
		})
	})

	Describe("actual LRP events", func() {
		BeforeEach(func() { table.SetDesired(desired("pg", 3, 1, route(8080, "a.example.com"))) })

		It("routes only RUNNING instances", func() {
			for _, state := range []string{receptor.ActualLRPStateUnclaimed, receptor.ActualLRPStateClaimed, receptor.ActualLRPStateCrashed} {
				Expect(table.Handle(&receptor.ActualLRPCreatedEvent{ActualLRPResponse: actual("pg", "ig-0", 0, state, 1)}).Empty()).To(BeTrue())
			}
			claimed := actual("pg", "ig-0", 0, receptor.ActualLRPStateClaimed, 1)
			m := table.Handle(&receptor.ActualLRPChangedEvent{Before: claimed, After: actual("pg", "ig-0", 0, receptor.ActualLRPStateRunning, 2)})
			Expect(m.Registrations).To(HaveLen(1))
		})

		It("unregisters an instance that crashes, and one that is removed", func() {
			table.AddEndpoint(actual("pg", "ig-0", 0, receptor.ActualLRPStateRunning, 2))
			table.AddEndpoint(actual("pg", "ig-1", 1, receptor.ActualLRPStateRunning, 2))
			m := table.Handle(&receptor.ActualLRPChangedEvent{
				Before: actual("pg", "ig-0", 0, receptor.ActualLRPStateRunning, 2),
				After:  actual("pg", "ig-0", 0, receptor.ActualLRPStateCrashed, 3)})
			Expect(m.Unregistrations).To(ConsistOf(reg("a.example.com", "pg", "ig-0", 0, 61000)))
			m = table.Handle(&receptor.ActualLRPRemovedEvent{ActualLRPResponse: actual("pg", "ig-1", 1, receptor.ActualLRPStateRunning, 2)})
			Expect(m.Unregistrations).To(ConsistOf(reg("a.example.com", "pg", "ig-1", 1, 61001)))
			Expect(table.RouteCount()).To(BeZero())
		})

		It("keeps an evacuating instance routed beside its replacement, then drops it", func() {
			ordinary := running("pg", "ig-0", 0)
			table.AddEndpoint(ordinary)
			evacuating := ordinary
			evacuating.Evacuating = true
			m := table.Handle(&receptor.ActualLRPChangedEvent{Before: ordinary, After: evacuating})
			// The same instance and address: never unregistered, only refreshed.
			Expect(m.Unregistrations).To(BeEmpty())
			Expect(m.Registrations).To(ConsistOf(stamped(reg("a.example.com", "pg", "ig-0", 0, 61000), 1000)))
			replacement := running("pg", "ig-new", 0)
			replacement.Address = "10.0.0.9"
			m = table.Handle(&receptor.ActualLRPCreatedEvent{ActualLRPResponse: replacement})
			Expect(m.Registrations).To(HaveLen(1))
			Expect(table.RouteCount()).To(Equal(2))
			m = table.Handle(&receptor.ActualLRPRemovedEvent{ActualLRPResponse: evacuating})
			Expect(m.Unregistrations).To(ConsistOf(reg("a.example.com", "pg", "ig-0", 0, 61000)))
			Expect(table.RouteCount()).To(Equal(1))
		})

		It("never unregisters an address that its evacuating record still serves, whatever the event order", func() {
			ordinary := running("pg", "ig-0", 0)
			table.AddEndpoint(ordinary)
			evacuating := ordinary
			evacuating.Evacuating = true
			// The evacuating record appears first, then the ordinary one is
			// replaced by an unclaimed instance.
			m := table.Handle(&receptor.ActualLRPCreatedEvent{ActualLRPResponse: evacuating})
			Expect(m.Unregistrations).To(BeEmpty())
			unclaimed := actual("pg", "", 0, receptor.ActualLRPStateUnclaimed, 2)
			m = table.Handle(&receptor.ActualLRPChangedEvent{Before: ordinary, After: unclaimed})
			Expect(m.Empty()).To(BeTrue(), "10.0.0.1:61000 still serves a.example.com")
			Expect(table.RouteCount()).To(Equal(1))
		})

		It("collapses duplicate events", func() {
			Expect(table.AddEndpoint(running("pg", "ig-0", 0)).Registrations).To(HaveLen(1))
			Expect(table.AddEndpoint(running("pg", "ig-0", 0)).Empty()).To(BeTrue())
			Expect(table.RemoveEndpoint(running("pg", "ig-0", 0)).Unregistrations).To(HaveLen(1))
			Expect(table.RemoveEndpoint(running("pg", "ig-0", 0)).Empty()).To(BeTrue())
		})

		It("ignores a stale change or removal that arrives after a newer record", func() {
			table.AddEndpoint(actual("pg", "ig-0", 0, receptor.ActualLRPStateRunning, 5))
			Expect(table.AddEndpoint(actual("pg", "ig-0", 0, receptor.ActualLRPStateRunning, 3)).Empty()).To(BeTrue())
			Expect(table.RemoveEndpoint(actual("pg", "ig-0", 0, receptor.ActualLRPStateRunning, 4)).Empty()).To(BeTrue())
			Expect(table.RouteCount()).To(Equal(1))
		})

		It("routes an instance index past the desired count only once scaled up", func() {
			Expect(table.AddEndpoint(running("pg", "ig-5", 5)).Empty()).To(BeTrue())
			Expect(table.SetDesired(desired("pg", 6, 2, route(8080, "a.example.com"))).Registrations).To(HaveLen(1))
		})

		It("holds an instance that arrives before its LRP, and routes it when the routes come", func() {
			Expect(table.AddEndpoint(running("other", "ig-x", 0)).Empty()).To(BeTrue())
			Expect(table.HasDesired("other")).To(BeFalse())
			m := table.SetDesired(desired("other", 1, 1, route(8080, "x.example.com")))
			Expect(m.Registrations).To(ConsistOf(reg("x.example.com", "other", "ig-x", 0, 61000)))
		})
	})

	Describe("the periodic re-emit", func() {
		It("lists every (route, endpoint) pair without endpoint_updated_at_ns", func() {
			table.SetDesired(desired("pg", 2, 1, route(8080, "a.example.com"), route(9090, "b.example.com")))
			table.AddEndpoint(running("pg", "ig-0", 0))
			table.AddEndpoint(running("pg", "ig-1", 1))
			Expect(table.Registrations().Registrations).To(ConsistOf(
				reg("a.example.com", "pg", "ig-0", 0, 61000), reg("a.example.com", "pg", "ig-1", 1, 61001),
				reg("b.example.com", "pg", "ig-0", 0, 62000), reg("b.example.com", "pg", "ig-1", 1, 62001)))
		})
	})

	Describe("swapping in a full sync", func() {
		fresh := func(string) bool { return true }
		stale := func(string) bool { return false }

		BeforeEach(func() {
			table.SetDesired(desired("pg", 1, 1, route(8080, "a.example.com")))
			table.AddEndpoint(running("pg", "ig-0", 0))
		})

		It("emits only the difference", func() {
			next := routingtable.New()
			next.SetDesired(desired("pg", 2, 1, route(8080, "a.example.com")))
			next.AddEndpoint(running("pg", "ig-0", 0))
			next.AddEndpoint(running("pg", "ig-1", 1))
			m := table.Swap(next, fresh)
			Expect(m.Unregistrations).To(BeEmpty())
			Expect(m.Registrations).To(ConsistOf(reg("a.example.com", "pg", "ig-1", 1, 61001)))
		})

		It("unregisters what a fresh domain no longer desires", func() {
			m := table.Swap(routingtable.New(), fresh)
			Expect(m.Unregistrations).To(ConsistOf(reg("a.example.com", "pg", "ig-0", 0, 61000)))
			Expect(table.RouteCount()).To(BeZero())
		})

		It("keeps routes a stale domain no longer lists, while their instances run", func() {
			next := routingtable.New()
			next.AddEndpoint(running("pg", "ig-0", 0))
			m := table.Swap(next, stale)
			Expect(m.Empty()).To(BeTrue())
			Expect(table.RouteCount()).To(Equal(1))
		})

		It("still unregisters instances that stopped, even in a stale domain", func() {
			m := table.Swap(routingtable.New(), stale)
			Expect(m.Unregistrations).To(ConsistOf(reg("a.example.com", "pg", "ig-0", 0, 61000)))
		})
	})
})

var _ = Describe("Build", func() {
	It("makes the same table as one change at a time, replaying the events last", func() {
		d := desired("pg", 2, 1, route(8080, "a.example.com"))
		built := routingtable.Build([]receptor.DesiredLRPResponse{d},
			[]receptor.ActualLRPResponse{running("pg", "ig-0", 0), actual("pg", "ig-1", 1, receptor.ActualLRPStateClaimed, 1)},
			[]receptor.Event{&receptor.ActualLRPChangedEvent{
				Before: actual("pg", "ig-1", 1, receptor.ActualLRPStateClaimed, 1), After: actual("pg", "ig-1", 1, receptor.ActualLRPStateRunning, 2)}})
		Expect(built.Registrations().Registrations).To(ConsistOf(
			reg("a.example.com", "pg", "ig-0", 0, 61000), reg("a.example.com", "pg", "ig-1", 1, 61001)))
		// After building, changes produce messages again.
		Expect(built.RemoveEndpoint(running("pg", "ig-0", 0)).Unregistrations).To(HaveLen(1))
	})
})
