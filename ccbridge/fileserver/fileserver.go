// Package fileserver is the file-server (spec bridge.md §5, §9.2): it
// serves the static directory (lifecycle bundles, buildpacks) to the cells
// with ETag and Last-Modified, and turns the executor's plain upload POSTs
// into CC's multipart uploads, polling CC's job for droplets.
package fileserver

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"diego/deploy/clock"
	"diego/deploy/routes"
)

// Route names and the static prefix.
const (
	UploadDropletRoute        = "UploadDroplet"
	UploadBuildArtifactsRoute = "UploadBuildArtifacts"
	// StaticPrefix serves <static_directory>/<path> at /v1/static/<path>.
	StaticPrefix = "/v1/static/"

	DropletUploadURIParam        = "cc-droplet-upload-uri"
	BuildArtifactsUploadURIParam = "cc-build-artifacts-upload-uri"
	TimeoutParam                 = "timeout"
	// DefaultUploadTimeout applies when the query has no timeout.
	DefaultUploadTimeout = 300 * time.Second
)

// Routes are the upload routes (§5.2); the static files are everything
// under StaticPrefix.
var Routes = routes.Table{
	{Name: UploadDropletRoute, Method: http.MethodPost, Path: "/v1/droplet/:guid"},
	{Name: UploadBuildArtifactsRoute, Method: http.MethodPost, Path: "/v1/build_artifacts/:app_guid"},
}

// Config is what the server needs from its daemon's config.
type Config struct {
	StaticDirectory      string
	CCJobPollingInterval time.Duration
	CommunicationTimeout time.Duration
	SkipCertVerify       bool
}

// Deps are the server's collaborators.
type Deps struct {
	Logger *slog.Logger
	Clock  clock.Clock
	// CC makes the uploads; nil means a client from the config.
	CC *http.Client
}

// New builds the file-server's handler.
func New(cfg Config, deps Deps) (http.Handler, error) {
	if deps.CC == nil {
		deps.CC = newCCClient(cfg)
	}
	up := &uploader{cfg: cfg, deps: deps}
	api, err := routes.NewRouter(Routes, map[string]http.Handler{
		UploadDropletRoute:        http.HandlerFunc(up.droplet),
		UploadBuildArtifactsRoute: http.HandlerFunc(up.buildArtifacts),
	})
	if err != nil {
		return nil, err
	}
	static := newStatic(cfg.StaticDirectory)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, StaticPrefix) {
			static.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	}), nil
}
