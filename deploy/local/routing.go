package local

import (
	"fmt"
	"io"
	"time"

	emitterconfig "diego/routeemitter/config"
	routerconfig "diego/routeemitter/router/config"
)

// The routing daemons' ports (shared/spec README).
const (
	RouterPort             = 8081
	RouterStatusPort       = 8082
	RouteEmitterHealthPort = 17011
	// AppsDomain is the local cluster's shared domain: *.localhost names
	// resolve to loopback without DNS (spec bridge §9.5).
	AppsDomain = "apps.localhost"
)

// KindRouting is the route-emitter and the router: stopped first, so
// nothing unregisters routes from a router that is going anyway.
const KindRouting Kind = "routing"

// RouterURL is where the local cluster's router proxies requests.
func (p *Plan) RouterURL() string { return "http://" + hostPort(RouterPort) }

// RouterStatusURL is the router's status port with its credentials, for
// `diego routes`.
func (p *Plan) RouterStatusURL() string {
	d := routerconfig.DefaultConfig()
	return fmt.Sprintf("http://%s:%s@%s", d.StatusUsername, d.StatusPassword, hostPort(RouterStatusPort))
}

// routing is the router (first, so that the emitter's greet is answered)
// and the route-emitter, both on the embedded NATS.
func (p *Plan) routing() []Daemon {
	r := routerconfig.DefaultConfig()
	r.ListenAddr, r.StatusAddress = hostPort(RouterPort), hostPort(RouterStatusPort)
	r.NATSAddresses = hostPort(NATSPort)
	r.LogLevel = p.LogLevel

	e := emitterconfig.DefaultConfig()
	e.ID = "route-emitter-local"
	e.ReceptorURL = p.ReceptorURL
	e.NATSAddresses = hostPort(NATSPort)
	e.ETCD = p.Maker().ETCDBlock("route-emitter")
	e.HealthcheckAddress = hostPort(RouteEmitterHealthPort)
	e.LogLevel = p.LogLevel

	return []Daemon{
		{Name: "router", Binary: "router", Kind: KindRouting, ConfigPath: p.configPath("router"), Config: r,
			Endpoint: p.RouterURL(), StopTimeout: 10 * time.Second},
		{Name: "route-emitter", Binary: "route-emitter", Kind: KindRouting, ConfigPath: p.configPath("route-emitter"), Config: e,
			StopTimeout: 10 * time.Second},
	}
}

// routingPorts are the routing daemons' listeners, for the port check.
func (p *Plan) routingPorts() map[int]string {
	return map[int]string{RouterPort: "router", RouterStatusPort: "router status", RouteEmitterHealthPort: "route-emitter health"}
}

// routingSummary is the routing lines of the endpoint table.
func (p *Plan) routingSummary(tw io.Writer) {
	fmt.Fprintf(tw, "  router\t%s\tapps at http://<route>.%s:%d/; status and /routes on http://%s\n",
		p.RouterURL(), AppsDomain, RouterPort, hostPort(RouterStatusPort))
	fmt.Fprintf(tw, "  route-emitter\thealth http://%s\tholds a lock; registers routes on nats\n", hostPort(RouteEmitterHealthPort))
}

// routingQuickStart is the quick start's routing lines.
func (p *Plan) routingQuickStart() string {
	return fmt.Sprintf("  curl http://hello-lrp.%s:%d/   # once hello-lrp runs\n  bin/diego routes\n", AppsDomain, RouterPort)
}

// routingEnv is env.sh's routing lines.
func (p *Plan) routingEnv() []string {
	return []string{"# bin/diego routes reads the router's status port.", "export " + "DIEGO_ROUTER_STATUS=" + p.RouterStatusURL()}
}
