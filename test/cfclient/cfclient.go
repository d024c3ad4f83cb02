// Package cfclient makes the cf CLI v6's calls to the Cloud Controller
// (spec cloud-controller.md), one method per command, in the CLI's order,
// and asserts every field the spec marks required. The cf CLI itself is not
// installable here; this stands in for it in tests.
package cfclient

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/gorilla/websocket"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	"diego/metron/events"
)

// Client makes the cf CLI v6's calls (spec cloud-controller.md), one
// method per command, and asserts the fields the CLI requires.
type Client struct {
	URL          string
	Token        string
	Refresh      string
	Org, Space   string
	Calls        []string
	LastStatus   int
	LastResponse map[string]any
	// Matched is how many files the last PushFiles left out of its zip
	// because the resource match found them.
	Matched int
}

type Obj = map[string]any

func (c *Client) Raw(method, path string, body io.Reader, ctype string, auth string) (int, []byte) {
	req, err := http.NewRequest(method, c.URL+path, body)
	Expect(err).NotTo(HaveOccurred())
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	blob := resp.StatusCode == 200 && (strings.HasSuffix(path, "/download") || strings.HasPrefix(path, "/staging/apps/"))
	if resp.StatusCode != 204 && !strings.HasPrefix(path, "/uaa") && !blob {
		Expect(resp.Header.Get("Content-Type")).To(Equal("application/json;charset=utf-8"), path)
	}
	c.Calls = append(c.Calls, method+" "+path)
	return resp.StatusCode, b
}

// do sends JSON with the bearer token and decodes the answer.
func (c *Client) Do(method, path string, body any) (int, Obj) {
	var r io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			r = strings.NewReader(b)
		default:
			raw, err := json.Marshal(b)
			Expect(err).NotTo(HaveOccurred())
			r = bytes.NewReader(raw)
		}
	}
	status, b := c.Raw(method, path, r, "application/json", "bearer "+c.Token)
	var out Obj
	if len(b) > 0 {
		Expect(json.Unmarshal(b, &out)).To(Succeed(), string(b))
	}
	c.LastStatus, c.LastResponse = status, out
	return status, out
}

func (c *Client) Must(status int, method, path string, body any) Obj {
	s, out := c.Do(method, path, body)
	ExpectWithOffset(1, s).To(Equal(status), "%s %s: %v", method, path, out)
	return out
}

func Entity(o Obj) Obj    { return o["entity"].(Obj) }
func GuidOf(o Obj) string { return o["metadata"].(Obj)["guid"].(string) }
func Resources(o Obj) []any {
	return o["resources"].([]any)
}

func ExpectKeys(o Obj, keys ...string) {
	for _, k := range keys {
		ExpectWithOffset(1, o).To(HaveKey(k))
	}
}

// cf api
func (c *Client) API() Obj {
	s, b := c.Raw("GET", "/v2/info", nil, "", "")
	Expect(s).To(Equal(200))
	var info Obj
	Expect(json.Unmarshal(b, &info)).To(Succeed())
	Expect(info["api_version"]).To(Equal("2.54.0"))
	Expect(info["authorization_endpoint"]).To(Equal(c.URL + "/uaa"))
	Expect(info["doppler_logging_endpoint"]).To(BeAssignableToTypeOf(""))
	return info
}

// cf login -u admin -p PASSWORD (then auto-targets the one org and space)
func (c *Client) Login(user, password string) {
	c.API()
	s, b := c.Raw("GET", "/uaa/login", nil, "", "")
	Expect(s).To(Equal(200))
	var login Obj
	Expect(json.Unmarshal(b, &login)).To(Succeed())
	prompts := login["prompts"].(Obj)
	Expect(prompts["username"]).To(Equal([]any{"text", "Username"}))
	Expect(prompts["password"]).To(Equal([]any{"password", "Password"}))
	tok := c.TokenRequest(url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}, "scope": {""}})
	Expect(tok).To(HaveKey("access_token"))
	Expect(tok["token_type"]).To(Equal("bearer"))
	Expect(tok).NotTo(HaveKey("error"))
	c.Token, c.Refresh = tok["access_token"].(string), tok["refresh_token"].(string)

	orgs := c.Must(200, "GET", "/v2/organizations?order-by=name", nil)
	Expect(Resources(orgs)).To(HaveLen(1))
	org := Resources(orgs)[0].(Obj)
	Expect(Entity(org)["name"]).To(Equal("diego"))
	c.Org = GuidOf(org)
	spaces := c.Must(200, "GET", "/v2/organizations/"+c.Org+"/spaces?order-by=name&inline-relations-depth=1", nil)
	Expect(Resources(spaces)).To(HaveLen(1))
	space := Resources(spaces)[0].(Obj)
	ExpectKeys(Entity(space), "name", "allow_ssh")
	c.Space = GuidOf(space)
}

func (c *Client) TokenRequest(form url.Values) Obj {
	req, err := http.NewRequest("POST", c.URL+"/uaa/oauth/token", strings.NewReader(form.Encode()))
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic Y2Y6")
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	c.LastStatus = resp.StatusCode
	var out Obj
	Expect(json.NewDecoder(resp.Body).Decode(&out)).To(Succeed())
	return out
}

// cf target -o diego -s dev
func (c *Client) Target(org, space string) {
	orgs := c.Must(200, "GET", "/v2/organizations?q=name%3A"+url.QueryEscape(strings.ToLower(org))+"&inline-relations-depth=1", nil)
	Expect(Resources(orgs)).To(HaveLen(1))
	c.Org = GuidOf(Resources(orgs)[0].(Obj))
	spaces := c.Must(200, "GET", "/v2/organizations/"+c.Org+"/spaces?q=name%3A"+url.QueryEscape(strings.ToLower(space))+"&inline-relations-depth=1", nil)
	Expect(Resources(spaces)).To(HaveLen(1))
	c.Space = GuidOf(Resources(spaces)[0].(Obj))
}

// findApp is every app command's lookup; nil when absent.
func (c *Client) FindApp(name string) Obj {
	list := c.Must(200, "GET", "/v2/spaces/"+c.Space+"/apps?q=name%3A"+url.QueryEscape(name)+"&inline-relations-depth=1", nil)
	if len(Resources(list)) == 0 {
		return nil
	}
	app := Resources(list)[0].(Obj)
	e := Entity(app)
	ExpectKeys(e, "name", "space_guid", "stack_guid", "state", "instances", "memory", "disk_quota", "command",
		"detected_start_command", "buildpack", "detected_buildpack", "package_state", "staging_failed_reason",
		"staging_failed_description", "package_updated_at", "environment_json", "routes", "stack")
	return app
}

// appZip zips files (name → content), run.sh executable.
func AppZip(files map[string]string) []byte {
	buf := &bytes.Buffer{}
	zw := zip.NewWriter(buf)
	for name, body := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			h.SetMode(0o755)
		}
		w, err := zw.CreateHeader(h)
		Expect(err).NotTo(HaveOccurred())
		_, _ = w.Write([]byte(body))
	}
	Expect(zw.Close()).To(Succeed())
	return buf.Bytes()
}

// uploadBits sends the multipart bits request; it returns status and body.
func (c *Client) UploadBits(app string, resourcesJSON string, zipBytes []byte, async bool) (int, Obj) {
	body := &bytes.Buffer{}
	mw := multipart.NewWriter(body)
	Expect(mw.WriteField("resources", resourcesJSON)).To(Succeed())
	if zipBytes != nil {
		part, err := mw.CreateFormFile("application", "application.zip")
		Expect(err).NotTo(HaveOccurred())
		_, _ = part.Write(zipBytes)
	}
	Expect(mw.Close()).To(Succeed())
	path := "/v2/apps/" + app + "/bits"
	if async {
		path += "?async=true"
	}
	s, b := c.Raw("PUT", path, body, mw.FormDataContentType(), "bearer "+c.Token)
	var out Obj
	if len(b) > 0 {
		Expect(json.Unmarshal(b, &out)).To(Succeed(), string(b))
	}
	c.LastStatus, c.LastResponse = s, out
	return s, out
}

// PushFiles is the CLI's bits step: resource match, then the upload of the
// unmatched files (the matched ones listed in `resources`) and the job poll.
func (c *Client) PushFiles(app string, files map[string]string) {
	match := []Obj{}
	for _, body := range files {
		sum := sha1.Sum([]byte(body))
		match = append(match, Obj{"sha1": hex.EncodeToString(sum[:]), "size": len(body)})
	}
	matched := []Obj{}
	s, b := c.Raw("PUT", "/v2/resource_match", bytes.NewReader(mustJSON(match)), "application/json", "bearer "+c.Token)
	Expect(s).To(Equal(200))
	Expect(json.Unmarshal(b, &matched)).To(Succeed())
	held := map[string]bool{}
	for _, m := range matched {
		held[fmt.Sprintf("%v/%v", m["sha1"], m["size"])] = true
	}
	resources, upload := []Obj{}, map[string]string{}
	for name, body := range files {
		sum := sha1.Sum([]byte(body))
		if !held[fmt.Sprintf("%s/%d", hex.EncodeToString(sum[:]), len(body))] {
			upload[name] = body
			continue
		}
		mode := "0644"
		if strings.HasSuffix(name, ".sh") {
			mode = "0755"
		}
		resources = append(resources, Obj{"fn": name, "sha1": hex.EncodeToString(sum[:]), "size": len(body), "mode": mode})
	}
	var zipped []byte
	if len(upload) > 0 {
		zipped = AppZip(upload)
	}
	c.Matched = len(resources)
	status, job := c.UploadBits(app, string(mustJSON(resources)), zipped, true)
	Expect(status).To(Equal(201), "%v", job)
	Expect(job["metadata"].(Obj)["url"]).To(HavePrefix("/v2/jobs/"))
	j := c.Must(200, "GET", job["metadata"].(Obj)["url"].(string), nil)
	Expect(Entity(j)["status"]).To(Equal("finished"))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return b
}

// Push is `cf push NAME -p DIR -b shell_buildpack` for a new or existing
// app; it returns the app guid once the first instance is RUNNING.
func (c *Client) Push(name string, files map[string]string, waitRunning func(func() bool)) string {
	app := c.FindApp(name)
	var guid string
	if app == nil {
		created := c.Must(201, "POST", "/v2/apps?async=true", Obj{"name": name, "space_guid": c.Space, "buildpack": "shell_buildpack"})
		Expect(Entity(created)["state"]).To(Equal("STOPPED"))
		Expect(Entity(created)["instances"]).To(BeNumerically(">=", 1))
		guid = GuidOf(created)
		c.Must(200, "GET", "/v2/organizations/"+c.Org+"/private_domains", nil)
		domains := c.Must(200, "GET", "/v2/shared_domains", nil)
		domain := Resources(domains)[0].(Obj)
		Expect(Entity(domain)).NotTo(HaveKey("owning_organization_guid"))
		dg := GuidOf(domain)
		routes := c.Must(200, "GET", "/v2/routes?inline-relations-depth=1&q=host%3A"+name+"%3Bdomain_guid%3A"+dg, nil)
		var rg string
		if len(Resources(routes)) == 0 {
			route := c.Must(201, "POST", "/v2/routes?async=true&inline-relations-depth=1", Obj{"host": name, "domain_guid": dg, "space_guid": c.Space})
			Expect(Entity(route)["host"]).To(Equal(name))
			Expect(Entity(Entity(route)["domain"].(Obj))["name"]).To(Equal("apps.localhost"))
			rg = GuidOf(route)
		} else {
			rg = GuidOf(Resources(routes)[0].(Obj))
		}
		c.Must(201, "PUT", "/v2/apps/"+guid+"/routes/"+rg, nil)
		c.PushFiles(guid, files)
		c.StartAndWait(guid, waitRunning)
		return guid
	}
	guid = GuidOf(app)
	c.Must(201, "PUT", "/v2/apps/"+guid+"?async=true&inline-relations-depth=1", Obj{"buildpack": "shell_buildpack"})
	c.PushFiles(guid, files)
	stopped := c.Must(201, "PUT", "/v2/apps/"+guid+"?async=true&inline-relations-depth=1", Obj{"state": "STOPPED"})
	Expect(Entity(stopped)["state"]).To(Equal("STOPPED"))
	c.StartAndWait(guid, waitRunning)
	return guid
}

// startAndWait is the START PUT, the staging poll and the instances poll.
func (c *Client) StartAndWait(guid string, waitRunning func(func() bool)) {
	started := c.Must(201, "PUT", "/v2/apps/"+guid+"?async=true&inline-relations-depth=1", Obj{"state": "STARTED"})
	Expect(Entity(started)["state"]).To(Equal("STARTED"))
	Expect(Entity(started)).To(HaveKey("routes"))
	waitRunning(func() bool {
		app := c.Must(200, "GET", "/v2/apps/"+guid, nil)
		Expect(Entity(app)["package_state"]).NotTo(Equal("FAILED"), "%v", Entity(app)["staging_failed_description"])
		return Entity(app)["package_state"] == "STAGED"
	})
	waitRunning(func() bool {
		s, inst := c.Do("GET", "/v2/apps/"+guid+"/instances", nil)
		if s != 200 {
			Expect(inst["code"]).To(BeNumerically("==", 170002))
			return false
		}
		for _, v := range inst {
			Expect(v.(Obj)["state"]).NotTo(Equal("CRASHED"))
			if v.(Obj)["state"] == "RUNNING" {
				return true
			}
		}
		return false
	})
}

// Apps is `cf apps`.
func (c *Client) Apps() []any {
	sum := c.Must(200, "GET", "/v2/spaces/"+c.Space+"/summary", nil)
	for _, a := range sum["apps"].([]any) {
		ExpectKeys(a.(Obj), "name", "state", "instances", "running_instances", "memory", "disk_quota", "routes", "package_updated_at", "stack_guid")
	}
	return sum["apps"].([]any)
}

// App is `cf app NAME`: summary, instances, stats, stack.
func (c *Client) App(name string) (Obj, Obj, Obj) {
	app := c.FindApp(name)
	Expect(app).NotTo(BeNil())
	guid := GuidOf(app)
	sum := c.Must(200, "GET", "/v2/apps/"+guid+"/summary", nil)
	ExpectKeys(sum, "name", "state", "instances", "running_instances", "memory", "disk_quota", "routes", "package_updated_at", "stack_guid", "available_domains")
	inst := c.Must(200, "GET", "/v2/apps/"+guid+"/instances", nil)
	stats := c.Must(200, "GET", "/v2/apps/"+guid+"/stats", nil)
	n := int(sum["instances"].(float64))
	keys := []string{}
	for i := 0; i < n; i++ {
		keys = append(keys, fmt.Sprint(i))
	}
	Expect(MapKeys(inst)).To(ConsistOf(keys))
	Expect(MapKeys(stats)).To(ConsistOf(keys))
	for _, v := range stats {
		st := v.(Obj)["stats"].(Obj)
		ExpectKeys(st, "mem_quota", "disk_quota", "usage")
		ExpectKeys(st["usage"].(Obj), "cpu", "mem", "disk")
	}
	stack := c.Must(200, "GET", "/v2/stacks/"+sum["stack_guid"].(string), nil)
	ExpectKeys(Entity(stack), "name", "description")
	return sum, inst, stats
}

func MapKeys(o Obj) []string {
	out := []string{}
	for k := range o {
		out = append(out, k)
	}
	return out
}

// Scale is `cf scale NAME -i N`.
func (c *Client) Scale(name string, instances int) Obj {
	guid := GuidOf(c.FindApp(name))
	return c.Must(201, "PUT", "/v2/apps/"+guid+"?async=true&inline-relations-depth=1", Obj{"instances": instances})
}

// Stop is `cf stop NAME`.
func (c *Client) Stop(name string) Obj {
	guid := GuidOf(c.FindApp(name))
	out := c.Must(201, "PUT", "/v2/apps/"+guid+"?async=true&inline-relations-depth=1", Obj{"state": "STOPPED"})
	Expect(Entity(out)["state"]).To(Equal("STOPPED"))
	return out
}

// Start is `cf start NAME`.
func (c *Client) Start(name string, waitRunning func(func() bool)) {
	c.StartAndWait(GuidOf(c.FindApp(name)), waitRunning)
}

// Delete is `cf delete NAME -f`.
func (c *Client) Delete(name string) {
	app := c.FindApp(name)
	Expect(app).NotTo(BeNil())
	s, _ := c.Do("DELETE", "/v2/apps/"+GuidOf(app)+"?async=true&recursive=true", nil)
	Expect(s).To(Equal(204))
}

// Events is `cf events NAME`.
func (c *Client) Events(name string) []any {
	guid := GuidOf(c.FindApp(name))
	evs := c.Must(200, "GET", "/v2/events?order-direction=desc&q=actee%3A"+guid+"&results-per-page=50", nil)
	for _, e := range Resources(evs) {
		ExpectKeys(Entity(e.(Obj)), "type", "actor", "actor_name", "timestamp", "metadata")
	}
	return Resources(evs)
}

// RecentLogs is `cf logs NAME --recent`: the doppler's recentlogs with the
// bearer token; it returns the multipart body.
func (c *Client) RecentLogs(doppler, name string) []byte {
	guid := GuidOf(c.FindApp(name))
	req, err := http.NewRequest("GET", doppler+"/apps/"+guid+"/recentlogs", nil)
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Authorization", "bearer "+c.Token)
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.StatusCode).To(Equal(200), string(body))
	Expect(resp.Header.Get("Content-Type")).To(MatchRegexp(`^multipart/x-protobuf; boundary=.+`))
	return body
}

// LogTail is a live `cf logs NAME`: the doppler's websocket stream.
type LogTail struct {
	conn  *websocket.Conn
	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

// Logs is `cf logs NAME`: the app lookup, then the websocket
// `/apps/:guid/stream` with the bearer token and Origin http://localhost
// (spec cloud-controller.md §10.1); every LogMessage is kept as
// `[SOURCE/INSTANCE] OUT message`. Close ends it.
func (c *Client) Logs(doppler, name string) *LogTail {
	app := c.FindApp(name)
	Expect(app).NotTo(BeNil())
	conn, status := DialStream(doppler, GuidOf(app), "bearer "+c.Token)
	Expect(status).To(Equal(http.StatusSwitchingProtocols))
	t := &LogTail{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var env events.Envelope
			if proto.Unmarshal(b, &env) != nil || env.GetLogMessage() == nil {
				continue
			}
			m := env.GetLogMessage()
			t.mu.Lock()
			t.lines = append(t.lines, fmt.Sprintf("[%s/%s] %s %s", m.GetSourceType(), m.GetSourceInstance(), m.GetMessageType(), m.GetMessage()))
			t.mu.Unlock()
		}
	}()
	return t
}

// Lines are the log lines read so far.
func (t *LogTail) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.lines...)
}

// Close ends the tail as the CLI's Ctrl-C does.
func (t *LogTail) Close() {
	_ = t.conn.Close()
	<-t.done
}

// DialStream opens the doppler's stream of guid as the cf CLI does, with
// the Authorization header auth (none when empty); it returns the
// connection (nil when refused) and the handshake's status.
func DialStream(doppler, guid, auth string) (*websocket.Conn, int) {
	header := http.Header{"Origin": {"http://localhost"}}
	if auth != "" {
		header.Set("Authorization", auth)
	}
	conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(doppler, "http")+"/apps/"+guid+"/stream", header)
	if resp == nil {
		Expect(err).NotTo(HaveOccurred())
	}
	if resp.Body != nil {
		resp.Body.Close()
	}
	return conn, resp.StatusCode
}
