// Package archtest enforces the import rules of DESIGN.md §3 on the source
// tree, so that a forbidden dependency fails `make test` instead of
// surviving review.
package archtest

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Components are the top-level directories that are diego components: each
// may reach another only through that one's client (or its root package,
// which holds the route table and wire types).
var Components = []string{
	"bbs", "rep", "executor", "garden", "auctioneer", "converger", "receptor",
	"ccbridge", "routeemitter", "metron",
}

// Package is one Go package: its import path and what its non-test files import.
type Package struct {
	Path    string
	Imports []string
}

// Violation is one broken rule.
type Violation struct {
	Package, Import, Rule string
}

func (v Violation) String() string {
	if v.Import == "" {
		return fmt.Sprintf("%s: %s", v.Package, v.Rule)
	}
	return fmt.Sprintf("%s imports %s: %s", v.Package, v.Import, v.Rule)
}

// Load reads the non-test Go files under root, a module whose path is module.
func Load(root, module string) ([]Package, error) {
	byDir := map[string]map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || name == "bin" || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return fmt.Errorf("parsing %s: %w", p, err)
		}
		dir := filepath.Dir(p)
		if byDir[dir] == nil {
			byDir[dir] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			ip, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return fmt.Errorf("%s: bad import %s", p, imp.Path.Value)
			}
			byDir[dir][ip] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var pkgs []Package
	for dir, imports := range byDir {
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			return nil, err
		}
		p := Package{Path: path.Join(module, filepath.ToSlash(rel))}
		for ip := range imports {
			p.Imports = append(p.Imports, ip)
		}
		slices.Sort(p.Imports)
		pkgs = append(pkgs, p)
	}
	slices.SortFunc(pkgs, func(a, b Package) int { return strings.Compare(a.Path, b.Path) })
	return pkgs, nil
}

// natsDaemonRouter is a daemon of its own inside the routeemitter
// component (cmd/router): it may open its own NATS connection.
const natsDaemonRouter = "routeemitter/router"

// Check applies every rule to pkgs of module and returns what it finds.
func Check(module string, pkgs []Package) []Violation {
	var out []Violation
	natsUsers := map[string][]string{} // component → packages importing nats.go
	for _, p := range pkgs {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.Path, module), "/")
		top, _, _ := strings.Cut(rel, "/")
		base := path.Base(rel)
		if top != "test" && (base == "util" || base == "common" || base == "helpers") {
			out = append(out, Violation{Package: p.Path, Rule: "no package named util, common or helpers outside test/"})
		}
		for _, ip := range p.Imports {
			if rule := importRule(module, rel, top, ip); rule != "" {
				out = append(out, Violation{Package: p.Path, Import: ip, Rule: rule})
			}
			if ip == "github.com/nats-io/nats.go" && top != "test" {
				daemon := top
				if rel == natsDaemonRouter || strings.HasPrefix(rel, natsDaemonRouter+"/") {
					daemon = natsDaemonRouter
				}
				natsUsers[daemon] = append(natsUsers[daemon], p.Path)
			}
		}
	}
	for top, users := range natsUsers {
		if len(users) > 1 {
			out = append(out, Violation{Package: strings.Join(users, ", "),
				Rule: fmt.Sprintf("only one package of %s may open a NATS connection", top)})
		}
	}
	return out
}

// importRule returns the rule that importing ip from package rel (under the
// top-level directory top) breaks, or "".
func importRule(module, rel, top, ip string) string {
	internal := ip == module || strings.HasPrefix(ip, module+"/")
	target := strings.TrimPrefix(strings.TrimPrefix(ip, module), "/")
	targetTop, _, _ := strings.Cut(target, "/")
	launcher := top == "test" || slices.Contains(Launchers, rel) || strings.HasPrefix(rel, "deploy/local/")

	switch {
	case top == "models" && internal:
		return "models imports nothing from this repository"
	case isClient(rel) && internal && !clientMayImport(rel, target):
		return "a client package imports only models, its own component's route table and the shared routes, TLS and SSE helpers"
	case strings.HasPrefix(ip, "go.etcd.io/etcd/client/") && !(rel == "bbs/db/etcddb" || rel == "bbs/lock" || top == "test"):
		return "only bbs/db/etcddb and bbs/lock import the etcd client"
	case strings.HasPrefix(ip, "go.etcd.io/etcd/server/") && !launcher:
		return "only test/ helpers and the local-cluster launcher import the embedded etcd server"
	case strings.HasPrefix(ip, "github.com/nats-io/nats-server/") && !launcher:
		return "only test/ helpers and the local-cluster launcher import the embedded NATS server"
	case internal && targetTop == "test" && top != "test" && !(launcher && (target == "test/certauthority" || target == "test/boshrender")):
		return "production code never imports test/ (a launcher only its certificates, test/certauthority, and the BOSH renderer, test/boshrender)"
	case internal && (target == "deploy/cluster" || target == "deploy/local") && !launcher && rel != "deploy/cluster":
		return "only the launchers (deploy/local, cmd/diego-local) and test/ build daemon configs (deploy/cluster) or run the local cluster"
	case top == "cmd" && internal && !cmdMayImport(rel, target):
		return "cmd/<daemon> imports only its own component, the deploy/ kit, models, other components' clients and route tables, bbs/lock and the metron emitter"
	case internal && slices.Contains(Components, top) && slices.Contains(Components, targetTop) && targetTop != top &&
		!crossComponentAllowed(target):
		return "a component reaches another only through its client (or route table), bbs/lock and the metron emitter"
	}
	return ""
}

// Launchers may embed etcd and NATS servers and use the test tree's
// certificates and BOSH renderer: the local cluster, the multi-VM cluster,
// and the etcd and NATS members those run.
var Launchers = []string{
	"deploy/local", "cmd/diego-local", "deploy/multivm", "cmd/diego-multivm",
	"deploy/members", "cmd/diego-etcd", "cmd/diego-nats",
}

// Kit are the deploy/ packages every daemon shares (deploy/README.md); the
// rest of deploy/ are launchers.
var Kit = []string{
	"deploy/clock", "deploy/config", "deploy/daemon", "deploy/dialer", "deploy/httpserver", "deploy/logging", "deploy/routes",
	"deploy/sse", "deploy/tarball", "deploy/tlsconfig",
}

// cmdComponents maps a cmd/<name> whose component has another name to it.
var cmdComponents = map[string]string{
	"metrics-server":   "bbs/metricsserver",
	"diego":            "receptor/cli",
	"diego-local":      "deploy/local",
	"doppler":          "metron",
	"nsync":            "ccbridge/nsync",
	"tps":              "ccbridge/tps",
	"route-emitter":    "routeemitter",
	"router":           "routeemitter/router",
	"stager":           "ccbridge/stager",
	"file-server":      "ccbridge/fileserver",
	"diego-multivm":    "deploy/multivm",
	"diego-etcd":       "deploy/members",
	"diego-nats":       "deploy/members",
	"cloud-controller": "ccbridge/cloudcontroller",
}

// cmdMayImport: a daemon's main imports its own component (or its own
// cmd/<name>/... packages), the kit, models, and what any component may
// reach in another: clients, route tables, bbs/lock, the metron emitter.
func cmdMayImport(rel, target string) bool {
	parts := strings.Split(rel, "/")
	if len(parts) < 2 {
		return true
	}
	name := parts[1]
	own, ok := cmdComponents[name]
	if !ok {
		own = name
	}
	for _, mine := range []string{own, "cmd/" + name} {
		if target == mine || strings.HasPrefix(target, mine+"/") {
			return true
		}
	}
	if target == "models" || strings.HasPrefix(target, "models/") || slices.Contains(Kit, target) {
		return true
	}
	targetTop, _, _ := strings.Cut(target, "/")
	return slices.Contains(Components, targetTop) && crossComponentAllowed(target)
}

func isClient(rel string) bool {
	return path.Base(rel) == "client" && slices.Contains(Components, strings.Split(rel, "/")[0])
}

// clientMayImport: models, its own component's root package (the route
// table), and the shared route, TLS and dial helpers.
func clientMayImport(rel, target string) bool {
	own := strings.Split(rel, "/")[0]
	if own == "metron" && target == "metron/events" { // the envelopes are metron's models
		return true
	}
	return target == "models" || strings.HasPrefix(target, "models/") || target == own ||
		target == "deploy/routes" || target == "deploy/tlsconfig" || target == "deploy/sse" || target == "deploy/dialer"
}

func crossComponentAllowed(target string) bool {
	// ccbridge/ccclient is the Cloud Controller's client: a client like any
	// other. The executor's in-process health checks share the healthcheck
	// binary's probe, a leaf library (ccbridge/lifecycle/healthcheck).
	if target == "ccbridge/ccclient" || target == "ccbridge/lifecycle/healthcheck" ||
		target == "bbs/lock" || target == "metron" || strings.HasPrefix(target, "metron/emitter") || target == "metron/events" {
		return true
	}
	_, rest, _ := strings.Cut(target, "/")
	return rest == "" || rest == "client"
}
