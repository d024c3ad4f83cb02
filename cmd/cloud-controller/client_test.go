package main_test

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

	. "github.com/onsi/gomega"
)

// cfClient makes the cf CLI v6's calls (spec cloud-controller.md), one
// method per command, and asserts the fields the CLI requires.
type cfClient struct {
	api          string
	token        string
	refresh      string
	org, space   string
	calls        []string
	lastStatus   int
	lastResponse map[string]any
}

type obj = map[string]any

func (c *cfClient) raw(method, path string, body io.Reader, ctype string, auth string) (int, []byte) {
	req, err := http.NewRequest(method, c.api+path, body)
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
	c.calls = append(c.calls, method+" "+path)
	return resp.StatusCode, b
}

// do sends JSON with the bearer token and decodes the answer.
func (c *cfClient) do(method, path string, body any) (int, obj) {
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
	status, b := c.raw(method, path, r, "application/json", "bearer "+c.token)
	var out obj
	if len(b) > 0 {
		Expect(json.Unmarshal(b, &out)).To(Succeed(), string(b))
	}
	c.lastStatus, c.lastResponse = status, out
	return status, out
}

func (c *cfClient) must(status int, method, path string, body any) obj {
	s, out := c.do(method, path, body)
	ExpectWithOffset(1, s).To(Equal(status), "%s %s: %v", method, path, out)
	return out
}

func entity(o obj) obj    { return o["entity"].(obj) }
func guidOf(o obj) string { return o["metadata"].(obj)["guid"].(string) }
func resources(o obj) []any {
	return o["resources"].([]any)
}

func expectKeys(o obj, keys ...string) {
	for _, k := range keys {
		ExpectWithOffset(1, o).To(HaveKey(k))
	}
}

// cf api
func (c *cfClient) API() obj {
	s, b := c.raw("GET", "/v2/info", nil, "", "")
	Expect(s).To(Equal(200))
	var info obj
	Expect(json.Unmarshal(b, &info)).To(Succeed())
	Expect(info["api_version"]).To(Equal("2.54.0"))
	Expect(info["authorization_endpoint"]).To(Equal(c.api + "/uaa"))
	Expect(info["doppler_logging_endpoint"]).To(BeAssignableToTypeOf(""))
	return info
}

// cf login -u admin -p PASSWORD (then auto-targets the one org and space)
func (c *cfClient) Login(user, password string) {
	c.API()
	s, b := c.raw("GET", "/uaa/login", nil, "", "")
	Expect(s).To(Equal(200))
	var login obj
	Expect(json.Unmarshal(b, &login)).To(Succeed())
	prompts := login["prompts"].(obj)
	Expect(prompts["username"]).To(Equal([]any{"text", "Username"}))
	Expect(prompts["password"]).To(Equal([]any{"password", "Password"}))
	tok := c.tokenRequest(url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}, "scope": {""}})
	Expect(tok).To(HaveKey("access_token"))
	Expect(tok["token_type"]).To(Equal("bearer"))
	Expect(tok).NotTo(HaveKey("error"))
	c.token, c.refresh = tok["access_token"].(string), tok["refresh_token"].(string)

	orgs := c.must(200, "GET", "/v2/organizations?order-by=name", nil)
	Expect(resources(orgs)).To(HaveLen(1))
	org := resources(orgs)[0].(obj)
	Expect(entity(org)["name"]).To(Equal("diego"))
	c.org = guidOf(org)
	spaces := c.must(200, "GET", "/v2/organizations/"+c.org+"/spaces?order-by=name&inline-relations-depth=1", nil)
	Expect(resources(spaces)).To(HaveLen(1))
	space := resources(spaces)[0].(obj)
	expectKeys(entity(space), "name", "allow_ssh")
	c.space = guidOf(space)
}

func (c *cfClient) tokenRequest(form url.Values) obj {
	req, err := http.NewRequest("POST", c.api+"/uaa/oauth/token", strings.NewReader(form.Encode()))
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic Y2Y6")
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	c.lastStatus = resp.StatusCode
	var out obj
	Expect(json.NewDecoder(resp.Body).Decode(&out)).To(Succeed())
	return out
}

// cf target -o diego -s dev
func (c *cfClient) Target(org, space string) {
	orgs := c.must(200, "GET", "/v2/organizations?q=name%3A"+url.QueryEscape(strings.ToLower(org))+"&inline-relations-depth=1", nil)
	Expect(resources(orgs)).To(HaveLen(1))
	c.org = guidOf(resources(orgs)[0].(obj))
	spaces := c.must(200, "GET", "/v2/organizations/"+c.org+"/spaces?q=name%3A"+url.QueryEscape(strings.ToLower(space))+"&inline-relations-depth=1", nil)
	Expect(resources(spaces)).To(HaveLen(1))
	c.space = guidOf(resources(spaces)[0].(obj))
}

// findApp is every app command's lookup; nil when absent.
func (c *cfClient) findApp(name string) obj {
	list := c.must(200, "GET", "/v2/spaces/"+c.space+"/apps?q=name%3A"+url.QueryEscape(name)+"&inline-relations-depth=1", nil)
	if len(resources(list)) == 0 {
		return nil
	}
	app := resources(list)[0].(obj)
	e := entity(app)
	expectKeys(e, "name", "space_guid", "stack_guid", "state", "instances", "memory", "disk_quota", "command",
		"detected_start_command", "buildpack", "detected_buildpack", "package_state", "staging_failed_reason",
		"staging_failed_description", "package_updated_at", "environment_json", "routes", "stack")
	return app
}

// appZip zips files (name → content), run.sh executable.
func appZip(files map[string]string) []byte {
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
func (c *cfClient) uploadBits(app string, resourcesJSON string, zipBytes []byte, async bool) (int, obj) {
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
	s, b := c.raw("PUT", path, body, mw.FormDataContentType(), "bearer "+c.token)
	var out obj
	if len(b) > 0 {
		Expect(json.Unmarshal(b, &out)).To(Succeed(), string(b))
	}
	c.lastStatus, c.lastResponse = s, out
	return s, out
}

// pushFiles is the CLI's bits step: resource match, then upload and job poll.
func (c *cfClient) pushFiles(app string, files map[string]string) {
	var match []obj
	for _, body := range files {
		sum := sha1.Sum([]byte(body))
		match = append(match, obj{"sha1": hex.EncodeToString(sum[:]), "size": len(body)})
	}
	matched := []any{}
	s, b := c.raw("PUT", "/v2/resource_match", bytes.NewReader(mustJSON(match)), "application/json", "bearer "+c.token)
	Expect(s).To(Equal(200))
	Expect(json.Unmarshal(b, &matched)).To(Succeed())
	status, job := c.uploadBits(app, "[]", appZip(files), true)
	Expect(status).To(Equal(201), "%v", job)
	Expect(job["metadata"].(obj)["url"]).To(HavePrefix("/v2/jobs/"))
	j := c.must(200, "GET", job["metadata"].(obj)["url"].(string), nil)
	Expect(entity(j)["status"]).To(Equal("finished"))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return b
}

// Push is `cf push NAME -p DIR -b shell_buildpack` for a new or existing
// app; it returns the app guid once the first instance is RUNNING.
func (c *cfClient) Push(name string, files map[string]string, waitRunning func(func() bool)) string {
	app := c.findApp(name)
	var guid string
	if app == nil {
		created := c.must(201, "POST", "/v2/apps?async=true", obj{"name": name, "space_guid": c.space, "buildpack": "shell_buildpack"})
		Expect(entity(created)["state"]).To(Equal("STOPPED"))
		Expect(entity(created)["instances"]).To(BeNumerically(">=", 1))
		guid = guidOf(created)
		c.must(200, "GET", "/v2/organizations/"+c.org+"/private_domains", nil)
		domains := c.must(200, "GET", "/v2/shared_domains", nil)
		domain := resources(domains)[0].(obj)
		Expect(entity(domain)).NotTo(HaveKey("owning_organization_guid"))
		dg := guidOf(domain)
		routes := c.must(200, "GET", "/v2/routes?inline-relations-depth=1&q=host%3A"+name+"%3Bdomain_guid%3A"+dg, nil)
		var rg string
		if len(resources(routes)) == 0 {
			route := c.must(201, "POST", "/v2/routes?async=true&inline-relations-depth=1", obj{"host": name, "domain_guid": dg, "space_guid": c.space})
			Expect(entity(route)["host"]).To(Equal(name))
			Expect(entity(entity(route)["domain"].(obj))["name"]).To(Equal("apps.localhost"))
			rg = guidOf(route)
		} else {
			rg = guidOf(resources(routes)[0].(obj))
		}
		c.must(201, "PUT", "/v2/apps/"+guid+"/routes/"+rg, nil)
		c.pushFiles(guid, files)
		c.startAndWait(guid, waitRunning)
		return guid
	}
	guid = guidOf(app)
	c.must(201, "PUT", "/v2/apps/"+guid+"?async=true&inline-relations-depth=1", obj{"buildpack": "shell_buildpack"})
	c.pushFiles(guid, files)
	stopped := c.must(201, "PUT", "/v2/apps/"+guid+"?async=true&inline-relations-depth=1", obj{"state": "STOPPED"})
	Expect(entity(stopped)["state"]).To(Equal("STOPPED"))
	c.startAndWait(guid, waitRunning)
	return guid
}

// startAndWait is the START PUT, the staging poll and the instances poll.
func (c *cfClient) startAndWait(guid string, waitRunning func(func() bool)) {
	started := c.must(201, "PUT", "/v2/apps/"+guid+"?async=true&inline-relations-depth=1", obj{"state": "STARTED"})
	Expect(entity(started)["state"]).To(Equal("STARTED"))
	Expect(entity(started)).To(HaveKey("routes"))
	waitRunning(func() bool {
		app := c.must(200, "GET", "/v2/apps/"+guid, nil)
		Expect(entity(app)["package_state"]).NotTo(Equal("FAILED"), "%v", entity(app)["staging_failed_description"])
		return entity(app)["package_state"] == "STAGED"
	})
	waitRunning(func() bool {
		s, inst := c.do("GET", "/v2/apps/"+guid+"/instances", nil)
		if s != 200 {
			Expect(inst["code"]).To(BeNumerically("==", 170002))
			return false
		}
		for _, v := range inst {
			Expect(v.(obj)["state"]).NotTo(Equal("CRASHED"))
			if v.(obj)["state"] == "RUNNING" {
				return true
			}
		}
		return false
	})
}

// Apps is `cf apps`.
func (c *cfClient) Apps() []any {
	sum := c.must(200, "GET", "/v2/spaces/"+c.space+"/summary", nil)
	for _, a := range sum["apps"].([]any) {
		expectKeys(a.(obj), "name", "state", "instances", "running_instances", "memory", "disk_quota", "routes", "package_updated_at", "stack_guid")
	}
	return sum["apps"].([]any)
}

// App is `cf app NAME`: summary, instances, stats, stack.
func (c *cfClient) App(name string) (obj, obj, obj) {
	app := c.findApp(name)
	Expect(app).NotTo(BeNil())
	guid := guidOf(app)
	sum := c.must(200, "GET", "/v2/apps/"+guid+"/summary", nil)
	expectKeys(sum, "name", "state", "instances", "running_instances", "memory", "disk_quota", "routes", "package_updated_at", "stack_guid", "available_domains")
	inst := c.must(200, "GET", "/v2/apps/"+guid+"/instances", nil)
	stats := c.must(200, "GET", "/v2/apps/"+guid+"/stats", nil)
	n := int(sum["instances"].(float64))
	keys := []string{}
	for i := 0; i < n; i++ {
		keys = append(keys, fmt.Sprint(i))
	}
	Expect(mapKeys(inst)).To(ConsistOf(keys))
	Expect(mapKeys(stats)).To(ConsistOf(keys))
	for _, v := range stats {
		st := v.(obj)["stats"].(obj)
		expectKeys(st, "mem_quota", "disk_quota", "usage")
		expectKeys(st["usage"].(obj), "cpu", "mem", "disk")
	}
	stack := c.must(200, "GET", "/v2/stacks/"+sum["stack_guid"].(string), nil)
	expectKeys(entity(stack), "name", "description")
	return sum, inst, stats
}

func mapKeys(o obj) []string {
	out := []string{}
	for k := range o {
		out = append(out, k)
	}
	return out
}

// Scale is `cf scale NAME -i N`.
func (c *cfClient) Scale(name string, instances int) obj {
	guid := guidOf(c.findApp(name))
	return c.must(201, "PUT", "/v2/apps/"+guid+"?async=true&inline-relations-depth=1", obj{"instances": instances})
}

// Stop is `cf stop NAME`.
func (c *cfClient) Stop(name string) obj {
	guid := guidOf(c.findApp(name))
	out := c.must(201, "PUT", "/v2/apps/"+guid+"?async=true&inline-relations-depth=1", obj{"state": "STOPPED"})
	Expect(entity(out)["state"]).To(Equal("STOPPED"))
	return out
}

// Start is `cf start NAME`.
func (c *cfClient) Start(name string, waitRunning func(func() bool)) {
	c.startAndWait(guidOf(c.findApp(name)), waitRunning)
}

// Delete is `cf delete NAME -f`.
func (c *cfClient) Delete(name string) {
	app := c.findApp(name)
	Expect(app).NotTo(BeNil())
	s, _ := c.do("DELETE", "/v2/apps/"+guidOf(app)+"?async=true&recursive=true", nil)
	Expect(s).To(Equal(204))
}

// Events is `cf events NAME`.
func (c *cfClient) Events(name string) []any {
	guid := guidOf(c.findApp(name))
	evs := c.must(200, "GET", "/v2/events?order-direction=desc&q=actee%3A"+guid+"&results-per-page=50", nil)
	for _, e := range resources(evs) {
		expectKeys(entity(e.(obj)), "type", "actor", "actor_name", "timestamp", "metadata")
	}
	return resources(evs)
}
