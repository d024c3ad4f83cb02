// Package routeemitter holds what the route-emitter and the router share:
// the NATS subjects and the JSON of the router registration protocol
// (spec bridge §6.1, §7). The emitter's pieces live in its subpackages:
// routingtable (pure), watcher (receptor sync and events), emitter (NATS),
// config; router/ is the local cluster's HTTP router.
package routeemitter

// The NATS subjects of the router protocol (spec bridge §6.1).
const (
	RegisterSubject   = "router.register"
	UnregisterSubject = "router.unregister"
	GreetSubject      = "router.greet"
	StartSubject      = "router.start"
)

// RegistryMessage is the body of router.register and router.unregister, in
// the emitter's field order; empty optional fields are omitted.
type RegistryMessage struct {
	Host                    string            `json:"host"`
	Port                    uint32            `json:"port"`
	TLSPort                 uint32            `json:"tls_port,omitempty"`
	URIs                    []string          `json:"uris"`
	Protocol                string            `json:"protocol,omitempty"`
	App                     string            `json:"app,omitempty"`
	RouteServiceURL         string            `json:"route_service_url,omitempty"`
	PrivateInstanceID       string            `json:"private_instance_id,omitempty"`
	PrivateInstanceIndex    string            `json:"private_instance_index,omitempty"`
	ServerCertDomainSAN     string            `json:"server_cert_domain_san,omitempty"`
	StaleThresholdInSeconds int               `json:"stale_threshold_in_seconds,omitempty"`
	EndpointUpdatedAtNs     int64             `json:"endpoint_updated_at_ns,omitempty"`
	Tags                    map[string]string `json:"tags,omitempty"`
}

// RouterStart is the body of router.start, which a router publishes when it
// starts or reconnects and sends as its reply to router.greet.
type RouterStart struct {
	ID                               string   `json:"id"`
	Hosts                            []string `json:"hosts"`
	MinimumRegisterIntervalInSeconds int      `json:"minimumRegisterIntervalInSeconds"`
	PruneThresholdInSeconds          int      `json:"pruneThresholdInSeconds"`
}

// ComponentTag is the tags value of every registration the emitter sends.
var ComponentTag = map[string]string{"component": "route-emitter"}

// CFRouter is the key of DesiredLRP routes that the HTTP router serves.
const CFRouter = "cf-router"

// CFRoute is one element of routes["cf-router"] (spec core §1.2).
type CFRoute struct {
	Hostnames       []string `json:"hostnames"`
	Port            uint32   `json:"port"`
	RouteServiceURL string   `json:"route_service_url,omitempty"`
}
