package boshrender_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	auctioneerconfig "diego/auctioneer/config"
	bbsconfig "diego/bbs/config"
	"diego/bbs/metricsserver"
	fileserverconfig "diego/ccbridge/fileserver/config"
	nsyncconfig "diego/ccbridge/nsync/config"
	stagerconfig "diego/ccbridge/stager/config"
	tpsconfig "diego/ccbridge/tps/config"
	convergerconfig "diego/converger/config"
	"diego/deploy/members"
	executorconfig "diego/executor/config"
	gardenconfig "diego/garden/config"
	metronconfig "diego/metron/agent/config"
	dopplerconfig "diego/metron/doppler/config"
	receptorconfig "diego/receptor/config"
	repconfig "diego/rep/config"
	emitterconfig "diego/routeemitter/config"
	routerconfig "diego/routeemitter/router/config"
	"diego/test/boshrender"
)

const (
	releaseDir = "../../deploy/bosh"
	manifest   = "../../deploy/bosh/manifests/diego.yml"
)

// daemon is what the spec knows of a job's daemon: how it loads (and
// validates) its config, and its defaults, whose keys the rendered config
// must all set. A job that joins the release adds its entry here; the
// structure rules fail for a job without one.
type daemon struct {
	load     func(path string) error
	defaults any
}

var daemons = map[string]daemon{
	"bbs":            {func(p string) error { _, err := bbsconfig.Load(p); return err }, bbsconfig.DefaultConfig()},
	"auctioneer":     {func(p string) error { _, err := auctioneerconfig.Load(p); return err }, auctioneerconfig.DefaultConfig()},
	"converger":      {func(p string) error { _, err := convergerconfig.Load(p); return err }, convergerconfig.DefaultConfig()},
	"metrics-server": {func(p string) error { _, err := metricsserver.LoadConfig(p); return err }, metricsserver.DefaultConfig()},
	"receptor":       {func(p string) error { _, err := receptorconfig.Load(p); return err }, receptorconfig.DefaultConfig()},
	"rep":            {func(p string) error { _, err := repconfig.Load(p); return err }, repconfig.DefaultConfig()},
	"executor":       {func(p string) error { _, err := executorconfig.Load(p); return err }, executorconfig.DefaultConfig()},
	"garden":         {func(p string) error { _, err := gardenconfig.Load(p); return err }, gardenconfig.DefaultConfig()},
	"etcd":           {func(p string) error { _, err := members.LoadETCD(p); return err }, members.DefaultETCDConfig()},
	"nats":           {func(p string) error { _, err := members.LoadNATS(p); return err }, members.DefaultNATSConfig()},
	"route-emitter":  {func(p string) error { _, err := emitterconfig.Load(p); return err }, emitterconfig.DefaultConfig()},
	"router":         {func(p string) error { _, err := routerconfig.Load(p); return err }, routerconfig.DefaultConfig()},
	"metron":         {func(p string) error { _, err := metronconfig.Load(p); return err }, metronconfig.DefaultConfig()},
	"doppler":        {func(p string) error { _, err := dopplerconfig.Load(p); return err }, dopplerconfig.DefaultConfig()},
	"stager":         {func(p string) error { _, err := stagerconfig.Load(p); return err }, stagerconfig.DefaultConfig()},
	"file-server":    {func(p string) error { _, err := fileserverconfig.Load(p); return err }, fileserverconfig.DefaultConfig()},
	"nsync":          {func(p string) error { _, err := nsyncconfig.Load(p); return err }, nsyncconfig.DefaultConfig()},
	"tps":            {func(p string) error { _, err := tpsconfig.Load(p); return err }, tpsconfig.DefaultConfig()},
}

func keysOf(v any) []string {
	data, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	var m map[string]any
	Expect(json.Unmarshal(data, &m)).To(Succeed())
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// The property names a template reads: p("a.b"), p(["a", "b"]), if_p("a",
// "b"); a link's own lookups (link("x").p(...)) are checked against the
// provider instead.
var (
	propertyCall = regexp.MustCompile(`(^|[^\w.])(p|if_p)\(\s*(\[[^\]]*\]|"[^"]*"(?:\s*,\s*"[^"]*")*)`)
	linkCall     = regexp.MustCompile(`link\("([\w-]+)"\)\.(?:p|if_p)\(\s*"([^"]+)"`)
	quoted       = regexp.MustCompile(`"([^"]+)"`)
)

var _ = Describe("the BOSH release in deploy/bosh", func() {
	var release boshrender.Release

	BeforeEach(func() {
		var err error
		release, err = boshrender.ReadRelease(releaseDir)
		Expect(err).NotTo(HaveOccurred())
	})

	Describe("its structure (the rules `bosh create-release` checks)", func() {
		It("names the release in config/final.yml and keeps a blobs.yml", func() {
			Expect(release.Final).To(HaveKeyWithValue("name", "diego"))
			Expect(release.Blobs).NotTo(BeNil())
		})

		It("has a spec, a monit file and every listed template for each job, named as its directory", func() {
			Expect(release.Jobs).NotTo(BeEmpty())
			for name, job := range release.Jobs {
				Expect(job.Spec).NotTo(BeNil(), "jobs/%s/spec", name)
				Expect(job.Spec["name"]).To(Equal(name), "jobs/%s/spec name", name)
				Expect(job.Monit).NotTo(BeNil(), "jobs/%s/monit", name)
				Expect(*job.Monit).To(ContainSubstring("check process "+name), "jobs/%s/monit", name)
				templates, ok := job.Spec["templates"].(map[string]any)
				Expect(ok).To(BeTrue(), "jobs/%s/spec templates", name)
				for src := range templates {
					Expect(job.Templates).To(HaveKey(src), "jobs/%s/templates/%s is listed but missing", name, src)
				}
				for src := range job.Templates {
					Expect(templates).To(HaveKey(src), "jobs/%s/templates/%s is not listed in the spec", name, src)
				}
				Expect(templates).To(HaveKeyWithValue(name+".json.erb", "config/"+name+".json"), "jobs/%s: the daemon's config", name)
				Expect(templates).To(HaveKeyWithValue("bpm.yml.erb", "config/bpm.yml"), "jobs/%s", name)
				for _, pkg := range job.Spec["packages"].([]any) {
					Expect(release.Packages).To(HaveKey(pkg), "jobs/%s uses package %s", name, pkg)
				}
			}
		})

		It("declares every property a template reads, and every link property a consumer reads is shared by its provider", func() {
			provided := map[string][]string{} // link type -> shared properties
			for _, job := range release.Jobs {
				for _, p := range asList(job.Spec["provides"]) {
					prov := p.(map[string]any)
					for _, prop := range asList(prov["properties"]) {
						provided[prov["type"].(string)] = append(provided[prov["type"].(string)], prop.(string))
					}
				}
			}
			for name, job := range release.Jobs {
				declared := job.Spec["properties"].(map[string]any)
				consumes := map[string]string{}
				for _, c := range asList(job.Spec["consumes"]) {
					consumes[c.(map[string]any)["name"].(string)] = c.(map[string]any)["type"].(string)
				}
				for src, text := range job.Templates {
					for _, m := range propertyCall.FindAllStringSubmatch(text, -1) {
						for _, q := range quoted.FindAllStringSubmatch(m[3], -1) {
							Expect(declared).To(HaveKey(q[1]), "jobs/%s/templates/%s reads undeclared property %s", name, src, q[1])
						}
					}
					for _, m := range linkCall.FindAllStringSubmatch(text, -1) {
						Expect(consumes).To(HaveKey(m[1]), "jobs/%s/templates/%s uses link %s it does not consume", name, src, m[1])
						Expect(provided[consumes[m[1]]]).To(ContainElement(m[2]),
							"jobs/%s/templates/%s reads %s of link %s, which no provider shares", name, src, m[2], m[1])
					}
				}
				for prop, decl := range declared {
					Expect(decl).To(HaveKey("description"), "jobs/%s property %s is undocumented", name, prop)
				}
			}
		})

		It("builds every job's binary in a package with a packaging script, from source with the golang package", func() {
			for name, pkg := range release.Packages {
				Expect(pkg.Spec["name"]).To(Equal(name), "packages/%s/spec name", name)
				Expect(pkg.Packaging).To(BeTrue(), "packages/%s/packaging", name)
				for _, dep := range asList(pkg.Spec["dependencies"]) {
					Expect(release.Packages).To(HaveKey(dep), "packages/%s depends on %s", name, dep)
				}
			}
			Expect(asList(release.Packages["diego"].Spec["dependencies"])).To(ContainElement("golang"))
			packaging, err := os.ReadFile(filepath.Join(releaseDir, "packages/diego/packaging"))
			Expect(err).NotTo(HaveOccurred())
			for name, job := range release.Jobs {
				bpm := job.Templates["bpm.yml.erb"]
				m := regexp.MustCompile(`executable: /var/vcap/packages/diego/bin/([\w-]+)`).FindStringSubmatch(bpm)
				Expect(m).NotTo(BeNil(), "jobs/%s/templates/bpm.yml.erb runs no diego binary", name)
				Expect(string(packaging)).To(MatchRegexp(`\./cmd/`+m[1]+`(\s|$)`), "packages/diego/packaging does not build %s for job %s", m[1], name)
				Expect(filepath.Join("../../cmd", m[1], "main.go")).To(BeAnExistingFile())
			}
		})

		It("knows how to validate the config of every job (a new job adds its daemon to this spec)", func() {
			for name := range release.Jobs {
				Expect(daemons).To(HaveKey(name), "job %s", name)
			}
		})
	})

	Describe("rendering the example manifest", func() {
		var (
			jobs []boshrender.Job
			dir  string
		)

		BeforeEach(func() {
			vars, err := boshrender.Variables(manifest)
			Expect(err).NotTo(HaveOccurred())
			values, err := boshrender.Generate(vars)
			Expect(err).NotTo(HaveOccurred())
			jobs, err = boshrender.Render(releaseDir, manifest, values, nil)
			Expect(err).NotTo(HaveOccurred())
			dir = GinkgoT().TempDir()
		})

		It("renders every job of every instance of the groups", func() {
			count := map[string]int{}
			for _, j := range jobs {
				count[j.InstanceGroup+"/"+j.Job]++
			}
			Expect(count).To(Equal(map[string]int{
				"etcd/etcd": 3, "nats/nats": 3, "database/bbs": 2,
				"brain/auctioneer": 2, "brain/converger": 2, "brain/metrics-server": 2,
				"access/receptor": 2, "access/route-emitter": 2, "access/router": 2, "access/doppler": 2,
				"cell/garden": 3, "cell/executor": 3, "cell/rep": 3,
				"cc-bridge/stager": 2, "cc-bridge/file-server": 2, "cc-bridge/nsync": 2, "cc-bridge/tps": 2,
				// metron runs on every VM, so each envelope leaves its VM signed.
				"etcd/metron": 3, "nats/metron": 3, "database/metron": 2, "brain/metron": 2,
				"access/metron": 2, "cell/metron": 3, "cc-bridge/metron": 2,
			}))
		})

		It("gives every daemon a config that sets every key and passes its Validate", func() {
			for _, j := range jobs {
				text, ok := j.Files["config/"+j.Job+".json"]
				Expect(ok).To(BeTrue(), "%s/%d %s", j.InstanceGroup, j.Index, j.Job)
				path := filepath.Join(dir, j.InstanceGroup+"-"+j.Job+".json")
				Expect(os.WriteFile(path, []byte(text), 0o600)).To(Succeed())
				d := daemons[j.Job]
				Expect(d.load(path)).To(Succeed(), "%s/%d %s:\n%s", j.InstanceGroup, j.Index, j.Job, text)
				var rendered map[string]any
				Expect(json.Unmarshal([]byte(text), &rendered)).To(Succeed())
				Expect(keysOf(rendered)).To(Equal(keysOf(d.defaults)), "%s sets exactly its daemon's keys", j.Job)
			}
		})

		It("uses mutual TLS for the BBS, the auctioneer, the reps, etcd and NATS (and a shared secret for metron), with the certificates written beside each config", func() {
			for _, j := range jobs {
				var cfg map[string]any
				Expect(json.Unmarshal([]byte(j.Files["config/"+j.Job+".json"]), &cfg)).To(Succeed())
				var files []string
				switch j.Job {
				case "bbs":
					files = []string{cfg["ca_file"].(string), cfg["cert_file"].(string),
						cfg["auctioneer_ca_cert"].(string), cfg["auctioneer_client_cert"].(string), cfg["auctioneer_client_key"].(string),
						cfg["rep_ca_cert"].(string), cfg["rep_client_cert"].(string), cfg["rep_client_key"].(string)}
					Expect(cfg["auctioneer_require_tls"]).To(BeTrue())
					Expect(cfg["rep_require_tls"]).To(BeTrue())
					Expect(cfg["etcd"].(map[string]any)["endpoints"]).To(ConsistOf(
						"https://10.244.0.2:2379", "https://10.244.0.3:2379", "https://10.244.0.4:2379"))
				case "auctioneer", "converger", "rep":
					Expect(cfg["bbs_address"]).To(Equal("https://bbs.service.cf.internal:8889"))
					files = []string{cfg["bbs_client_cert_file"].(string), cfg["etcd"].(map[string]any)["cert_file"].(string)}
					switch j.Job {
					case "auctioneer":
						files = append(files, cfg["ca_cert_file"].(string), cfg["server_cert_file"].(string), cfg["server_key_file"].(string),
							cfg["rep_ca_cert"].(string), cfg["rep_client_cert"].(string), cfg["rep_client_key"].(string))
						Expect(cfg["rep_require_tls"]).To(BeTrue())
					case "rep":
						files = append(files, cfg["ca_cert_file"].(string), cfg["server_cert_file"].(string), cfg["server_key_file"].(string))
						Expect(cfg["require_tls"]).To(BeTrue())
						Expect(cfg["listen_addr"]).To(Equal("127.0.0.1:1800"))
						Expect(cfg["listen_addr_securable"]).To(Equal("0.0.0.0:1801"))
					}
				case "receptor", "metrics-server":
					files = []string{cfg["bbs_client_cert_file"].(string)}
				case "route-emitter", "router":
					Expect(cfg["nats_addresses"]).To(Equal("10.244.0.5:4222,10.244.0.6:4222,10.244.0.7:4222"))
					files = []string{cfg["nats_ca_cert_file"].(string), cfg["nats_client_cert_file"].(string), cfg["nats_client_key_file"].(string)}
					if j.Job == "route-emitter" {
						files = append(files, cfg["etcd"].(map[string]any)["cert_file"].(string))
					}
				case "nsync", "tps":
					Expect(cfg["etcd"].(map[string]any)["endpoints"]).To(ConsistOf(
						"https://10.244.0.2:2379", "https://10.244.0.3:2379", "https://10.244.0.4:2379"))
					files = []string{cfg["etcd"].(map[string]any)["ca_file"].(string), cfg["etcd"].(map[string]any)["cert_file"].(string)}
				case "metron", "doppler":
					Expect(cfg["shared_secret"]).NotTo(BeEmpty())
				case "etcd":
					files = []string{cfg["cert_file"].(string), cfg["peer_cert_file"].(string)}
					Expect(cfg["initial_cluster"]).To(Equal("etcd-0=https://10.244.0.2:2380,etcd-1=https://10.244.0.3:2380,etcd-2=https://10.244.0.4:2380"))
				case "nats":
					files = []string{cfg["cert_file"].(string)}
					Expect(cfg["routes"]).To(HaveLen(2))
				}
				for _, f := range files {
					rel := strings.TrimPrefix(f, "/var/vcap/jobs/"+j.Job+"/")
					Expect(j.Files).To(HaveKey(rel), "%s names %s", j.Job, f)
					Expect(j.Files[rel]).To(HavePrefix("-----BEGIN "), "%s: %s", j.Job, rel)
				}
			}
		})

		It("has a systemd unit for every job, and install.sh roles that install exactly each group's jobs", func() {
			script, err := os.ReadFile("../../deploy/vm/install.sh")
			Expect(err).NotTo(HaveOccurred())
			roles := map[string][]string{}
			for _, m := range regexp.MustCompile(`(?m)^\s+([\w-]+)\) units=\(([^)]*)\) ;;`).FindAllStringSubmatch(string(script), -1) {
				roles[m[1]] = strings.Fields(m[2])
			}
			groups := map[string][]string{}
			for _, j := range jobs {
				if j.Index == 0 {
					groups[j.InstanceGroup] = append(groups[j.InstanceGroup], j.Job)
				}
			}
			Expect(roles).To(HaveLen(len(groups)))
			for group, js := range groups {
				Expect(roles[group]).To(ConsistOf(js), "install.sh role %s", group)
			}
			for name := range release.Jobs {
				unit, err := os.ReadFile(filepath.Join("../../deploy/systemd", "diego-"+name+".service"))
				Expect(err).NotTo(HaveOccurred(), "job %s has no unit", name)
				bin := name
				if name == "etcd" || name == "nats" {
					bin = "diego-" + name
				}
				Expect(string(unit)).To(ContainSubstring("\nExecStart=/usr/local/bin/"+bin+" -config /etc/diego/"+name+"/config/"+name+".json\n"), "diego-%s.service", name)
				Expect(string(unit)).To(ContainSubstring("\nLimitNOFILE="), "diego-%s.service", name)
			}
		})

		It("gives instances their own identities from spec.*", func() {
			var cellIDs, auctioneerAddrs []string
			for _, j := range jobs {
				var cfg map[string]any
				Expect(json.Unmarshal([]byte(j.Files["config/"+j.Job+".json"]), &cfg)).To(Succeed())
				switch j.Job {
				case "rep":
					cellIDs = append(cellIDs, cfg["cell_id"].(string))
					// The admin listener is loopback, but the presence names the
					// instance's address (spec: http://<ip>:1800); remote clients
					// use the securable rep_url.
					Expect(cfg["rep_address"]).To(Equal("http://" + j.Address + ":1800"))
					Expect(cfg["rep_url"]).To(Equal("https://" + j.Address + ":1801"))
				case "auctioneer":
					auctioneerAddrs = append(auctioneerAddrs, cfg["advertise_address"].(string))
				}
			}
			Expect(cellIDs).To(ConsistOf("cell-0", "cell-1", "cell-2"))
			Expect(auctioneerAddrs).To(ConsistOf("https://10.244.0.20:9016", "https://10.244.0.21:9016"))
		})
	})

	Describe("the renderer's BOSH semantics", func() {
		render := func(template string, props map[string]any, ops []boshrender.Op) (string, error) {
			dir := GinkgoT().TempDir()
			job := filepath.Join(dir, "jobs", "j")
			Expect(os.MkdirAll(filepath.Join(job, "templates"), 0o755)).To(Succeed())
			Expect(os.WriteFile(filepath.Join(job, "spec"), []byte(`---
name: j
templates: {t.erb: out}
properties:
  a.b: {description: x, default: 1}
  a.c: {description: x}
  a.d: {description: x}
`), 0o644)).To(Succeed())
			Expect(os.WriteFile(filepath.Join(job, "monit"), []byte("check process j\n"), 0o644)).To(Succeed())
			Expect(os.WriteFile(filepath.Join(job, "templates", "t.erb"), []byte(template), 0o644)).To(Succeed())
			propsJSON, _ := json.Marshal(props)
			m := filepath.Join(dir, "m.yml")
			Expect(os.WriteFile(m, []byte(`{"name": "d", "instance_groups": [{"name": "g", "instances": 2, "azs": ["z1", "z2"],
 "networks": [{"name": "n", "static_ips": ["10.0.0.1", "10.0.0.2"]}],
 "jobs": [{"name": "j", "properties": `+string(propsJSON)+`}]}]}`), 0o644)).To(Succeed())
			jobs, err := boshrender.Render(dir, m, map[string]any{"v": map[string]any{"k": "secret"}}, ops)
			if err != nil {
				return "", err
			}
			var outs []string
			for _, j := range jobs {
				outs = append(outs, j.Files["out"])
			}
			return strings.Join(outs, "|"), nil
		}

		It("gives p the manifest's value, else the spec's default, and fails for an unset property without one", func() {
			Expect(render(`<%= p("a.b") %>`, map[string]any{}, nil)).To(Equal("1|1"))
			Expect(render(`<%= p("a.b") %>`, map[string]any{"a": map[string]any{"b": 7}}, nil)).To(Equal("7|7"))
			Expect(render(`<%= p("a.c", "dflt") %>`, map[string]any{}, nil)).To(Equal("dflt|dflt"))
			Expect(render(`<%= p(["a.c", "a.b"]) %>`, map[string]any{}, nil)).To(Equal("1|1"))
			_, err := render(`<%= p("a.c") %>`, map[string]any{}, nil)
			Expect(err).To(MatchError(ContainSubstring("Can't find property 'a.c'")))
		})

		It("runs if_p's block only when every property is set, and its else otherwise", func() {
			Expect(render(`<% if_p("a.c") do |c| %>set <%= c %><% end.else do %>unset<% end %>`, map[string]any{}, nil)).To(Equal("unset|unset"))
			Expect(render(`<% if_p("a.c", "a.b") do |c, b| %><%= c %><%= b %><% end %>`,
				map[string]any{"a": map[string]any{"c": "x"}}, nil)).To(Equal("x1|x1"))
		})

		It("describes the instance in spec.*, and interpolates ((variables)) after ops", func() {
			Expect(render(`<%= spec.name %>/<%= spec.index %>/<%= spec.az %>/<%= spec.address %>/<%= spec.bootstrap %>/<%= spec.deployment %>`, map[string]any{}, nil)).
				To(Equal("g/0/z1/10.0.0.1/true/d|g/1/z2/10.0.0.2/false/d"))
			Expect(render(`<%= p("a.c") %>`, map[string]any{}, []boshrender.Op{
				{Type: "replace", Path: "/instance_groups/name=g/jobs/name=j/properties/a?/c", Value: "((v.k))"},
			})).To(Equal("secret|secret"))
		})

		It("removes an array element by name=value, and fails when none matches", func() {
			Expect(render(`<%= p("a.b") %>`, map[string]any{}, []boshrender.Op{
				{Type: "remove", Path: "/instance_groups/name=g/jobs/name=j"},
			})).To(Equal(""))
			_, err := render(`<%= p("a.b") %>`, map[string]any{}, []boshrender.Op{
				{Type: "remove", Path: "/instance_groups/name=g/jobs/name=nope"},
			})
			Expect(err).To(MatchError(ContainSubstring("no element with name=nope")))
		})

		It("drops properties the spec does not declare", func() {
			_, err := render(`<%= p("a.zz") %>`, map[string]any{"a": map[string]any{"zz": 1}}, nil)
			Expect(err).To(HaveOccurred())
		})
	})
})

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
