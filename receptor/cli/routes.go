package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// EnvRouterStatus stands in for the routes command's --router flag.
const EnvRouterStatus = "DIEGO_ROUTER_STATUS"

// DefaultRouterStatus is the local cluster's router status port, with the
// router's default status credentials.
const DefaultRouterStatus = "http://admin:admin@127.0.0.1:8082"

// routeEndpoint is one endpoint of the router's GET /routes.
type routeEndpoint struct {
	Address              string `json:"address"`
	TLS                  bool   `json:"tls"`
	TTL                  int    `json:"ttl"`
	App                  string `json:"app,omitempty"`
	PrivateInstanceID    string `json:"private_instance_id,omitempty"`
	PrivateInstanceIndex string `json:"private_instance_index,omitempty"`
}

// routesCmd lists the router's table: not a receptor call, but the router's
// status port (spec bridge §9.5), so that people see what the route-emitter
// registered.
func routesCmd(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("routes", flag.ContinueOnError)
	status := fs.String("router", orDefault(a.io.Getenv(EnvRouterStatus), DefaultRouterStatus),
		"the router's status URL, with user:password (or $"+EnvRouterStatus+")")
	if _, err := parse(fs, args, 0, 0, "no arguments"); err != nil {
		return err
	}
	u, err := url.Parse(*status)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{fmt.Sprintf("--router %q must be a URL such as %s", *status, DefaultRouterStatus)}
	}
	user := u.User
	u.User = nil
	u.Path = strings.TrimSuffix(u.Path, "/") + "/routes"
	req, err := http.NewRequestWithContext(ctx, "GET", u.String(), nil)
	if err != nil {
		return err
	}
	if user != nil {
		pass, _ := user.Password()
		req.SetBasicAuth(user.Username(), pass)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		reason := "it does not answer"
		if strings.Contains(err.Error(), "refused") {
			reason = "nothing listens there"
		}
		return fmt.Errorf("cannot reach the router's status port at %s: %s (set --router or $%s)", u.Redacted(), reason, EnvRouterStatus)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return errors.New("the router refused the status credentials: put user:password in --router or $" + EnvRouterStatus)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("the router answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var routes map[string][]routeEndpoint
	if err := json.Unmarshal(body, &routes); err != nil {
		return fmt.Errorf("the router's /routes is not a routing table: %w", err)
	}
	uris := make([]string, 0, len(routes))
	for uri := range routes {
		uris = append(uris, uri)
	}
	sort.Strings(uris)
	var rows [][]string
	for _, uri := range uris {
		for _, e := range routes[uri] {
			rows = append(rows, []string{uri, e.Address, orDefault(e.PrivateInstanceIndex, "-"),
				orDefault(e.PrivateInstanceID, "-"), orDefault(e.App, "-")})
		}
	}
	return a.table(routes, "ROUTE\tADDRESS\tINDEX\tINSTANCE GUID\tAPP", rows)
}
