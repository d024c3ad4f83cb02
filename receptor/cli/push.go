package cli

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"diego/metron/client"
)

// The Cloud Controller `diego push` talks to, and its login.
const (
	EnvCC         = "DIEGO_CC"
	EnvCCUser     = "DIEGO_CC_USER"
	EnvCCPassword = "DIEGO_CC_PASSWORD"
	DefaultCC     = "http://127.0.0.1:9022"
)

// ccSession is a logged-in client of the Cloud Controller's v2 API, making
// the calls `cf push` makes (spec cloud-controller.md), for people without
// the cf CLI.
type ccSession struct {
	api, token string
	http       *http.Client
}

func (s *ccSession) call(ctx context.Context, method, path string, body io.Reader, ctype string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, s.api+path, body)
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if s.token != "" {
		req.Header.Set("Authorization", "bearer "+s.token)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode >= 300 {
		var ccErr struct {
			Description string `json:"description"`
			Error       string `json:"error_description"`
		}
		_ = json.Unmarshal(data, &ccErr)
		return fmt.Errorf("%s %s: %d %s%s", method, path, resp.StatusCode, ccErr.Description, ccErr.Error)
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (s *ccSession) jsonCall(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	return s.call(ctx, method, path, body, "application/json", out)
}

type ccResource struct {
	Metadata struct {
		Guid string `json:"guid"`
	} `json:"metadata"`
	Entity struct {
		Name                     string `json:"name"`
		State                    string `json:"state"`
		PackageState             string `json:"package_state"`
		StagingFailedReason      string `json:"staging_failed_reason"`
		StagingFailedDescription string `json:"staging_failed_description"`
	} `json:"entity"`
}

type ccList struct {
	Resources []ccResource `json:"resources"`
}

func (l ccList) first(what string) (string, error) {
	if len(l.Resources) == 0 {
		return "", fmt.Errorf("the Cloud Controller has no %s", what)
	}
	return l.Resources[0].Metadata.Guid, nil
}

// pushCmd creates or updates an app from a directory, uploads the files the
// Cloud Controller does not already hold, starts it while tailing its
// staging logs, and waits for its first running instance: cf push's calls,
// in its order (spec cloud-controller.md §5, §7, §10.1).
func pushCmd(ctx context.Context, a *app, args []string) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	name := fs.String("name", "", "the app's name (required)")
	api := fs.String("cc", orDefault(a.io.Getenv(EnvCC), DefaultCC), "Cloud Controller URL (or $"+EnvCC+")")
	user := fs.String("user", orDefault(a.io.Getenv(EnvCCUser), "admin"), "user (or $"+EnvCCUser+")")
	password := fs.String("cc-password", a.io.Getenv(EnvCCPassword), "password (or $"+EnvCCPassword+"; the launcher prints it)")
	buildpack := fs.String("buildpack", "", "buildpack name (shell_buildpack, binary_buildpack) or URL; empty: detect")
	timeout := fs.Duration("timeout", 3*time.Minute, "how long to wait for staging and the first running instance")
	rest, err := parse(fs, args, 1, 1, "a directory")
	if err != nil {
		return err
	}
	if *name == "" || *password == "" {
		return usageError{"--name and --cc-password (or $" + EnvCCPassword + ") are required"}
	}
	files, err := gatherFiles(rest[0])
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	s := &ccSession{api: strings.TrimSuffix(*api, "/"), http: &http.Client{Timeout: 60 * time.Second}}
	var info struct {
		DopplerLoggingEndpoint string `json:"doppler_logging_endpoint"`
	}
	if err := s.jsonCall(ctx, "GET", "/v2/info", nil, &info); err != nil {
		return err
	}
	if err := s.login(ctx, *user, *password); err != nil {
		return err
	}
	out := a.io.Stdout

	var orgs, spaces, apps ccList
	if err := s.jsonCall(ctx, "GET", "/v2/organizations?order-by=name", nil, &orgs); err != nil {
		return err
	}
	org, err := orgs.first("organization")
	if err != nil {
		return err
	}
	if err := s.jsonCall(ctx, "GET", "/v2/organizations/"+org+"/spaces?order-by=name", nil, &spaces); err != nil {
		return err
	}
	space, err := spaces.first("space")
	if err != nil {
		return err
	}
	if err := s.jsonCall(ctx, "GET", "/v2/spaces/"+space+"/apps?q="+url.QueryEscape("name:"+*name)+"&inline-relations-depth=1", nil, &apps); err != nil {
		return err
	}
	var guid string
	if len(apps.Resources) == 0 {
		fmt.Fprintf(out, "Creating app %s...\n", *name)
		if guid, err = s.createApp(ctx, *name, space, *buildpack); err != nil {
			return err
		}
	} else {
		guid = apps.Resources[0].Metadata.Guid
		fmt.Fprintf(out, "Updating app %s...\n", *name)
		if *buildpack != "" {
			if err := s.jsonCall(ctx, "PUT", "/v2/apps/"+guid+"?async=true&inline-relations-depth=1", map[string]any{"buildpack": *buildpack}, nil); err != nil {
				return err
			}
		}
	}

	if err := s.uploadBits(ctx, out, guid, rest[0], files); err != nil {
		return err
	}
	if len(apps.Resources) > 0 && apps.Resources[0].Entity.State == "STARTED" {
		if err := s.jsonCall(ctx, "PUT", "/v2/apps/"+guid+"?async=true&inline-relations-depth=1", map[string]any{"state": "STOPPED"}, nil); err != nil {
			return err
		}
	}

	// cf start: the staging log tail is connected before the START, so no
	// STG line is missed; it ends once staging has.
	stopTail := s.tailStaging(ctx, a, info.DopplerLoggingEndpoint, guid)
	fmt.Fprintf(out, "Starting %s...\n", *name)
	err = s.jsonCall(ctx, "PUT", "/v2/apps/"+guid+"?async=true&inline-relations-depth=1", map[string]any{"state": "STARTED"}, nil)
	if err == nil {
		err = s.waitStaged(ctx, guid)
	}
	stopTail()
	if err != nil {
		return err
	}
	for {
		var instances map[string]struct {
			State string `json:"state"`
		}
		if err := s.jsonCall(ctx, "GET", "/v2/apps/"+guid+"/instances", nil, &instances); err == nil {
			for _, inst := range instances {
				if inst.State == "CRASHED" {
					return fmt.Errorf("start unsuccessful: an instance of %s crashed", *name)
				}
				if inst.State == "RUNNING" {
					fmt.Fprintf(out, "%s is running: http://%s.apps.localhost:8081/\n", *name, strings.ToLower(*name))
					return nil
				}
			}
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return fmt.Errorf("waiting for a running instance: %w", err)
		}
	}
}

// login is the password grant of `cf login`.
func (s *ccSession) login(ctx context.Context, user, password string) error {
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}, "scope": {""}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.api+"/uaa/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.SetBasicAuth("cf", "")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		hint := ""
		if resp.StatusCode == http.StatusUnauthorized {
			hint = fmt.Sprintf("; set %s to the password the local cluster printed (its env.sh exports it)", EnvCCPassword)
		}
		return fmt.Errorf("logging in to %s as %s: status %d%s", s.api, user, resp.StatusCode, hint)
	}
	s.token = tok.AccessToken
	return nil
}

// createApp creates the app and maps it the route <name>.<first shared
// domain>, creating the route unless it exists.
func (s *ccSession) createApp(ctx context.Context, name, space, buildpack string) (string, error) {
	var created ccResource
	body := map[string]any{"name": name, "space_guid": space}
	if buildpack != "" {
		body["buildpack"] = buildpack
	}
	if err := s.jsonCall(ctx, "POST", "/v2/apps?async=true", body, &created); err != nil {
		return "", err
	}
	guid := created.Metadata.Guid
	var domains, routes ccList
	if err := s.jsonCall(ctx, "GET", "/v2/shared_domains", nil, &domains); err != nil {
		return "", err
	}
	domain, err := domains.first("shared domain")
	if err != nil {
		return "", err
	}
	q := url.QueryEscape("host:" + strings.ToLower(name) + ";domain_guid:" + domain)
	if err := s.jsonCall(ctx, "GET", "/v2/routes?inline-relations-depth=1&q="+q, nil, &routes); err != nil {
		return "", err
	}
	route := ""
	if len(routes.Resources) > 0 {
		route = routes.Resources[0].Metadata.Guid
	} else {
		var r ccResource
		if err := s.jsonCall(ctx, "POST", "/v2/routes?async=true&inline-relations-depth=1",
			map[string]any{"host": strings.ToLower(name), "domain_guid": domain, "space_guid": space}, &r); err != nil {
			return "", err
		}
		route = r.Metadata.Guid
	}
	return guid, s.jsonCall(ctx, "PUT", "/v2/apps/"+guid+"/routes/"+route, nil, nil)
}

// appFile is one regular file of the pushed directory, as resource match
// and the bits upload's `resources` describe it.
type appFile struct {
	Fn   string `json:"fn"`
	Sha1 string `json:"sha1"`
	Size int64  `json:"size"`
	Mode string `json:"mode"`
	path string
	perm fs.FileMode
}

// resource is a resource match entry.
type resource struct {
	Sha1 string `json:"sha1"`
	Size int64  `json:"size"`
}

// uploadBits asks which files the Cloud Controller holds already
// (PUT /v2/resource_match), zips the others, lists the matched ones in
// `resources`, uploads with async=true and polls the job.
func (s *ccSession) uploadBits(ctx context.Context, out io.Writer, guid, dir string, files []appFile) error {
	fingerprints := make([]resource, 0, len(files))
	for _, f := range files {
		fingerprints = append(fingerprints, resource{Sha1: f.Sha1, Size: f.Size})
	}
	var matched []resource
	if err := s.jsonCall(ctx, "PUT", "/v2/resource_match", fingerprints, &matched); err != nil {
		return err
	}
	held := map[resource]bool{}
	for _, m := range matched {
		held[m] = true
	}
	cached, upload := []appFile{}, []appFile{}
	for _, f := range files {
		if held[resource{Sha1: f.Sha1, Size: f.Size}] {
			cached = append(cached, f)
		} else {
			upload = append(upload, f)
		}
	}
	resourcesJSON, err := json.Marshal(cached)
	if err != nil {
		return err
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("resources", string(resourcesJSON))
	size := 0
	if len(upload) > 0 {
		zipped, err := zipFiles(upload)
		if err != nil {
			return fmt.Errorf("zipping %s: %w", dir, err)
		}
		size = len(zipped)
		part, _ := mw.CreateFormFile("application", "application.zip")
		_, _ = part.Write(zipped)
	}
	_ = mw.Close()
	fmt.Fprintf(out, "Uploading %s: %d file(s), %d already on the Cloud Controller, %d zipped (%d bytes)...\n",
		dir, len(files), len(cached), len(upload), size)
	var job struct {
		Metadata struct {
			URL string `json:"url"`
		} `json:"metadata"`
		Entity struct {
			Status       string `json:"status"`
			ErrorDetails struct {
				Description string `json:"description"`
			} `json:"error_details"`
		} `json:"entity"`
	}
	if err := s.call(ctx, "PUT", "/v2/apps/"+guid+"/bits?async=true", &body, mw.FormDataContentType(), &job); err != nil {
		return err
	}
	for job.Entity.Status != "finished" {
		if job.Entity.Status == "failed" {
			return fmt.Errorf("uploading %s: %s", dir, job.Entity.ErrorDetails.Description)
		}
		if job.Metadata.URL == "" {
			return fmt.Errorf("uploading %s: the Cloud Controller answered no job", dir)
		}
		if err := s.jsonCall(ctx, "GET", job.Metadata.URL, nil, &job); err != nil {
			return err
		}
		if job.Entity.Status != "finished" {
			if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
				return fmt.Errorf("waiting for the upload job: %w", err)
			}
		}
	}
	return nil
}

// tailStaging streams the app's logs from the doppler, with the bearer
// token and the Origin the cf CLI sends, printing the STG lines; the
// function it returns stops the tail once every line read is printed. A
// tail that cannot connect is a warning, as in the cf CLI: staging goes on.
func (s *ccSession) tailStaging(ctx context.Context, a *app, endpoint, guid string) func() {
	warn := func(err error) func() {
		fmt.Fprintf(a.io.Stderr, "Warning: error tailing the staging logs: %v\n", err)
		return func() {}
	}
	if endpoint == "" {
		return warn(fmt.Errorf("the Cloud Controller advertises no doppler_logging_endpoint"))
	}
	httpURL := "http" + strings.TrimPrefix(endpoint, "ws")
	c, err := client.New(client.Config{URL: httpURL, Authorization: "bearer " + s.token, Origin: "http://localhost"})
	if err != nil {
		return warn(err)
	}
	tctx, cancel := context.WithCancel(ctx)
	envs, errs, err := c.Stream(tctx, guid)
	if err != nil {
		cancel()
		return warn(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for env := range envs {
			if m := env.GetLogMessage(); m != nil && m.GetSourceType() == "STG" {
				fmt.Fprintln(a.io.Stdout, strings.TrimRight(string(m.GetMessage()), "\n"))
			}
		}
		<-errs
	}()
	return func() { cancel(); <-done }
}

// waitStaged polls the app until staging ends (cf start's staging poll).
func (s *ccSession) waitStaged(ctx context.Context, guid string) error {
	for {
		var app ccResource
		if err := s.jsonCall(ctx, "GET", "/v2/apps/"+guid, nil, &app); err != nil {
			return err
		}
		switch app.Entity.PackageState {
		case "FAILED":
			return fmt.Errorf("staging failed: %s: %s", app.Entity.StagingFailedReason, app.Entity.StagingFailedDescription)
		case "STAGED":
			return nil
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return fmt.Errorf("waiting for staging: %w", err)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// gatherFiles lists the regular files under dir with their sha1, size and
// mode (`%#o`, as the cf CLI writes it), sorted by path.
func gatherFiles(dir string) ([]appFile, error) {
	var files []appFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha1.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return err
		}
		files = append(files, appFile{Fn: filepath.ToSlash(rel), Sha1: hex.EncodeToString(h.Sum(nil)), Size: n,
			Mode: fmt.Sprintf("%#o", info.Mode().Perm()), path: p, perm: info.Mode().Perm()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s has no files to push", dir)
	}
	return files, nil
}

// zipFiles zips files with their modes.
func zipFiles(files []appFile) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, file := range files {
		hdr := &zip.FileHeader{Name: file.Fn, Method: zip.Deflate}
		hdr.SetMode(file.perm)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return nil, err
		}
		f, err := os.Open(file.path)
		if err != nil {
			return nil, err
		}
		_, err = io.Copy(w, f)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
