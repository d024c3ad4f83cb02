package cli

import (
	"archive/zip"
	"bytes"
	"context"
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

// pushCmd creates or updates an app from a directory, uploads it, starts
// it and waits for its first running instance.
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
	zipped, err := zipDir(rest[0])
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	s := &ccSession{api: strings.TrimSuffix(*api, "/"), http: &http.Client{Timeout: 60 * time.Second}}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	form := url.Values{"grant_type": {"password"}, "username": {*user}, "password": {*password}}
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
		return fmt.Errorf("logging in to %s as %s: status %d", s.api, *user, resp.StatusCode)
	}
	s.token = tok.AccessToken
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
		var created ccResource
		body := map[string]any{"name": *name, "space_guid": space}
		if *buildpack != "" {
			body["buildpack"] = *buildpack
		}
		if err := s.jsonCall(ctx, "POST", "/v2/apps?async=true", body, &created); err != nil {
			return err
		}
		guid = created.Metadata.Guid
		var domains, routes ccList
		if err := s.jsonCall(ctx, "GET", "/v2/shared_domains", nil, &domains); err != nil {
			return err
		}
		domain, err := domains.first("shared domain")
		if err != nil {
			return err
		}
		q := url.QueryEscape("host:" + strings.ToLower(*name) + ";domain_guid:" + domain)
		if err := s.jsonCall(ctx, "GET", "/v2/routes?inline-relations-depth=1&q="+q, nil, &routes); err != nil {
			return err
		}
		route := ""
		if len(routes.Resources) > 0 {
			route = routes.Resources[0].Metadata.Guid
		} else {
			var r ccResource
			if err := s.jsonCall(ctx, "POST", "/v2/routes?async=true&inline-relations-depth=1",
				map[string]any{"host": strings.ToLower(*name), "domain_guid": domain, "space_guid": space}, &r); err != nil {
				return err
			}
			route = r.Metadata.Guid
		}
		if err := s.jsonCall(ctx, "PUT", "/v2/apps/"+guid+"/routes/"+route, nil, nil); err != nil {
			return err
		}
	} else {
		guid = apps.Resources[0].Metadata.Guid
		fmt.Fprintf(out, "Updating app %s...\n", *name)
		if *buildpack != "" {
			if err := s.jsonCall(ctx, "PUT", "/v2/apps/"+guid+"?async=true", map[string]any{"buildpack": *buildpack}, nil); err != nil {
				return err
			}
		}
	}

	fmt.Fprintf(out, "Uploading %s (%d bytes)...\n", rest[0], len(zipped))
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("resources", "[]")
	part, _ := mw.CreateFormFile("application", "application.zip")
	_, _ = part.Write(zipped)
	_ = mw.Close()
	if err := s.call(ctx, "PUT", "/v2/apps/"+guid+"/bits", &body, mw.FormDataContentType(), nil); err != nil {
		return err
	}
	if len(apps.Resources) > 0 && apps.Resources[0].Entity.State == "STARTED" {
		if err := s.jsonCall(ctx, "PUT", "/v2/apps/"+guid+"?async=true", map[string]any{"state": "STOPPED"}, nil); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "Starting %s...\n", *name)
	if err := s.jsonCall(ctx, "PUT", "/v2/apps/"+guid+"?async=true", map[string]any{"state": "STARTED"}, nil); err != nil {
		return err
	}
	for {
		var app ccResource
		if err := s.jsonCall(ctx, "GET", "/v2/apps/"+guid, nil, &app); err != nil {
			return err
		}
		if app.Entity.PackageState == "FAILED" {
			return fmt.Errorf("staging failed: %s: %s", app.Entity.StagingFailedReason, app.Entity.StagingFailedDescription)
		}
		if app.Entity.PackageState == "STAGED" {
			break
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return fmt.Errorf("waiting for staging: %w", err)
		}
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

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// zipDir zips the regular files under dir with their modes.
func zipDir(dir string) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
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
		hdr := &zip.FileHeader{Name: filepath.ToSlash(rel), Method: zip.Deflate}
		hdr.SetMode(info.Mode().Perm())
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("zipping %s: %w", dir, err)
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
